"""Account pages: register, sign in and out, password reset, profile, e-mail and password changes."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from accounts import forms, services, verification
from amanah.extensions import db, limiter
from amanah.i18n import LOCALE_COOKIE, current_locale
from amanah.links import safe_next

bp = Blueprint("accounts", __name__)

# Per address and per account: guessing a password from many addresses still hits the second.
LOGIN_LIMIT = "10 per minute; 100 per hour"
LOGIN_ACCOUNT_LIMIT = "20 per hour"
RESET_REQUEST_LIMIT = "5 per minute; 20 per hour"
RESET_ACCOUNT_LIMIT = "5 per hour"  # also keeps anyone from flooding a stranger's inbox
REAUTH_LIMIT = "10 per minute; 50 per hour"
REGISTER_LIMIT = "10 per minute; 50 per hour"
VERIFY_RESEND_LIMIT = "3 per 10 minutes; 10 per day"  # per account: nobody floods an inbox with links
INVALID = 422  # a submitted form with errors


def _submitted_email() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def _start_session(user, remember: bool) -> None:
    """Sign `user` in on a brand-new session, so nothing planted in the old one carries over."""
    language = session.get(LOCALE_COOKIE)
    session.clear()
    if language:
        session[LOCALE_COOKIE] = language  # a language picked a moment ago is a choice, not state
    login_user(user, remember=remember)


def show_errors(form, error: services.AccountError) -> None:
    """Put a service's refusal next to the fields it is about."""
    for name, messages in error.errors.items():
        field = form._fields.get(name)
        if field is None:
            form.form_errors.extend(str(message) for message in messages)
        else:
            field.errors = [*field.errors, *(str(message) for message in messages)]


def _render(template: str, form, **context):
    status = INVALID if request.method == "POST" and (form.errors or form.form_errors) else 200
    return render_template(template, form=form, **context), status


@bp.route("/account/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_LIMIT, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = forms.RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(form.email.data, form.display_name.data, form.password.data,
                                          preferred_language=current_locale())
        except services.AccountError as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            _start_session(user, remember=False)
            flash(_("Welcome to Amanah, %(name)s. Your account is ready. We sent a link to %(email)s: "
                    "open it to confirm your address, and gifts you made with it as a guest will join "
                    "your account.", name=user.display_name, email=user.email), "success")
            return redirect(url_for("accounts.profile"), 303)
    return _render("accounts/register.html", form)


@bp.route("/account/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
@limiter.limit(LOGIN_ACCOUNT_LIMIT, methods=["POST"], key_func=_submitted_email)
def login():
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target or url_for("main.home"))
    form = forms.LoginForm(next=target or "")
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        db.session.commit()  # a rehashed password and the time of this sign-in
        if user is not None:
            _start_session(user, remember=form.remember.data)
            flash(_("Welcome back, %(name)s.", name=user.display_name), "success")
            return redirect(target or url_for("main.home"), 303)
        # One message for an unknown address and a wrong password: it tells nobody who has an account.
        form.form_errors.append(_("That e-mail address and password do not match an account."))
    return _render("accounts/login.html", form)


@bp.post("/account/logout")
def logout():
    language = session.get(LOCALE_COOKIE)
    logout_user()
    session.clear()
    if language:
        session[LOCALE_COOKIE] = language
    flash(_("You have signed out."), "success")
    return redirect(url_for("main.home"), 303)


@bp.route("/account/password/forgot", methods=["GET", "POST"])
@limiter.limit(RESET_REQUEST_LIMIT, methods=["POST"])
@limiter.limit(RESET_ACCOUNT_LIMIT, methods=["POST"], key_func=_submitted_email)
def forgot_password():
    form = forms.ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(_("If an account uses %(email)s, we have sent it a link to choose a new password. "
                "The link works for one hour.", email=form.email.data.strip()), "success")
        return redirect(url_for("accounts.login"), 303)
    return _render("accounts/forgot_password.html", form)


