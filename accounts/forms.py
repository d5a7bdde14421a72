"""Account forms. Field rules come from accounts.services, so a form and a service never disagree."""
from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    ValidationError,
)
from wtforms.validators import AnyOf, EqualTo, InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from accounts import services
from accounts.models import GRANTABLE_ROLES, Role

ROLE_LABELS = {
    Role.DONOR: _l("Donor"),
    Role.ORGANIZER: _l("Organizer"),
    Role.TREASURER: _l("Treasurer"),
    Role.AUDITOR: _l("Auditor"),
    Role.ADMIN: _l("Admin"),
}
ROLE_DESCRIPTIONS = {
    Role.ORGANIZER: _l("creates and runs campaigns"),
    Role.TREASURER: _l("records disbursements with their evidence"),
    Role.AUDITOR: _l("reads every record and verifies the ledger"),
    Role.ADMIN: _l("manages users and their roles"),
}


def role_label(role: Role | str) -> str:
    return str(ROLE_LABELS.get(Role(role), role))


class Rule:
    """A WTForms validator that runs one of the service's field rules."""

    def __init__(self, rule: Callable):
        self.rule = rule

    def __call__(self, form, field):
        try:
            self.rule(field.data)
        except services.AccountError as exc:
            raise ValidationError(str(exc)) from None


def _required(message):
    return InputRequired(message=message)


class RegisterForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[Rule(services.clean_display_name)])
    email = EmailField(_l("E-mail address"), validators=[Rule(services.normalize_email)])
    password = PasswordField(_l("Password"), validators=[_required(_l("Choose a password."))])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        EqualTo("password", message=_l("The two passwords do not match."))])

    def validate_password(self, field):
        Rule(lambda value: services.check_new_password(value, self.email.data))(self, field)


class LoginForm(FlaskForm):
    # Only presence is checked here: a login form says nothing about which accounts exist.
    email = EmailField(_l("E-mail address"), validators=[_required(_l("Enter your e-mail address."))])
    password = PasswordField(_l("Password"), validators=[_required(_l("Enter your password."))])
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[Rule(services.normalize_email)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[_required(_l("Choose a password."))])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        EqualTo("password", message=_l("The two passwords do not match."))])

    def __init__(self, *args, email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_email = email

    def validate_password(self, field):
        Rule(lambda value: services.check_new_password(value, self.account_email))(self, field)


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[
        _required(_l("Enter your current password."))])


class ChangeEmailForm(FlaskForm):
    email = EmailField(_l("New e-mail address"), validators=[Rule(services.normalize_email)])
    password = PasswordField(_l("Your current password"), validators=[
        _required(_l("Enter your current password."))])


LANGUAGE_CHOICES = [SelectChoice("", _l("No preference (use the site's language switch)")),
                    SelectChoice("id", "Bahasa Indonesia"), SelectChoice("en", "English")]


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[Rule(services.clean_display_name)])
    preferred_language = SelectField(
        _l("Preferred language"), choices=LANGUAGE_CHOICES, validate_choice=False,
        validators=[AnyOf([choice.value for choice in LANGUAGE_CHOICES],
                          message=_l("Choose a language from the list."))])
    npwp = StringField(_l("NPWP (optional)"), validators=[Rule(services.normalize_npwp)])
    nik = StringField(_l("NIK (optional)"), validators=[Rule(services.normalize_nik)])


class UserRolesForm(FlaskForm):
    roles = SelectMultipleField(
        _l("Roles"), choices=[SelectChoice(role.value, ROLE_LABELS[role]) for role in GRANTABLE_ROLES],
        validate_choice=False, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())

    def validate_roles(self, field):
        known = {role.value for role in GRANTABLE_ROLES}
        if any(value not in known for value in field.data or []):
            raise ValidationError(_l("Choose roles from the list."))
