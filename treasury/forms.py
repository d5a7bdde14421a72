"""The disbursement and treasurer-change forms: they only turn text into values; treasury.disbursements
and treasury.treasurers judge them."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField, ValidationError

from amanah import evidence as evidence_store
from amanah.i18n import parse_money
from amanah.money import MoneyError
from campaigns.forms import LocalDateField, int_or_none, treasurer_choices
from treasury import disbursements
from treasury.models import (
    CATEGORY_LABELS,
    PAYEE_KIND_LABELS,
    PAYEE_MAX,
    PURPOSE_MAX,
    REASON_MAX,
)


class DisbursementForm(FlaskForm):
    amount = StringField(_l("Amount paid"), description=_l(
        "In the campaign's currency, written as usual in your language, e.g. 1.500.000."))
    paid_on = LocalDateField(_l("Date paid"), description=_l(
        "The day the money left the campaign's account."))
    payee_kind = RadioField(_l("Who was paid"), validate_choice=False, default="organization")
    payee_name = StringField(_l("Payee"), description=_l(
        "An organization's name; for a private person only the name they are known by "
        "(e.g. Ibu Sari), never an address, phone or identity number."))
    purpose = TextAreaField(_l("Purpose"), description=_l(
        "What the money paid for. It is published in the public ledger and can never be changed."))
    category = SelectField(_l("Spending category"), validate_choice=False)
    evidence = FileField(_l("Evidence"))
    evidence_visibility = RadioField(_l("Who may see the evidence"), validate_choice=False, default="public")

    def __init__(self, campaign, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.payee_kind.choices = [(k.value, label) for k, label in PAYEE_KIND_LABELS.items()]
        self.category.choices = [("", _l("Choose a category")),
                                 *((k.value, label) for k, label in CATEGORY_LABELS.items())]
        self.evidence_visibility.choices = [
            ("public", _l("Publish it: anyone can open the document")),
            ("withheld", _l("Withhold it: only the treasurer, admins and auditors can open it")),
        ]
        self.evidence.description = _l(
            "The invoice or transfer slip: a PDF, JPEG or PNG file of at most %(size)s. Photos are published "
            "without their location, camera and time metadata (the picture itself is not changed); a PDF is "
            "kept exactly as uploaded. The ledger records the SHA-256 of the published file, so that anyone "
            "can check it.",
            size=evidence_store.size_text(evidence_store.max_bytes()))
        self.amount_minor: int | None = None
        self.payee_max, self.purpose_max = PAYEE_MAX, PURPOSE_MAX

    def validate_amount(self, field):
        text = (field.data or "").strip()
        if not text:
            return  # the service says "Enter the amount paid."
        try:
            self.amount_minor = parse_money(text, self.campaign.currency)
        except MoneyError as exc:
            raise ValidationError(str(exc.args[0])) from None

    def validate_evidence_visibility(self, field):
        if field.data not in ("public", "withheld"):
            raise ValidationError(_l("Choose whether the evidence is published or withheld."))

    def to_input(self, evidence: bytes | None) -> disbursements.DisbursementInput:
        return disbursements.DisbursementInput(
            amount=self.amount_minor, paid_on=self.paid_on.data, payee_kind=self.payee_kind.data or "",
            payee_name=self.payee_name.data or "", purpose=self.purpose.data or "",
            category=self.category.data or "", evidence=evidence,
            evidence_public=self.evidence_visibility.data != "withheld")


class ReversalForm(FlaskForm):
    """Confirming the correction of a disbursement recorded in error: only the public reason."""

    reason = TextAreaField(_l("Reason for the correction"), description=_l(
        "Published in the public ledger with the correcting entry and never changed, e.g. "
        "\"Recorded twice\", \"Wrong campaign\" or \"Wrong amount: it was 250.000, not 2.500.000\"."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reason_max = REASON_MAX


class TreasurerForm(FlaskForm):
    """An admin hands a public campaign to another treasurer; the reason goes on the record."""

    treasurer_id = SelectField(_l("New treasurer"), coerce=int_or_none, validate_choice=False,
                               description=_l("They will record how the campaign's money is spent, "
                                              "instead of the current treasurer."))
    reason = TextAreaField(_l("Reason for the change"), description=_l(
        "Kept permanently in the campaign's history, which admins can read."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.treasurer_id.choices = treasurer_choices()
