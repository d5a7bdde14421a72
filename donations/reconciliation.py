"""Reconciliation: bring the ledger level with what each payment provider actually did.

A webhook can be lost for good (retries given up, an endpoint down for days, a worker killed
between the sandbox's change and its confirmation). Reconciliation asks the provider itself:
its undelivered in-process events first, then every checkout, refund and dispute created in the
window, and every refund still set aside here. What the ledger lacks is applied through the
same code path as a webhook (`giving.apply_object`), so a second run, or a webhook arriving
meanwhile, changes nothing. What it cannot settle (an anomaly, a payment paid there and flagged
here, a provider that cannot be reached) is kept on the run and shown to admins and auditors.

Each provider object is applied in its own transaction, in the lock order giving documents
(the donation's row, then the ledger's append lock), and no transaction is open while the
provider is being asked.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import sqlalchemy as sa

from amanah.db import now_utc
from amanah.extensions import db
from donations import confirmations, giving
from donations.gateway import GatewayError, PaymentGateway
from donations.models import (
    Dispute,
    Donation,
    DonationStatus,
    ReconciliationRun,
    Refund,
    RefundStatus,
)
from donations.providers import configured_gateways

log = logging.getLogger(__name__)

# How long a refund set aside here may wait for the provider's answer before reconciliation asks
# the provider itself: past this, no request is still in flight under its idempotency key.
RESERVATION_GRACE = dt.timedelta(minutes=15)
# The window a scheduled run looks back over: Stripe retries a webhook for three days, so runs
# every few minutes with this overlap see every object whose events could still be missing.
DEFAULT_WINDOW = dt.timedelta(days=3)
UNCHANGED = frozenset({"unchanged", "duplicate", "ignored"})


@dataclasses.dataclass
class _Tally:
    checked: int = 0
    applied: int = 0
    unsettled: list[dict] = dataclasses.field(default_factory=list)

    def problem(self, provider_object: str, reason: str, facts: dict | None = None) -> None:
        """`reason` in English (logged, kept); `facts` the same for the page (donations.diagnostics)."""
        log.warning("reconciliation could not settle %s: %s", provider_object, reason)
        self.unsettled.append({"object": provider_object, "reason": reason[:500], "facts": facts})

    def unreachable(self, provider_object: str, exc: GatewayError) -> None:
        self.problem(provider_object, f"the provider could not be asked: {exc}",
                     {"code": "provider_unreachable", "detail": str(exc)[:500]})


def reconcile(since: dt.datetime | None = None) -> list[ReconciliationRun]:
    """One run per configured provider, each committed as a ReconciliationRun."""
    since = since or now_utc() - DEFAULT_WINDOW
    drained = confirmations.drain()  # events whose requests died waiting for the append lock
    if drained:
        log.info("applied %s confirmations left waiting", drained)
    return [reconcile_provider(gateway, since) for gateway in configured_gateways()]


def reconcile_provider(gateway: PaymentGateway, since: dt.datetime) -> ReconciliationRun:
    db.session.rollback()
    run = ReconciliationRun(provider=gateway.name, since=since, unsettled=[])
    db.session.add(run)
    db.session.flush()
    # Read before the commit: afterwards, run.id would be loaded again, in a transaction left open
    # (on SQLite, the write lock) while the provider's first list page is being fetched.
    run_id, tally = run.id, _Tally()
    db.session.commit()  # a run that dies half-way stays visible, without a finish time
    try:
        _redeliver(gateway, tally)
        _checkouts(gateway, since, tally)
        _refunds(gateway, since, tally)
        _disputes(gateway, since, tally)
        _reservations(gateway, tally)
        _estimated_fees(gateway, tally)
    except GatewayError as exc:  # listing failed: what was not looked at is not settled
        db.session.rollback()
        tally.unreachable(gateway.name, exc)
    db.session.rollback()
    run = db.session.get(ReconciliationRun, run_id)
    run.checked, run.applied, run.unsettled = tally.checked, tally.applied, tally.unsettled
    run.finished_at = now_utc()
    db.session.commit()
    log.info("reconciled %s since %s: %d checked, %d applied, %d unsettled", gateway.name,
             since.isoformat(), tally.checked, tally.applied, len(tally.unsettled))
    return run


def _apply(tally: _Tally, provider_object: str, apply) -> str | None:
    """Run one application, counting it; a provider or ordering problem becomes unsettled."""
    try:
        result = apply()
    except giving.RetryLater as exc:
        tally.problem(provider_object, str(exc), exc.facts)
        return None
    except GatewayError as exc:
        tally.unreachable(provider_object, exc)
        return None
    if result not in UNCHANGED:
        tally.applied += 1
        log.info("reconciliation applied %s: %s", provider_object, result)
    return result


def _redeliver(gateway: PaymentGateway, tally: _Tally) -> None:
    for event in gateway.undelivered_events():
        tally.checked += 1
        _apply(tally, event["id"], lambda event=event: giving.handle_event(event, gateway))


# ---- payments ----

def _checkout_event(session: dict) -> str | None:
    """Which event the session's present state stands for; None while it is still open."""
    if session.get("payment_status") in ("paid", "no_payment_required"):
        return "checkout.session.completed"
    if session.get("status") == "expired":
        return "checkout.session.expired"
    if session.get("status") == "complete":  # unpaid: failed, unless still processing (giving checks)
        return "checkout.session.async_payment_failed"
    return None


