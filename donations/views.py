"""Giving pages: the sandbox checkout and a guest's view of a donation. Thin: parse, call, render."""
from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from accounts.permissions import Action, can
from amanah import i18n
from amanah.extensions import db, limiter
from amanah.i18n import current_locale, format_wib
from amanah.money import MoneyError
from campaigns import services as campaign_services
from campaigns.lifecycle import Status
from donations import dashboard, forms, giving, methods
from donations.fees import fee_to_cover
from donations.gateway import GatewayError
from donations.issuing import issuer
from donations.models import Donation, DonationStatus
from donations.providers import gateway_named, get_gateway, in_process_events, is_sandbox
from organizations.services import format_npwp

bp = Blueprint("giving", __name__)


@bp.route("/give/sandbox/<checkout_id>", methods=["GET", "POST"])
def sandbox_checkout(checkout_id: str):
    if not is_sandbox():
        abort(404)
    gateway = get_gateway()
    session = gateway.open_session(checkout_id)
    if session is None:
        abort(404)
    form = FlaskForm()
    if request.method == "POST" and form.validate_on_submit():
        choice = request.form.get("choice")
        if choice not in ("pay", "fail"):
            abort(400)
        try:
            event = gateway.pay(checkout_id) if choice == "pay" else gateway.fail(checkout_id)
        except GatewayError:
            # Paid or failed already. If that answer's confirmation was lost (a worker killed, the
            # database restarted), the donor's second click delivers it now instead of a dead end.
            db.session.rollback()
            lost = gateway.undelivered_events_of(checkout_id)
            if not lost:
                abort(409)
            event = lost[-1]
        else:
            db.session.commit()
            gateway.take_events()
        giving.handle_event(event, gateway)
        paid = event["type"] == "checkout.session.completed"
        return redirect(session["success_url"] if paid else session["cancel_url"], code=303)
    method = methods.method_named(session.get("payment_method"))
    qr = segno.make(session["sandbox_qr_string"], error="m").svg_inline(scale=5, title=_("QRIS code")) \
        if session.get("sandbox_qr_string") else None
    return render_template("donations/sandbox_checkout.html", session=session, form=form, method=method,
                           qr=qr)


@bp.get("/donations/view/<token>")
def guest_view(token: str):
    donation = dashboard.donation_from_token(token)
    if donation is None:
        abort(404)
    documents = [(d.serial, d.kind, url_for("documents.guest_document", token=token, serial=d.serial))
                 for d in issuer().documents_of(donation.id)]
    return render_template("donations/dashboard_donation.html", donation=donation, documents=documents)


def _open_campaign(public_id: str):
    campaign = campaign_services.get_by_public_id(public_id)
    if campaign is None or campaign.status != Status.PUBLISHED:
        abort(404)
    return campaign


