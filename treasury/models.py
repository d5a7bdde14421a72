"""Disbursements: money paid out of a campaign, each with its evidence and its ledger entry.

A row is written once, in the same transaction as its `disbursement` ledger entry, and never
edited: a mistake is corrected by a new entry, as everywhere in the ledger. The payee's name and
the spending category live here, beside the ledger; the leaf carries only the amount, the purpose
(`memo`) and the evidence document's SHA-256.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from amanah.db import now_utc
from amanah.extensions import db
from amanah.money import ISO_EXPONENT, MAX_MINOR
from campaigns.models import Campaign

PAYEE_MAX = 120
PURPOSE_MAX = 500  # the ledger allows 1000 characters of memo; a purpose is a sentence or two
REASON_MAX = 500   # a reversal's reason is its entry's memo, like a purpose


class PayeeKind(enum.StrEnum):
    ORGANIZATION = "organization"
    INDIVIDUAL = "individual"  # a private person: only the name they are known by, nothing else


class SpendingCategory(enum.StrEnum):
    GOODS = "goods"
    SERVICES = "services"
    DIRECT_AID = "direct_aid"
    OPERATIONS = "operations"
    OTHER = "other"


CATEGORY_LABELS = {
    SpendingCategory.GOODS: _l("Program goods"),
    SpendingCategory.SERVICES: _l("Services and transport"),
    SpendingCategory.DIRECT_AID: _l("Direct aid to beneficiaries"),
    SpendingCategory.OPERATIONS: _l("Operational costs"),
    SpendingCategory.OTHER: _l("Other"),
}
PAYEE_KIND_LABELS = {
    PayeeKind.ORGANIZATION: _l("An organization (shop, company, foundation)"),
    PayeeKind.INDIVIDUAL: _l("A private person"),
}

# Content types we accept as evidence, found by reading the file, never from its name.
EVIDENCE_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Disbursement(db.Model):
    __tablename__ = "disbursements"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # positive; the ledger entry carries -amount
    currency: Mapped[str] = mapped_column(sa.String(3))
    paid_on: Mapped[dt.date] = mapped_column()
    payee_kind: Mapped[str] = mapped_column(sa.String(12))
    payee_name: Mapped[str] = mapped_column(sa.String(PAYEE_MAX))
    purpose: Mapped[str] = mapped_column(sa.String(PURPOSE_MAX))
    category: Mapped[str] = mapped_column(sa.String(16))
    # One document proves one payment that stands: the same invoice twice would count the same money
    # twice. Checked under the ledger's append lock (disbursements.record), not by a constraint,
    # because a disbursement reversed as recorded in error frees its evidence for the right one.
    evidence_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    evidence_type: Mapped[str] = mapped_column(sa.String(32))
    evidence_size: Mapped[int] = mapped_column()
    evidence_public: Mapped[bool] = mapped_column()
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ledger_seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    campaign: Mapped[Campaign] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    reversal: Mapped[DisbursementReversal | None] = relationship(back_populates="disbursement")

    # Not stored: set by disbursements.record() when the upload's metadata was taken out, so that
    # the treasurer can be told (the stored file, and so its SHA-256, differ from the upload).
    evidence_metadata_removed = False

    __table_args__ = (
        sa.CheckConstraint(f"amount > 0 AND amount <= {MAX_MINOR}", name="amount_positive"),
        sa.CheckConstraint(_in("currency", ISO_EXPONENT), name="currency_known"),
        sa.CheckConstraint(_in("payee_kind", PayeeKind), name="payee_kind_known"),
        sa.CheckConstraint(_in("category", SpendingCategory), name="category_known"),
        sa.CheckConstraint(_in("evidence_type", EVIDENCE_TYPES), name="evidence_type_known"),
        sa.CheckConstraint("length(evidence_sha256) = 64", name="evidence_sha256_length"),
        sa.CheckConstraint("evidence_size > 0", name="evidence_size_positive"),
        sa.CheckConstraint("length(payee_name) > 0 AND length(purpose) > 0", name="texts_present"),
        sa.Index("ix_disbursements_campaign_paid_on", "campaign_id", "paid_on"),
    )

    @property
    def category_label(self) -> str:
        return str(CATEGORY_LABELS[SpendingCategory(self.category)])

    @property
    def evidence_extension(self) -> str:
        return EVIDENCE_TYPES[self.evidence_type]

    @property
    def is_reversed(self) -> bool:
        return self.reversal is not None

    def __repr__(self) -> str:
        return f"<Disbursement {self.id} {self.amount} {self.currency} seq={self.ledger_seq}>"


class DisbursementReversal(db.Model):
    """A disbursement recorded in error, corrected in public: the money never left the campaign."""

    __tablename__ = "disbursement_reversals"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: a disbursement is reversed at most once, also when two people submit at once.
    disbursement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("disbursements.id", ondelete="RESTRICT"), unique=True)
    reason: Mapped[str] = mapped_column(sa.String(REASON_MAX))  # the entry's memo, public
    reversed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ledger_seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)  # the disbursement_reversal entry
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    disbursement: Mapped[Disbursement] = relationship(back_populates="reversal")
    reversed_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("length(reason) > 0", name="reason_present"),
    )

    def __repr__(self) -> str:
        return f"<DisbursementReversal of {self.disbursement_id} seq={self.ledger_seq}>"


class CampaignTreasurerChange(db.Model):
    """An admin handed a public campaign's money to another treasurer: who, when, from, to, why.

    The table keeps its first name (campaign_treasurer_changes); the record moved to treasury, whose
    business is who holds a campaign's money.

    Append-only: database triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL). Users are
    deactivated, never deleted, so every foreign key RESTRICTs.
    """

    __tablename__ = "campaign_treasurer_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    from_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    to_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    changed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    campaign: Mapped[Campaign] = relationship()
    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id], lazy="joined")
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id], lazy="joined")
    changed_by: Mapped[User] = relationship(foreign_keys=[changed_by_id], lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("from_user_id <> to_user_id", name="changes_treasurer"),
        sa.CheckConstraint("length(reason) > 0", name="has_reason"),
    )
