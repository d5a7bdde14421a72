"""What giving's rows say their ledger entries hold, for `flask ledger verify` (ledger.references).

A paid donation's `donation` entry, and its `fee` entry appended right after it in the same
append when the provider charged a fee; each booked refund and its reversal; each chargeback
and its reinstatement. Amounts carry the ledger's sign (money in positive, money out negative).
"""
from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from donations.models import Dispute, Donation, Refund
from ledger import references
from ledger.references import Reference


def actual_fee_payment(payment_intent: str) -> str:
    """The `payment` of the entry booking a payment's actual fee after its estimate: the payment's
    own reference already names the estimate's `fee` entry, and (kind, payment) is unique."""
    return f"{payment_intent}/fee"


def donation_references(session: Session) -> Iterator[Reference]:
    rows = session.execute(
        sa.select(Donation.id, Donation.ledger_seq, Donation.total, Donation.currency,
                  Donation.payment_intent, Donation.processor_fee, Donation.fee_corrected_seq,
                  Donation.actual_fee, Campaign.public_id)
        .join(Campaign, Donation.campaign_id == Campaign.id)
        .where(Donation.ledger_seq.is_not(None)).order_by(Donation.ledger_seq))
    for row in rows:
        yield Reference(f"donation {row.id}", row.ledger_seq, "donation", row.public_id, row.total,
                        row.currency, ref=None, payment=row.payment_intent)
        if row.processor_fee:
            yield Reference(f"donation {row.id}'s fee", row.ledger_seq + 1, "fee", row.public_id,
                            -row.processor_fee, row.currency, ref=row.ledger_seq, payment=row.payment_intent)
        if row.fee_corrected_seq is not None:
            yield Reference(f"donation {row.id}'s estimated fee taken back", row.fee_corrected_seq,
                            "fee_reversal", row.public_id, row.processor_fee, row.currency,
                            ref=row.ledger_seq + 1, payment=row.payment_intent)
            if row.actual_fee:
                yield Reference(f"donation {row.id}'s actual fee", row.fee_corrected_seq + 1, "fee",
                                row.public_id, -row.actual_fee, row.currency, ref=row.ledger_seq,
                                payment=actual_fee_payment(row.payment_intent))


def refund_references(session: Session) -> Iterator[Reference]:
    rows = session.execute(
        sa.select(Refund.id, Refund.ledger_seq, Refund.reversed_seq, Refund.amount, Refund.provider_id,
                  Donation.ledger_seq.label("donation_seq"), Donation.currency, Campaign.public_id)
        .join(Donation, Refund.donation_id == Donation.id)
        .join(Campaign, Donation.campaign_id == Campaign.id)
        .where(Refund.ledger_seq.is_not(None)).order_by(Refund.ledger_seq))
    for row in rows:
        yield Reference(f"refund {row.id}", row.ledger_seq, "refund", row.public_id, -row.amount,
                        row.currency, ref=row.donation_seq, payment=row.provider_id)
        if row.reversed_seq is not None:
            yield Reference(f"refund {row.id}'s reversal", row.reversed_seq, "refund_reversal",
                            row.public_id, row.amount, row.currency, ref=row.ledger_seq)


def chargeback_references(session: Session) -> Iterator[Reference]:
    rows = session.execute(
        sa.select(Dispute.id, Dispute.withdrawn_seq, Dispute.reinstated_seq, Dispute.amount,
                  Dispute.provider_id, Donation.ledger_seq.label("donation_seq"), Donation.currency,
                  Campaign.public_id)
        .join(Donation, Dispute.donation_id == Donation.id)
        .join(Campaign, Donation.campaign_id == Campaign.id)
        .where(Dispute.withdrawn_seq.is_not(None)).order_by(Dispute.withdrawn_seq))
    for row in rows:
        yield Reference(f"chargeback {row.id}", row.withdrawn_seq, "chargeback", row.public_id,
                        -row.amount, row.currency, ref=row.donation_seq, payment=row.provider_id)
        if row.reinstated_seq is not None:
            yield Reference(f"chargeback {row.id}'s reversal", row.reinstated_seq, "chargeback_reversal",
                            row.public_id, row.amount, row.currency, ref=row.withdrawn_seq,
                            payment=row.provider_id)


SOURCES = (donation_references, refund_references, chargeback_references)


def init_app(app) -> None:
    """`flask ledger verify` checks these rows against their entries."""
    for source in SOURCES:
        references.register(app, source)