def _checkouts(gateway: PaymentGateway, since: dt.datetime, tally: _Tally) -> None:
    for session in gateway.checkouts_since(since):
        tally.checked += 1
        donation_id = giving.donation_id_in(session.get("metadata"))
        if donation_id is None:
            continue  # not opened by us (another integration on the same account)
        event_type = _checkout_event(session)
        row = _donation_row(donation_id)
        paid = event_type == "checkout.session.completed"
        if row is None or row.checkout_id != session["id"] or row.provider != gateway.name:
            if paid:
                tally.problem(session["id"], f"paid, and names donation {donation_id}, which was not "
                                             "opened with this checkout",
                              {"code": "paid_wrong_checkout", "donation": donation_id})
            continue
        if event_type is None or row.status != DonationStatus.PENDING:
            if paid and row.status != DonationStatus.PAID:
                tally.problem(session["id"],
                              f"paid at the provider, donation {donation_id} is {row.status} here",
                              {"code": "paid_not_booked", "donation": donation_id, "status": row.status})
            continue
        result = _apply(tally, session["id"], lambda event_type=event_type, session=session:
                        giving.apply_object(gateway, event_type, session))
        status = _donation_row(donation_id).status
        if paid and result is not None and status != DonationStatus.PAID:
            tally.problem(session["id"], f"paid at the provider, donation {donation_id} is {status} here "
                                         f"({result})",
                          {"code": "paid_not_booked", "donation": donation_id, "status": status})


def _donation_row(donation_id: int):
    row = db.session.execute(
        sa.select(Donation.status, Donation.checkout_id, Donation.provider, Donation.payment_intent)
        .where(Donation.id == donation_id)).first()
    db.session.rollback()
    return row


def _concerns_us(gateway: PaymentGateway, obj: dict) -> bool:
    """Whether a refund or dispute is about a payment of ours, or claims to be (its metadata names
    a donation): only those can need booking, or be an anomaly worth reporting."""
    intent = obj.get("payment_intent")
    known = isinstance(intent, str) and db.session.scalar(sa.select(Donation.id).where(
        Donation.payment_intent == intent, Donation.provider == gateway.name)) is not None
    db.session.rollback()
    return known or giving.donation_id_in(obj.get("metadata")) is not None


# ---- refunds ----

def _refund_state(provider_id: str) -> str | None:
    status = db.session.scalar(sa.select(Refund.status).where(Refund.provider_id == provider_id))
    db.session.rollback()
    return status


def _refund_settled(state: str | None, data: dict) -> bool:
    status = data.get("status")
    if status == "succeeded":
        return state == RefundStatus.SUCCEEDED
    if status in ("failed", "canceled"):
        return state in (None, RefundStatus.FAILED, RefundStatus.REVERSED)
    return True  # pending at the provider: nothing to book yet


def _refunds(gateway: PaymentGateway, since: dt.datetime, tally: _Tally) -> None:
    for data in gateway.refunds_since(since):
        tally.checked += 1
        if _refund_settled(_refund_state(data["id"]), data) or not _concerns_us(gateway, data):
            continue
        result = _apply(tally, data["id"],
                        lambda data=data: giving.apply_object(gateway, "refund.updated", data))
        if result is not None and not _refund_settled(_refund_state(data["id"]), data):
            tally.problem(data["id"], f"{data.get('status')} at the provider, not booked here ({result})",
                          {"code": "refund_not_booked", "provider_status": str(data.get("status")),
                           "result": result})


