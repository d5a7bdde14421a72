"""The donate form: a preset or custom amount, message, anonymity, fee cover, guest name and e-mail."""
from __future__ import annotations

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import Email, Length, Optional, ValidationError

from amanah import i18n
from amanah.errors import UserError
from amanah.money import MoneyError
from donations import methods
from donations.providers import is_sandbox
from organizations.services import normalize_npwp

CUSTOM = "custom"


def _npwp_rule(form, field) -> None:
    try:
        normalize_npwp(field.data)
    except UserError as exc:
        raise ValidationError(str(exc.message)) from None


class DonateForm(FlaskForm):
    preset = RadioField(_l("Amount"), choices=[], validate_choice=False)
    custom_amount = StringField(_l("Other amount"))
    message = TextAreaField(_l("Public message (optional)"), validators=[
        Optional(), Length(max=500, message=_l("Use at most %(n)d characters.", n=500))])
    anonymous = BooleanField(_l("Give anonymously"))
    cover_fee = BooleanField(_l("Cover the processing fee"))
    name = StringField(_l("Your name"), validators=[
        Optional(), Length(max=120, message=_l("Use at most %(n)d characters.", n=120))])
    email = EmailField(_l("Your e-mail"), validators=[
        Optional(), Email(message=_l("Enter a valid e-mail address, like nama@contoh.id.")),
        Length(max=254, message=_l("An e-mail address has at most %(n)d characters.", n=254))])
    # Optional: printed on the receipt, which a tax office asks for with a deductible gift.
    npwp = StringField(_l("Your NPWP (optional)"), validators=[_npwp_rule], description=_l(
        "For your receipt, if you claim the gift on your tax return: 15 or 16 digits, "
        "e.g. 01.234.567.8-901.000."))
    method = RadioField(_l("How to pay"), choices=[], validate_choice=False)
    mobile_number = StringField(_l("OVO phone number"), validators=[
        Optional(), Length(max=20, message=_l("Use at most %(n)d characters.", n=20))])
    confirmed = HiddenField()


def presets(currency: str) -> tuple[int, ...]:
    config = current_app.config
    return tuple(config["DONATION_PRESETS"].get(currency, config["DONATION_DEFAULT_PRESETS"]))


def limits(currency: str) -> tuple[int, int]:
    return tuple(current_app.config["DONATION_LIMITS"][currency])


def set_choices(form: DonateForm, currency: str) -> None:
    form.preset.choices = [(str(p), i18n.format_money(p, currency)) for p in presets(currency)]
    form.preset.choices.append((CUSTOM, str(_l("Other amount"))))
    form.method.choices = [(m.code, method_label(m)) for m in methods.offered(currency)]


def method_label(method: methods.Method) -> str:
    """A method's plain-text label, saying so when the sandbox stands in for its provider."""
    if is_sandbox(method.code):
        return str(_l("%(method)s (sandbox: no real money)", method=method.label))
    return str(method.label)


def clean_method(form: DonateForm, currency: str) -> str | None:
    """The chosen method's code (card when the form names none), or None with the error on its field."""
    code = form.method.data or methods.CARD
    if code not in {m.code for m in methods.offered(currency)}:
        form.method.errors = [*form.method.errors, str(_l("Choose how to pay."))]
        return None
    if code == "ovo" and not re.fullmatch(r"\+?[0-9]{9,15}", (form.mobile_number.data or "").strip()):
        problem = _l("Enter the phone number of your OVO account, like 081234567890.")
        form.mobile_number.errors = [*form.mobile_number.errors, str(problem)]
        return None
    return code


def ovo_number(form: DonateForm) -> str | None:
    """The OVO account's number in international form (+62...), for Xendit to push the payment to."""
    raw = (form.mobile_number.data or "").strip()
    if not raw:
        return None
    return "+62" + raw[1:] if raw.startswith("0") else (raw if raw.startswith("+") else "+" + raw)


def clean_amount(form: DonateForm, currency: str) -> int | None:
    """The gift in minor units, or None with the error attached to the field that caused it."""
    choice = form.preset.data or ""
    if choice != CUSTOM and choice.isascii() and choice.isdigit() and int(choice) in presets(currency):
        amount = int(choice)
    elif choice == CUSTOM or form.custom_amount.data:
        try:
            amount = i18n.parse_money(form.custom_amount.data or "", currency)
        except MoneyError as exc:
            form.custom_amount.errors = [*form.custom_amount.errors, str(exc)]
            return None
    else:
        form.preset.errors = [*form.preset.errors, str(_l("Choose an amount."))]
        return None
    low, high = limits(currency)
    if not low <= amount <= high:
        form.custom_amount.errors = [*form.custom_amount.errors, str(_l(
            "Give between %(low)s and %(high)s.", low=i18n.format_money(low, currency),
            high=i18n.format_money(high, currency)))]
        return None
    return amount


DRAFT_FIELDS = ("preset", "custom_amount", "method", "mobile_number", "message", "anonymous", "cover_fee",
                "name", "email", "npwp")


def npwp_of(form: DonateForm) -> str | None:
    """The NPWP's digits, or None when none was given (the field's validator has checked it)."""
    return normalize_npwp(form.npwp.data)


def draft_of(form: DonateForm) -> dict:
    """What the donor entered, kept (in their own session) while they are at the payment provider,
    so a cancelled or failed payment brings them back to the form as they left it."""
    return {name: form[name].data for name in DRAFT_FIELDS if form[name].data not in (None, "", False)}


def clean_guest(form: DonateForm) -> bool:
    ok = True
    if not (form.name.data or "").strip():
        form.name.errors = [*form.name.errors, str(_l("Enter your name."))]
        ok = False
    if not (form.email.data or "").strip():
        form.email.errors = [*form.email.errors, str(_l("Enter your e-mail address."))]
        ok = False
    return ok
