"""What disbursements and their reversals say their ledger entries hold, for `flask ledger verify`
(ledger.references). A disbursement's entry carries -amount; its reversal gives it back."""
from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from ledger import references
from ledger.references import Reference
from treasury.models import Disbursement, DisbursementReversal


def disbursement_references(session: Session) -> Iterator[Reference]:
    rows = session.execute(
        sa.select(Disbursement.id, Disbursement.ledger_seq, Disbursement.amount, Disbursement.currency,
                  Campaign.public_id, DisbursementReversal.ledger_seq.label("reversal_seq"))
        .join(Campaign, Disbursement.campaign_id == Campaign.id)
        .outerjoin(DisbursementReversal, DisbursementReversal.disbursement_id == Disbursement.id)
        .order_by(Disbursement.ledger_seq))
    for row in rows:
        yield Reference(f"disbursement {row.id}", row.ledger_seq, "disbursement", row.public_id,
                        -row.amount, row.currency, ref=None, payment=None)
        if row.reversal_seq is not None:
            yield Reference(f"disbursement {row.id}'s reversal", row.reversal_seq, "disbursement_reversal",
                            row.public_id, row.amount, row.currency, ref=row.ledger_seq, payment=None)


SOURCES = (disbursement_references,)


def init_app(app) -> None:
    """`flask ledger verify` checks these rows against their entries."""
    for source in SOURCES:
        references.register(app, source)
