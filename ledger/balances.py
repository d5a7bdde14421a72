"""A campaign's balance read from its ledger entries, never from the running totals.

`ledger_campaign_totals` is a derived table that the database lets anyone with write access
update; the money rules (no disbursement or refund beyond what the campaign holds) must not
trust it. The entries themselves are append-only and verified, and every kind of entry moves the
balance by its own signed amount (money in positive, money out negative), so the balance is
their sum: raised - refunded - chargebacks - fees - disbursed, as CampaignTotal.balance says.
It is one SUM over the campaign's entries through ix_ledger_entries_campaign_seq.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import LedgerEntry
from ledger.storage import TOTAL_EFFECTS

_BALANCE = (sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
            .where(LedgerEntry.campaign == sa.bindparam("campaign"),
                   LedgerEntry.currency == sa.bindparam("currency"),
                   LedgerEntry.kind.in_(TOTAL_EFFECTS)))


def balance_from_entries(session: Session, campaign: str, currency: str) -> int:
    """The campaign's money in its currency, as its entries say (0 before the first entry)."""
    return int(session.execute(_BALANCE, {"campaign": campaign, "currency": currency}).scalar_one())