def _reservations(gateway: PaymentGateway, tally: _Tally) -> None:
    """Refunds set aside here whose provider answer never came (lost, or its outcome unknown):
    booked if the provider made them, released if it did not."""
    stale = db.session.execute(
        sa.select(Refund.id, Refund.provider_id, Donation.id.label("donation_id"), Donation.charge_id)
        .join(Donation, Refund.donation_id == Donation.id)
        .where(Refund.status == RefundStatus.REQUESTED, Donation.provider == gateway.name,
               Refund.created_at < now_utc() - RESERVATION_GRACE)
        .order_by(Refund.id)).all()
    db.session.rollback()
    for row in stale:
        tally.checked += 1
        name = row.provider_id or f"reservation {row.id}"
        try:
            if row.provider_id:
                found = gateway.fetch_refund(row.provider_id)
            else:
                made = [r for r in gateway.list_refunds(row.charge_id) if row.charge_id
                        and str((r.get("metadata") or {}).get("amanah_refund")) == str(row.id)]
                found = made[0] if made else None
        except GatewayError as exc:
            tally.unreachable(name, exc)
            continue
        if found is None:
            # The provider never made it: the money set aside is the campaign's again.
            if giving.release_reservation(row.donation_id, row.id):
                tally.applied += 1
                log.warning("refund reservation %s of donation %s released: the provider has no such "
                            "refund", row.id, row.donation_id)
            continue
        result = _apply(tally, found["id"],
                        lambda found=found: giving.apply_object(gateway, "refund.updated", found))
        state = db.session.scalar(sa.select(Refund.status).where(Refund.id == row.id))
        db.session.rollback()
        if result is not None and state == RefundStatus.REQUESTED and found.get("status") not in (
                "pending", "requires_action"):
            tally.problem(found["id"],
                          f"{found.get('status')} at the provider, still set aside here ({result})",
                          {"code": "refund_still_set_aside", "provider_status": str(found.get("status")),
                           "result": result})


# ---- fees booked as estimates ----

def _estimated_fees(gateway: PaymentGateway, tally: _Tally) -> None:
    """Fees booked from a price list because the provider had not booked its own yet: replaced by
    the actual fee once the provider has it (an estimate still waiting is not a problem)."""
    ids = db.session.scalars(sa.select(Donation.id).where(
        Donation.provider == gateway.name, Donation.fee_estimated.is_(True),
        Donation.fee_corrected_seq.is_(None), Donation.ledger_seq.is_not(None)).order_by(Donation.id)).all()
    db.session.rollback()
    for donation_id in ids:
        tally.checked += 1
        _apply(tally, f"donation {donation_id}'s fee",
               lambda donation_id=donation_id: giving.correct_estimated_fee(gateway, donation_id))


# ---- disputes ----

def _dispute_state(provider_id: str) -> tuple[bool, bool]:
    row = db.session.execute(sa.select(Dispute.withdrawn_seq, Dispute.reinstated_seq)
                             .where(Dispute.provider_id == provider_id)).first()
    db.session.rollback()
    return (row is not None and row.withdrawn_seq is not None,
            row is not None and row.reinstated_seq is not None)


def _dispute_expected(data: dict) -> tuple[bool, bool]:
    # An inquiry (warning_*) takes no money; any other dispute withdrew it, and a won one gave it back.
    status = str(data.get("status") or "")
    return not status.startswith("warning_"), status == "won"


def _disputes(gateway: PaymentGateway, since: dt.datetime, tally: _Tally) -> None:
    for data in gateway.disputes_since(since):
        tally.checked += 1
        expected = _dispute_expected(data)
        if _dispute_state(data["id"]) == expected or not expected[0] or not _concerns_us(gateway, data):
            continue
        result = _apply(tally, data["id"], lambda data=data: giving.apply_object(
            gateway, "charge.dispute.funds_withdrawn", data))
        if result is not None and _dispute_state(data["id"]) != expected:
            tally.problem(data["id"], f"{data.get('status')} at the provider, not booked here ({result})",
                          {"code": "dispute_not_booked", "provider_status": str(data.get("status")),
                           "result": result})


def recent_runs(limit: int = 50) -> list[ReconciliationRun]:
    return list(db.session.scalars(
        sa.select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)))
