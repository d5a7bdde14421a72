"""Donations and what the payment provider told us about them.

Amounts are integer minor units of the campaign's currency (ISO 4217 exponent, as Stripe counts:
Rp 50.000 is 5_000_000). Names, e-mails and messages live here, beside the ledger, never in it.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from amanah.db import now_utc
from amanah.errors import IllegalTransition
from amanah.extensions import db
from amanah.money import MAX_MINOR
from campaigns.models import Campaign


class DonationStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    FLAGGED = "flagged"  # the provider's amount or currency disagrees with ours: a treasurer looks


# One-way: a donation leaves `pending` once; a flagged one may only be resolved to paid or failed.
ALLOWED_TRANSITIONS: dict[DonationStatus, frozenset[DonationStatus]] = {
    DonationStatus.PENDING: frozenset({DonationStatus.PAID, DonationStatus.FAILED,
                                       DonationStatus.EXPIRED, DonationStatus.FLAGGED}),
    DonationStatus.FLAGGED: frozenset({DonationStatus.PAID, DonationStatus.FAILED}),
    DonationStatus.PAID: frozenset(),
    DonationStatus.FAILED: frozenset(),
    DonationStatus.EXPIRED: frozenset(),
}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def donor_identity(user_id: int | None, email: str | None) -> str:
    """See Donation.donor_identity; the same rule for rows read without the ORM."""
    if user_id is not None:
        return f"user:{user_id}"
    return f"email:{(email or '').strip().casefold()}"


class Donation(db.Model):
    __tablename__ = "donations"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    donor_name: Mapped[str] = mapped_column(sa.String(120))
    donor_email: Mapped[str] = mapped_column(sa.String(254))
    # The donor's NPWP as given on the donate form (digits, 15 or 16), for the receipt: a tax
    # office asks for it on a deductible gift. Optional; a signed-in donor's profile NPWP fills it.
    donor_npwp: Mapped[str | None] = mapped_column(sa.String(16))
    message: Mapped[str | None] = mapped_column(sa.String(500))
    anonymous: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(sa.String(5), default="id")
    # amount: the gift; fee_covered: what the donor added for the processor; total = what is charged.
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    fee_covered: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(10), default=DonationStatus.PENDING.value)
    provider: Mapped[str] = mapped_column(sa.String(10))  # stripe | xendit | sandbox
    # How the donor chose to pay (donations.methods: "card", "qris", "va_bca", "ovo", ...); None
    # for donations made before there was a choice (all by card).
    payment_method: Mapped[str | None] = mapped_column(sa.String(20))
    checkout_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    payment_intent: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(sa.String(255))
    processor_fee: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The fee booked at payment was an estimate (the provider's price list, not its books): once the
    # actual fee is known, a `fee_reversal` entry (at fee_corrected_seq) takes the estimate back and
    # a `fee` entry with actual_fee follows it (at fee_corrected_seq + 1, when not zero).
    fee_estimated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    actual_fee: Mapped[int | None] = mapped_column(sa.BigInteger)
    fee_corrected_seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    # Random per-donation secret; the ledger keeps only its commitment. Printed for the donor.
    donor_secret: Mapped[str] = mapped_column(sa.String(64))
    ledger_seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    flag_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Who settled a hold (booked the payment at what was paid, or marked it returned), and when;
    # the donation's status says which. The reconciliation page shows it beside the anomaly.
    hold_settled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    hold_settled_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    paid_at: Mapped[dt.datetime | None] = mapped_column()

    campaign: Mapped[Campaign] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    hold_settled_by: Mapped[User | None] = relationship(foreign_keys=[hold_settled_by_id])
    refunds: Mapped[list[Refund]] = relationship(back_populates="donation", order_by="Refund.id")

    __table_args__ = (
        sa.CheckConstraint(f"amount > 0 AND amount <= {MAX_MINOR}", name="amount_positive"),
        sa.CheckConstraint("fee_covered >= 0", name="fee_covered_nonnegative"),
        sa.CheckConstraint("total = amount + fee_covered", name="total_is_sum"),
        sa.CheckConstraint("donor_npwp IS NULL OR length(donor_npwp) IN (15, 16)", name="donor_npwp_length"),
        sa.CheckConstraint(_in("status", DonationStatus), name="status_known"),
        sa.CheckConstraint("provider IN ('stripe', 'xendit', 'sandbox')", name="provider_known"),
        sa.CheckConstraint("status <> 'paid' OR (ledger_seq IS NOT NULL AND paid_at IS NOT NULL)",
                           name="paid_is_recorded"),
        sa.Index("ix_donations_campaign_status_paid_at", "campaign_id", "status", "paid_at"),
    )

    def move_to(self, target: DonationStatus) -> None:
        """Change status along an allowed transition, or raise IllegalTransition."""
        self.check_move(target)
        self.status = target.value

    def check_move(self, target: DonationStatus) -> None:
        """Raise IllegalTransition unless the status may go to `target`."""
        current = DonationStatus(self.status)
        if target not in ALLOWED_TRANSITIONS[current]:
            raise IllegalTransition(f"donation cannot go from {current} to {target}", current=current,
                                    target=target)

    @property
    def donor_identity(self) -> str:
        """Who gave, for counting distinct donors (opendata): the account when signed in, else the
        e-mail address as typed, trimmed and case-folded. Anonymous gifts have one too: anonymity
        hides the name on pages, not the fact that someone gave."""
        return donor_identity(self.user_id, self.donor_email)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds if r.status == RefundStatus.SUCCEEDED)

    def __repr__(self) -> str:
        return f"<Donation {self.id} {self.status} {self.total} {self.currency}>"


class PaymentEvent(db.Model):
    """Every provider event id we acted on, once: a redelivery finds its row and changes nothing."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    received_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class PendingConfirmation(db.Model):
    """A verified checkout event waiting for the ledger's append lock, and then what became of it.

    donations/confirmations.py: each request records its event here (committed), then whoever
    holds the append lock applies every waiting one, in id order, in one transaction, and writes
    each one's `outcome`; the request that recorded it reads that and answers. A row holds no
    money and nothing the ledger needs: on PostgreSQL the table is UNLOGGED (its migration), so
    recording costs no WAL flush, and a crash that empties it loses only events not yet answered
    with a 2xx, which the provider delivers again."""

    __tablename__ = "pending_confirmations"
    __table_args__ = (
        # The lock holder's query: the waiting rows, oldest first, however many finished ones remain.
        sa.Index("ix_pending_confirmations_waiting", "id", postgresql_where=sa.text("outcome IS NULL"),
                 sqlite_where=sa.text("outcome IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(20))
    event_id: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(100))
    object: Mapped[dict] = mapped_column(sa.JSON)  # the provider's object, as re-fetched from it
    notify: Mapped[bool] = mapped_column(default=True)  # mail the donor (not while loading demo data)
    received_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    finished_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class RefundStatus(enum.StrEnum):
    REQUESTED = "requested"  # asked of the provider; the ledger waits for its confirmation
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Succeeded, then the provider reported it failed after all (the bank refused it): the money
    # stayed with the campaign, and a `refund_reversal` entry restores it in the ledger.
    REVERSED = "reversed"


class Refund(db.Model):
    __tablename__ = "donation_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(sa.ForeignKey("donations.id", ondelete="RESTRICT"), index=True)
    provider_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10), default=RefundStatus.REQUESTED.value)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ledger_seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    reversed_seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    donation: Mapped[Donation] = relationship(back_populates="refunds")

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(_in("status", RefundStatus), name="status_known"),
        sa.CheckConstraint("status <> 'reversed' OR (ledger_seq IS NOT NULL AND reversed_seq IS NOT NULL)",
                           name="reversed_is_recorded"),
    )