@bp.route("/account/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(REAUTH_LIMIT, methods=["POST"])
def reset_password(token: str):
    try:
        user = services.user_for_reset_token(token)
    except services.AccountError as exc:
        return render_template("accounts/reset_invalid.html", message=str(exc)), 400
    form = forms.ResetPasswordForm(email=user.email)
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.AccountError as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Your password has been changed. Sign in with your new password."), "success")
            return redirect(url_for("accounts.login"), 303)
    return _render("accounts/reset_password.html", form, user=user)


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = current_user._get_current_object()
    form = forms.ProfileForm(obj=user)
    if not form.is_submitted():
        form.npwp.data = services.format_npwp(user.npwp)
    if form.validate_on_submit():
        try:
            services.update_profile(user, form.display_name.data, form.preferred_language.data,
                                    form.npwp.data, form.nik.data)
        except services.AccountError as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            response = redirect(url_for("accounts.profile"), 303)
            if user.preferred_language:
                _remember_language(response, user.preferred_language)
            with force_locale(user.preferred_language or current_locale()):
                flash(_("Your profile has been saved."), "success")
            return response
    return _render("accounts/profile.html", form, user=user)


def _remember_language(response, language: str) -> None:
    # The profile's language becomes this session's choice and the device's, as the switch does.
    session[LOCALE_COOKIE] = language
    response.set_cookie(LOCALE_COOKIE, language, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
@limiter.limit(REAUTH_LIMIT, methods=["POST"])
def change_email():
    user = current_user._get_current_object()
    form = forms.ChangeEmailForm()
    if form.validate_on_submit():
        try:
            services.change_email(user, form.password.data, form.email.data)
        except services.AccountError as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Your e-mail address is now %(email)s. We told your previous address about the "
                    "change, and sent a link to the new one: open it to confirm the address.",
                    email=user.email), "success")
            return redirect(url_for("accounts.profile"), 303)
    return _render("accounts/change_email.html", form, user=user)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(REAUTH_LIMIT, methods=["POST"])
def change_password():
    user = current_user._get_current_object()
    form = forms.ChangePasswordForm(email=user.email)
    if form.validate_on_submit():
        try:
            services.change_password(user, form.current_password.data, form.password.data)
        except services.AccountError as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            # The new session_version ended every session; this one starts afresh, keeping remember-me.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            _start_session(user, remember=remembered)
            flash(_("Your password has been changed. You have been signed out everywhere else."),
                  "success")
            return redirect(url_for("accounts.profile"), 303)
    return _render("accounts/change_password.html", form, user=user)


def _signed_in_account() -> str:
    return f"verify-resend:{current_user.get_id()}"


@bp.post("/account/email/verify")
@login_required
@limiter.limit(VERIFY_RESEND_LIMIT, key_func=_signed_in_account)
def resend_verification():
    user = current_user._get_current_object()  # CSRFProtect has checked the form's token
    if user.email_verified:
        flash(_("Your e-mail address %(email)s is already confirmed.", email=user.email), "success")
    else:
        verification.send_verification(user)
        db.session.commit()
        flash(_("We sent a new link to %(email)s. It works for seven days.", email=user.email), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.profile"), 303)


@bp.route("/account/email/verify/<token>", methods=["GET", "POST"])
@limiter.limit(REAUTH_LIMIT, methods=["POST"])
def verify_email(token: str):
    """GET shows a button, POST verifies: a mail scanner that fetches links proves nothing."""
    try:
        user = verification.user_for_token(token)
    except verification.VerificationError as exc:
        return render_template("accounts/verify_invalid.html", message=str(exc)), 400
    if request.method == "POST":  # CSRFProtect has checked the form's token
        verification.verify(token)
        db.session.commit()
        flash(_("Thank you: %(email)s is confirmed. Gifts you made with it as a guest are now in your "
                "donations.", email=user.email), "success")
        if current_user.is_authenticated and current_user.id == user.id:
            return redirect(url_for("giving.mine"), 303)
        return redirect(url_for("accounts.login"), 303)
    return render_template("accounts/verify_email.html", user=user)
