"""What donors see of their donations; guests reach theirs through a signed link (itsdangerous)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer

from accounts.models import User
from accounts.verification import register_on_verified
from amanah.extensions import db
from amanah.i18n import format_money
from amanah.money import MoneyError
from donations import diagnostics, methods
from donations.models import Donation, DonationStatus

DONATION_STATUS_LABELS = {"pending": _l("awaiting payment"), "paid": _l("paid"), "failed": _l("failed"),
                          "expired": _l("expired"), "flagged": _l("held for a treasurer's check")}
REFUND_STATUS_LABELS = {"requested": _l("requested, awaiting the payment provider"),
                        "succeeded": _l("refunded"),
                        "failed": _l("failed"), "reversed": _l("failed after it succeeded: reversed")}


ANOMALY_KIND_LABELS = {"foreign_payment": _l("not the donation's own payment"),
                       "overdrawn": _l("more than the donation received"),
                       "currency": _l("in another currency"),
                       "amount": _l("paid another amount than the donation's")}
DOCUMENT_KIND_LABELS = {"receipt": _l("Receipt"), "credit_note": _l("Credit note"),
                        "cancellation": _l("Cancellation of a credit note")}


def diagnosis(facts: dict | None, english: str, currency: str | None = None):
    """What reconciliation could not settle, or what an anomaly is, in the reader's language."""
    return diagnostics.describe(facts, english, currency, status_label=donation_status_label)


def reported_money(amount: int, currency: str) -> str:
    """An amount as a provider reported it: in the reader's money format, or, in a currency this
    app does not know (somebody else's payment on the account), as the provider gave it."""
    try:
        return format_money(amount, currency)
    except (MoneyError, ArithmeticError):
        return f"{amount} {currency}"


def payment_method_label(code: str | None) -> str:
    method = methods.BY_CODE.get(code or methods.CARD)
    return str(method.label) if method else str(code)


def anomaly_kind_label(kind: str) -> str:
    return str(ANOMALY_KIND_LABELS.get(kind, kind))


def document_kind_label(kind: str) -> str:
    return str(DOCUMENT_KIND_LABELS.get(kind, kind))


def donation_status_label(status: str) -> str:
    return str(DONATION_STATUS_LABELS.get(status, status))


def refund_status_label(status: str) -> str:
    return str(REFUND_STATUS_LABELS.get(status, status))

# The documents issued for donations (receipts, credit notes) are documents' business, and documents
# sits above donations: it hands its lookup over at init_app time, so the dashboard lists them
# without donations importing documents. Without documents installed, no donation has any.
_DOCUMENTS_LOOKUP = "donation_documents"


def register_documents_lookup(app, lookup) -> None:
    """`lookup(donations)` -> {donation id: [(kind, serial), ...]}, in one query."""
    app.extensions[_DOCUMENTS_LOOKUP] = lookup


def documents_of(donations) -> dict[int, list[tuple[str, str]]]:
    lookup = current_app.extensions.get(_DOCUMENTS_LOOKUP)
    return lookup(donations) if lookup is not None and donations else {}


_SALT = "amanah.donation-view"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def guest_token(donation: Donation | int) -> str:
    return _serializer().dumps(donation if isinstance(donation, int) else donation.id)


def donation_from_token(token: str) -> Donation | None:
    max_age = current_app.config["GUEST_LINK_MAX_AGE_DAYS"] * 86400
    try:
        donation_id = _serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None
    return db.session.get(Donation, donation_id) if isinstance(donation_id, int) else None


def guest_url(donation: Donation) -> str:
    return url_for("giving.guest_view", token=guest_token(donation), _external=True)


def guest_receipt_url(donation: Donation) -> str:
    """The receipt through the guest's signed link (no account needed)."""
    return url_for("documents.guest_receipt", token=guest_token(donation), _external=True)


def claim_guest_donations(user) -> int:
    """Attach the gifts made as a guest with the user's address to the account; how many.

    Runs (accounts.verification) in the transaction that marks the address verified, and only then:
    an address typed at registration proves nothing. Once attached, a gift stays with the account
    even if its address changes later; its receipts, credit notes and statements follow user_id.
    """
    if not user.email_verified:
        return 0
    result = db.session.execute(
        sa.update(Donation).where(Donation.user_id.is_(None), Donation.donor_email == user.email)
        .values(user_id=user.id).execution_options(synchronize_session=False))
    return result.rowcount or 0


def init_app(app) -> None:
    register_on_verified(app, claim_guest_donations)


def verified_owner(email: str) -> User | None:
    """The active account whose verified address is `email`, if any."""
    address = (email or "").strip().lower()
    if not address:
        return None
    return db.session.scalar(sa.select(User).where(User.email == address, User.active.is_(True),
                                                   User.email_verified_at.is_not(None)))


def donations_of(user) -> list[Donation]:
    """Every donation the signed-in donor made, newest first."""
    return list(db.session.execute(sa.select(Donation).where(Donation.user_id == user.id)
                                   .order_by(Donation.created_at.desc(), Donation.id.desc())).scalars())


def recent_donations(campaign, limit: int = 10) -> list[dict]:
    """The latest paid donations for a campaign page: name (or None when anonymous), message, amount.

    Names and messages come from the donations table beside the ledger, never from the ledger.
    """
    rows = db.session.execute(
        sa.select(Donation.donor_name, Donation.anonymous, Donation.message, Donation.total,
                  Donation.currency, Donation.paid_at)
        .where(Donation.campaign_id == campaign.id, Donation.status == DonationStatus.PAID)
        .order_by(Donation.paid_at.desc(), Donation.id.desc()).limit(limit))
    return [{"name": None if r.anonymous else r.donor_name, "message": r.message, "amount": r.total,
             "currency": r.currency, "paid_at": r.paid_at} for r in rows]


def covered_fees(campaign) -> dict | None:
    """The paid gifts whose donors covered the fee: what they added, the fees the provider took on
    those gifts, and the difference the campaign kept (positive) or bore (negative). None when no
    donor covered a fee. The gross-up (fees.py) makes the difference zero or a few sen whenever the
    provider charges the estimated formula; a real provider's fee may still differ."""
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Donation.fee_covered), 0),
                  sa.func.coalesce(sa.func.sum(Donation.processor_fee), 0))
        .where(Donation.campaign_id == campaign.id, Donation.status == DonationStatus.PAID,
               Donation.fee_covered > 0)).one()
    count, added, charged = row[0], int(row[1]), int(row[2])
    if not count:
        return None
    return {"count": count, "added": added, "charged": charged, "difference": added - charged,
            "currency": campaign.currency}