class Dispute(db.Model):
    """A chargeback: funds withdrawn (a `chargeback` entry), perhaps reinstated (a reversal)."""

    __tablename__ = "donation_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(sa.ForeignKey("donations.id", ondelete="RESTRICT"), index=True)
    provider_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    withdrawn_seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    reinstated_seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)


class SandboxObject(db.Model):
    """The sandbox provider's own records, in Stripe's JSON shape (no real money, no Stripe)."""

    __tablename__ = "sandbox_objects"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class AnomalyKind(enum.StrEnum):
    # A provider object that names one of our donations (in its metadata) but is not the payment
    # that donation was paid with: somebody else's payment on the same provider account.
    FOREIGN_PAYMENT = "foreign_payment"
    # A refund or chargeback that would take back more than the donation received.
    OVERDRAWN = "overdrawn"
    # In another currency than the donation's: nothing can be booked without a rate.
    CURRENCY = "currency"
    # A payment of another amount than the donation's (a virtual account paid short or over):
    # recorded as what it is, never booked as the intended gift.
    AMOUNT = "amount"


class PaymentAnomaly(db.Model):
    """Something the provider reports that the ledger must not take in: recorded once, with no
    ledger entry, for admins and auditors to look into (the reconciliation page lists them)."""

    __tablename__ = "payment_anomalies"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    provider: Mapped[str] = mapped_column(sa.String(10))
    provider_object: Mapped[str] = mapped_column(sa.String(255))  # the refund, dispute or payment id
    donation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("donations.id", ondelete="RESTRICT"),
                                                    index=True)
    amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    detail: Mapped[str] = mapped_column(sa.Text)  # in English, as logged
    # The same as a code and its values, shown in the reader's language (donations.diagnostics);
    # None for anomalies recorded before there were facts.
    facts: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    __table_args__ = (
        sa.CheckConstraint(_in("kind", AnomalyKind), name="kind_known"),
        sa.UniqueConstraint("kind", "provider_object"),  # recorded once, however often reported
    )


class ReconciliationRun(db.Model):
    """One `flask payments reconcile`: the window it compared and what it could not settle."""

    __tablename__ = "payment_reconciliations"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(10))
    since: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    finished_at: Mapped[dt.datetime | None]
    checked: Mapped[int] = mapped_column(default=0)  # provider objects looked at
    applied: Mapped[int] = mapped_column(default=0)  # of those, ones that changed something here
    # [{"object", "reason" (English, as logged), "facts" (donations.diagnostics; not in older runs)}]
    unsettled: Mapped[list] = mapped_column(sa.JSON, default=list)