@bp.route("/campaigns/<public_id>/give", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def give(public_id: str):
    campaign = _open_campaign(public_id)
    draft_key = f"give:{campaign.public_id}"
    # The payment provider sends a donor who cancelled (or whose payment failed) back here, to the
    # form as they filled it in.
    cancelled = request.method == "GET" and request.args.get("cancelled") == "1"
    form = forms.DonateForm(data=session.get(draft_key) if cancelled else None)
    forms.set_choices(form, campaign.currency)
    user = current_user if current_user.is_authenticated else None
    if request.method == "GET" and user is not None:
        form.name.data, form.email.data = user.display_name, user.email
        form.npwp.data = format_npwp(user.npwp) if user.npwp else None
    if not form.is_submitted():
        return render_template("donations/give.html", campaign=campaign, form=form, user=user,
                               cancelled=cancelled)
    # Every rule runs, so a donor sees all that needs correcting at once, each next to its field.
    valid = form.validate()
    amount = forms.clean_amount(form, campaign.currency)
    method = forms.clean_method(form, campaign.currency)
    guest_ok = user is not None or forms.clean_guest(form)
    if not valid or amount is None or method is None or not guest_ok:
        return render_template("donations/give.html", campaign=campaign, form=form, user=user), 422
    if request.form.get("change"):  # back from the confirm step, with what was entered kept
        return render_template("donations/give.html", campaign=campaign, form=form, user=user)
    fee = fee_to_cover(amount, campaign.currency, method) if form.cover_fee.data else 0
    if form.confirmed.data != "1":
        form.confirmed.data = "1"
        return render_template("donations/give_confirm.html", campaign=campaign, form=form, amount=amount,
                               fee=fee, total=amount + fee, user=user,
                               method_label=forms.method_label(methods.method_named(method)))
    donation = giving.start_donation(
        campaign, amount=amount, user=user,
        donor_name=user.display_name if user else form.name.data.strip(),
        donor_email=user.email if user else form.email.data.strip(),
        message=(form.message.data or "").strip() or None, anonymous=form.anonymous.data,
        cover_fee=form.cover_fee.data, locale=current_locale(), method=method,
        donor_npwp=forms.npwp_of(form))
    db.session.commit()
    try:
        checkout = giving.begin_checkout(
            donation, success_url=dashboard.guest_url(donation),
            cancel_url=url_for("giving.give", public_id=campaign.public_id, cancelled=1, _external=True),
            mobile_number=forms.ovo_number(form) if method == "ovo" else None)
    except GatewayError:
        db.session.rollback()
        donation.move_to(DonationStatus.FAILED)
        db.session.commit()
        flash(_("The payment provider could not be reached. Nothing was charged; please try again."), "error")
        return render_template("donations/give.html", campaign=campaign, form=form, user=user), 502
    db.session.commit()
    session[draft_key] = forms.draft_of(form)
    return redirect(checkout.url, code=303)


@bp.get("/donations/mine")
@login_required
def mine():
    donations = dashboard.donations_of(current_user)
    return render_template("donations/dashboard.html", donations=donations,
                           docs=dashboard.documents_of(donations))


@bp.post("/donations/<int:donation_id>/refund")
@login_required
def refund(donation_id: int):
    donation = db.session.get(Donation, donation_id)
    if donation is None or not can(current_user, Action.REFUND_DONATION, donation):
        abort(404)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    reason = request.form.get("reason", "")
    errors: dict[str, str] = {}
    try:
        amount = i18n.parse_money(request.form.get("amount", ""), donation.currency)
    except MoneyError as exc:
        errors["amount"] = str(exc)
        if giving.refund_reason_problem(reason):
            errors["reason"] = str(giving.refund_reason_problem(reason))
    if not errors:
        try:
            giving.request_refund(donation, current_user, amount, reason)
        except giving.RefundRefused as exc:
            db.session.rollback()
            if exc.field:
                errors[exc.field] = str(exc)
            else:
                flash(str(exc), "error")
                return redirect(url_for("giving.refund_form", donation_id=donation_id), code=303)
        except giving.RefundOutcomeUnknown:
            db.session.rollback()
            flash(_("The payment provider did not answer clearly, so the refund may or may not have "
                    "been made. It stays set aside and appears in the ledger once the provider "
                    "confirms it; if it was not made, it is released."), "warning")
            return redirect(url_for("giving.refund_form", donation_id=donation_id), code=303)
        except GatewayError:
            db.session.rollback()
            flash(_("The payment provider could not be reached; nothing was refunded."), "error")
            return redirect(url_for("giving.refund_form", donation_id=donation_id), code=303)
    if errors:  # shown next to the field at fault, with what was entered kept
        by_hand = not methods.method_named(donation.payment_method).refundable
        return render_template("donations/dashboard_refund.html", donation=donation, form=form,
                               errors=errors, entered=request.form, transfer_back=by_hand), 422
    db.session.commit()
    for gateway, event in in_process_events():  # the sandbox confirms at once; Stripe by webhook
        giving.handle_event(event, gateway)
    flash(_("Refund requested. It appears in the ledger once the payment provider confirms it."), "success")
    return redirect(url_for("giving.refund_form", donation_id=donation_id), code=303)


@bp.get("/donations/<int:donation_id>/refund")
@login_required
def refund_form(donation_id: int):
    donation = db.session.get(Donation, donation_id)
    if donation is None or not can(current_user, Action.REFUND_DONATION, donation):
        abort(404)
    return render_template("donations/dashboard_refund.html", donation=donation, form=FlaskForm(),
                           transfer_back=not methods.method_named(donation.payment_method).refundable)


# Phones get the wallet's deeplink (its app opens); other browsers its web page. The page sends
# the browser on with a refresh, not a 303: this page is reached from the donate form, and a
# browser applies the form's Content-Security-Policy `form-action 'self'` to every redirect that
# follows a form's submission, so a 303 to the wallet (whose address Xendit chooses) is blocked.
PHONE_AGENTS = ("Android", "iPhone", "iPad", "Mobile")


@bp.get("/give/pay/<checkout_id>")
def payment_page(checkout_id: str):
    """The donor's page for a payment that Amanah shows itself (the provider's payment_instructions):
    the QRIS code, or the virtual account to transfer to, or on to the e-wallet. Found by its
    checkout's id, which only the donor was given."""
    donation = db.session.scalar(sa.select(Donation).where(Donation.checkout_id == checkout_id))
    if donation is None:
        abort(404)
    if donation.status != DonationStatus.PENDING:
        return redirect(dashboard.guest_url(donation), code=303)
    provider = donation.provider
    db.session.rollback()  # no transaction open while the provider is asked
    try:
        info = gateway_named(provider).payment_instructions(checkout_id)
    except GatewayError:
        flash(_("The payment provider could not be reached; please reload this page in a moment."), "error")
        return render_template("donations/pay.html", donation=donation, info=None, qr=None), 502
    if info is None:  # the provider shows the donor its own page
        abort(404)
    wallet_url = None
    if info["kind"] == methods.EWALLET:
        agent = request.headers.get("User-Agent", "")
        phone = any(word in agent for word in PHONE_AGENTS)
        wallet_url = _followable((info["deeplink_url"] or info["mobile_url"]) if phone else info["web_url"])
    qr = segno.make(info["qr_string"], error="m").svg_inline(scale=5, title=_("QRIS code")) \
        if info["qr_string"] else None
    # "5 Desember 2026, 10.00 WIB" / "5 December 2026, 10:00 WIB", as every time a donor reads
    expires = format_wib(info["expires_at"]) if info["expires_at"] else None
    return render_template("donations/pay.html", donation=donation, info=info, qr=qr, expires=expires,
                           done_url=dashboard.guest_url(donation), wallet_url=wallet_url)


def _followable(url: str | None) -> str | None:
    """A wallet's link the page may send the browser on to: web or app links, never script."""
    scheme = (url or "").split(":", 1)[0].strip().lower()
    if not url or not scheme or scheme in ("javascript", "data", "vbscript", "file"):
        return None
    return url
