"""Anomalies: what a provider reports that the ledger must not take in, kept once for review.

Somebody else's payment on the same provider account that names one of our donations, a refund
or chargeback beyond what the donation received, an amount in another currency: none of these
may become a ledger entry, and none may be lost either. Each is recorded once (by kind and
provider object) and logged once; the reconciliation page shows them to admins and auditors.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from amanah.extensions import db
from donations.models import AnomalyKind, Donation, PaymentAnomaly

log = logging.getLogger(__name__)


def record(kind: AnomalyKind, *, provider: str, provider_object: str, detail: str,
           donation_id: int | None = None, amount: int | None = None,
           currency: str | None = None, facts: dict | None = None) -> bool:
    """Add the anomaly to the current transaction unless it is known already; True when new.
    `detail` is the English sentence (logged, and shown for rows without facts); `facts` say the
    same as a code and values, put into the reader's words by donations.diagnostics."""
    known = db.session.scalar(sa.select(PaymentAnomaly.id).where(
        PaymentAnomaly.kind == kind.value, PaymentAnomaly.provider_object == provider_object))
    if known is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(PaymentAnomaly(
                kind=kind.value, provider=provider, provider_object=provider_object[:255],
                donation_id=donation_id, amount=amount, currency=currency, detail=detail[:2000],
                facts=facts))
    except IntegrityError:  # recorded by a concurrent delivery of the same report
        return False
    log.warning("payment anomaly (%s) %s: %s", kind.value, provider_object, detail)
    return True


def recent(limit: int = 200) -> list[tuple[PaymentAnomaly, Donation | None]]:
    """The newest anomalies, each with the donation it names (whose status and hold_settled_*
    say whether a treasurer has settled a payment held for a check)."""
    return list(db.session.execute(
        sa.select(PaymentAnomaly, Donation).outerjoin(Donation, Donation.id == PaymentAnomaly.donation_id)
        .options(selectinload(Donation.hold_settled_by))
        .order_by(PaymentAnomaly.id.desc()).limit(limit)).all())
