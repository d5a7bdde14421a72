"""The ledger's tables. Entries, stored tree hashes and checkpoints are append-only:
the migrations install triggers that make the database itself refuse UPDATE and DELETE."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from amanah.db import now_utc
from amanah.extensions import db


class LedgerEntry(db.Model):
    """One leaf. `leaf` holds the exact canonical bytes; the other columns are copies for queries."""

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(sa.LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    prev: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    at: Mapped[dt.datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(24))
    campaign: Mapped[str] = mapped_column(sa.String(32))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    ref: Mapped[int | None] = mapped_column(sa.BigInteger)
    # A provider reference (Stripe payment intent, refund, dispute...): one entry per object and kind,
    # so a redelivered webhook can never write the same money twice.
    payment: Mapped[str | None] = mapped_column(sa.String(255))

    __table_args__ = (
        sa.UniqueConstraint("kind", "payment"),
        sa.Index("ix_ledger_entries_campaign_seq", "campaign", "seq"),
        sa.Index("ix_ledger_entries_kind_seq", "kind", "seq"),
        sa.Index("ix_ledger_entries_at", "at"),
        sa.Index("ix_ledger_entries_ref_seq", "ref", "seq"),  # the entries that refer to one entry
        sa.CheckConstraint("seq >= 0", name="seq_nonnegative"),
        # Only a `report` (anchoring a progress report) moves no money.
        sa.CheckConstraint("amount <> 0 OR kind = 'report'", name="amount_nonzero"),
    )


class LedgerHash(db.Model):
    """Stored Merkle tree hashes in Go tlog's layout: index -> hash, written once per append."""

    __tablename__ = "ledger_hashes"

    idx: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class LedgerCheckpoint(db.Model):
    """A signed tree head. The primary key on size makes two different roots for one size impossible."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class CampaignTotal(db.Model):
    """Running totals per campaign, updated in the same transaction as each append.

    Amounts are positive magnitudes in the campaign currency's minor units. This table is derived
    (it can be rebuilt from the entries), so unlike the ledger it may be updated.
    """

    __tablename__ = "ledger_campaign_totals"

    campaign: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    raised: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    chargebacks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fees: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    disbursed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    donation_count: Mapped[int] = mapped_column(default=0)
    entry_count: Mapped[int] = mapped_column(default=0)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    @property
    def balance(self) -> int:
        """Money available to disburse."""
        return self.raised - self.refunded - self.chargebacks - self.fees - self.disbursed
