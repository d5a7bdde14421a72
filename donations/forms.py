"""The donate form: a preset or custom amount, message, anonymity, fee cover, guest name and e-mail."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import Email, Length, Optional

from amanah import i18n
from amanah.money import MoneyError

CUSTOM = "custom"


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
    confirmed = HiddenField()


def presets(currency: str) -> tuple[int, ...]:
    config = current_app.config
    return tuple(config["DONATION_PRESETS"].get(currency, config["DONATION_DEFAULT_PRESETS"]))


def limits(currency: str) -> tuple[int, int]:
    return tuple(current_app.config["DONATION_LIMITS"][currency])


def set_choices(form: DonateForm, currency: str) -> None:
    form.preset.choices = [(str(p), i18n.format_money(p, currency)) for p in presets(currency)]
    form.preset.choices.append((CUSTOM, str(_l("Other amount"))))


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


DRAFT_FIELDS = ("preset", "custom_amount", "message", "anonymous", "cover_fee", "name", "email")


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
