"""Giving: start a donation, confirm it from the provider's events, refunds and chargebacks.

One code path for money: Stripe's webhooks and the sandbox's events both arrive at
`handle_event`. An event is only a trigger: the provider's objects are re-fetched (outside any
database transaction), then one transaction records the event id, moves the donation along a
one-way transition and appends the ledger entries. Nothing here commits except handle_event,
apply_object and book_held_payment (a treasurer accepting a payment held for a check).
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import logging
import secrets

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from amanah.db import now_utc
from amanah.errors import UserError
from amanah.extensions import db
from amanah.i18n import format_money
from amanah.links import absolute_url
from amanah.mail import deliver, render_message
from amanah.money import MAX_MINOR
from amanah.transactions import after_commit
from donations import anomalies, methods
from donations.balances import available_balance
from donations.dashboard import guest_token, verified_owner
from donations.fees import fee_to_cover
from donations.gateway import CheckoutRequest, GatewayError, PaymentGateway
from donations.issuing import issuer
from donations.ledger_references import actual_fee_payment
from donations.models import (
    AnomalyKind,
    Dispute,
    Donation,
    DonationStatus,
    PaymentAnomaly,
    PaymentEvent,
    Refund,
    RefundStatus,
)
from donations.providers import gateway_named, get_gateway, is_sandbox_provider
from ledger import storage
from ledger.entry import donor_commitment

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The event cannot be applied yet (e.g. a refund of a donation not yet confirmed): 503, retried.
    `facts` say why for reconciliation's page (donations.diagnostics)."""

    def __init__(self, message: str, facts: dict | None = None):
        super().__init__(message)
        self.facts = facts


# ---- events ----

# True while the holder of the ledger's append lock applies a batch of confirmations: it must not
# wait for a donation's row (whoever holds it may be waiting for the append lock), see confirmations.
_rows_nowait = contextvars.ContextVar("donation_rows_nowait", default=False)


@contextlib.contextmanager
def donation_rows_nowait():
    token = _rows_nowait.set(True)
    try:
        yield
    finally:
        _rows_nowait.reset(token)


class _BatchAppender(storage.Appender):
    """One Appender for a batch of confirmations: each one's flush() waits for the batch's end, and
    so do their receipts (numbered together, in ledger order, once the entries are written)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.receipts: list[tuple[Donation, bytes]] = []
        self._paid: list[dict] = []

    def flush(self) -> None:
        pass

    def paid(self, donation: Donation, values: dict, leaf_hash: bytes) -> None:
        """`donation` is paid, with `values` (and its entry's leaf hash): what _mark_paid sets one by one
        otherwise. The batch's donations are written with one UPDATE at its end instead of through
        the ORM's unit of work; the objects get the same values, as the database will hold them."""
        donation.check_move(DonationStatus.PAID)
        values = {**values, "status": DonationStatus.PAID.value}
        for column, value in values.items():
            sa.orm.attributes.set_committed_value(donation, column, value)
        self._paid.append({"b_id": donation.id, **values})
        self.receipts.append((donation, leaf_hash))

    def flush_batch(self) -> None:
        super().flush()
        if self._paid:
            db.session.execute(_PAID_UPDATE, self._paid)
            self._paid = []
        if self.receipts:
            documents = issuer()
            if documents.receipts is None:
                for donation, leaf_hash in self.receipts:
                    documents.receipt(donation, leaf_hash)
            else:
                documents.receipts(self.receipts)
            self.receipts = []


_PAID_COLUMNS = ("ledger_seq", "paid_at", "payment_intent", "processor_fee", "fee_estimated", "charge_id",
                 "status")
_PAID_UPDATE = (sa.update(Donation.__table__).where(Donation.__table__.c.id == sa.bindparam("b_id"))
                .values({c: sa.bindparam(c) for c in _PAID_COLUMNS}))

_preloaded: contextvars.ContextVar[dict | None] = contextvars.ContextVar("donations_preloaded", default=None)
_shared_appender: contextvars.ContextVar[_BatchAppender | None] = contextvars.ContextVar(
    "shared_appender", default=None)


@contextlib.contextmanager
def confirming_together(donation_ids: list[int]):
    """Around the confirmations of a batch (confirmations._apply_together), which already holds the
    ledger's append lock: their donations' rows are locked (NOWAIT) and loaded in one query, one
    Appender takes every entry and writes them all, with their tree hashes and totals, at the end.
    Any failure fails the whole batch (the caller then applies its events one by one)."""
    rows = db.session.execute(_batch_donations(), {"ids": sorted(set(donation_ids))}).unique().scalars().all()
    appender = _BatchAppender(db.session, locked=True)
    tokens = (_rows_nowait.set(True), _preloaded.set({d.id: d for d in rows}), _shared_appender.set(appender))
    try:
        yield
        appender.flush_batch()
    finally:
        _shared_appender.reset(tokens[2])
        _preloaded.reset(tokens[1])
        _rows_nowait.reset(tokens[0])


@functools.cache
def _batch_donations():
    """The batch's donations, locked (NOWAIT) and loaded with their campaign and donor; built once."""
    return (sa.select(Donation).where(Donation.id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(Donation.id)
            .with_for_update(of=Donation.__table__, nowait=True)
            .options(sa.orm.joinedload(Donation.campaign).lazyload("*"),
                     sa.orm.joinedload(Donation.user).lazyload("*")))


def _lock_donation(donation_id: int) -> Donation | None:
    preloaded = (_preloaded.get() or {}).get(donation_id)
    if preloaded is not None:
        return preloaded  # locked by confirming_together, in this transaction
    return db.session.execute(
        sa.select(Donation).where(Donation.id == donation_id)
        .with_for_update(of=Donation.__table__, nowait=_rows_nowait.get())
    ).scalar_one_or_none()


def donation_id_in(metadata: dict | None) -> int | None:
    """The donation a provider object's metadata names (a hint to check, never proof of ownership)."""
    raw = (metadata or {}).get("donation_id", "")
    ok = isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 19
    return int(raw) if ok else None


_CONFIRM = "donations.confirm"


def confirm_with(app, confirm) -> None:
    """donations.confirmations hands over its entry point at init_app time: it sits above this
    module (it applies batches through apply_checkout), so this module does not import it."""
    app.extensions[_CONFIRM] = confirm


def handle_event(event: dict, gateway: PaymentGateway | None = None) -> str:
    """Apply one event of `gateway` (already authenticated; by default this request's provider);
    returns what happened, for logs and tests."""
    gateway = gateway or get_gateway()
    event_type, event_id = event.get("type"), event.get("id")
    handler = HANDLERS.get(event_type)
    if handler is None or not isinstance(event_id, str):
        return "ignored"
    # Never hold a transaction (or SQLite's write lock) across the network. A redelivered event is
    # not looked up first: that would cost every delivery a transaction to save a rare duplicate
    # one Stripe request; the unique event id below turns the duplicate away all the same.
    db.session.rollback()
    if handler is _checkout_handler:  # a confirmation: applied in a batch with those waiting
        session = gateway.fetch_checkout(event["data"]["object"]["id"])
        return current_app.extensions[_CONFIRM](gateway.name, event_id, event_type, session)
    try:
        apply = handler(gateway, event_type, event["data"]["object"])
    except NotOurs as exc:
        apply = exc.acknowledge
    try:
        db.session.add(PaymentEvent(event_id=event_id, type=event_type))
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    try:
        result = apply()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def apply_object(gateway: PaymentGateway, event_type: str, obj: dict) -> str:
    """What handle_event does for an event, without one: reconciliation applies the provider's
    current objects through this same path (idempotent: what is recorded already stays as is)."""
    db.session.rollback()
    try:
        apply = HANDLERS[event_type](gateway, event_type, obj)
    except NotOurs as exc:
        apply = exc.acknowledge
    try:
        result = apply()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def _checkout_handler(gateway: PaymentGateway, event_type: str, obj: dict):
    session = gateway.fetch_checkout(obj["id"])
    return lambda: _apply_checkout(gateway.name, event_type, session)


def apply_checkout(provider: str, event_type: str, session: dict) -> str:
    """A checkout session's news, in the caller's transaction (confirmations applies batches).

    Only the provider's name is needed: the session was re-fetched already, by whoever recorded
    the event. The leader of a batch may be an app server where that provider is not configured."""
    return _apply_checkout(provider, event_type, session)


def _apply_checkout(provider: str, event_type: str, session: dict) -> str:
    donation_id = donation_id_in(session.get("metadata"))
    donation = _lock_donation(donation_id) if donation_id else None
    if donation is None or donation.checkout_id != session["id"] or donation.provider != provider:
        log.warning("checkout %s matches no donation", session.get("id"))
        return "unknown"
    if session.get("payment_status") == "paid":
        return _mark_paid(donation, session)
    if donation.status != DonationStatus.PENDING:
        return "unchanged"
    if session.get("status") == "expired":
        donation.move_to(DonationStatus.EXPIRED)
        return "expired"
    intent = session.get("payment_intent")
    if isinstance(intent, dict) and intent.get("status") in ("processing", "succeeded"):
        return "unchanged"  # a failure reported out of order: the payment is still on its way
    if event_type == "checkout.session.async_payment_failed":
        donation.move_to(DonationStatus.FAILED)
        return "failed"
    return "unchanged"


def _mark_paid(donation: Donation, session: dict, held: bool = False) -> str:
    """Book the paid `session` for `donation`, pending (or, with `held`, held for a check)."""
    if donation.status != (DonationStatus.FLAGGED if held else DonationStatus.PENDING):
        return "unchanged"
    amount, currency = session.get("amount_total"), (session.get("currency") or "").upper()
    intent = session.get("payment_intent")
    if amount != donation.total or currency != donation.currency or not isinstance(intent, dict):
        donation.move_to(DonationStatus.FLAGGED)
        donation.flag_reason = (f"provider reports {amount} {currency}, "
                                f"expected {donation.total} {donation.currency}")
        log.warning("donation %s flagged: %s", donation.id, donation.flag_reason)
        if isinstance(amount, int) and amount != donation.total and currency == donation.currency:
            # Paid short or over (a virtual account): what was paid is kept for the treasurer,
            # and none of it counts as the intended gift.
            anomalies.record(AnomalyKind.AMOUNT, provider=donation.provider, provider_object=session["id"],
                             donation_id=donation.id, amount=amount, currency=currency,
                             detail=f"paid {amount}, the donation is {donation.total}",
                             facts={"code": "paid_other_amount", "paid": amount, "asked": donation.total})
        return "flagged"
    charge = intent.get("latest_charge") or {}
    txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
    fee = 0
    if isinstance(txn, dict):
        if (txn.get("currency") or "").upper() == currency:
            fee = int(txn.get("fee") or 0)
        else:  # settled in another currency: the fee is not in the campaign's currency
            log.warning("donation %s: fee in %s not recorded", donation.id, txn.get("currency"))
    # Load what the entries and the receipt need before taking the append lock: a lazy load
    # under it would be one more round trip that every other confirmation waits for.
    campaign, _user = donation.campaign, donation.user
    appender = _shared_appender.get() or storage.Appender(db.session)
    entry = appender.append(kind="donation", campaign=campaign.public_id, amount=amount,
                            currency=currency, donor=donor_commitment(donation.donor_secret),
                            payment=intent["id"], memo=session.get("ledger_memo"),
                            donor_key=donation.donor_identity)
    if fee > 0:
        appender.append(kind="fee", campaign=campaign.public_id, amount=-fee, currency=currency,
                        ref=entry.seq, payment=intent["id"],
                        memo=txn.get("ledger_memo") if isinstance(txn, dict) else None)
    appender.flush()
    paid = {"ledger_seq": entry.seq, "paid_at": now_utc(), "payment_intent": intent["id"],
            "processor_fee": fee,
            "fee_estimated": fee > 0 and isinstance(txn, dict) and bool(txn.get("estimate")),
            "charge_id": charge.get("id") if isinstance(charge, dict) else charge}
    if isinstance(appender, _BatchAppender):
        appender.paid(donation, paid, entry.leaf_hash)  # written and numbered at the batch's end, in order
    else:
        for column, value in paid.items():
            setattr(donation, column, value)
        donation.move_to(DonationStatus.PAID)
        issuer().receipt(donation, entry.leaf_hash)  # numbered in this same transaction
    _queue_paid_mail(donation)
    return "paid"


def _fee_of(session: dict) -> tuple[dict | None, bool]:
    """(the balance transaction of a paid session, whether its fee is only an estimate)."""
    intent = session.get("payment_intent")
    charge = intent.get("latest_charge") if isinstance(intent, dict) else None
    txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
    return (txn, bool(txn.get("estimate"))) if isinstance(txn, dict) else (None, True)


def correct_estimated_fee(gateway: PaymentGateway, donation_id: int) -> str:
    """Replace a fee booked as an estimate by the provider's actual fee, once the provider knows it:
    a `fee_reversal` entry takes the estimate back, a `fee` entry books the actual fee. The ledger
    only grows; the estimate's entry stays, and says it was one. Idempotent."""
    db.session.rollback()
    row = db.session.execute(sa.select(Donation.checkout_id, Donation.currency).where(
        Donation.id == donation_id, Donation.fee_estimated.is_(True),
        Donation.fee_corrected_seq.is_(None), Donation.provider == gateway.name)).first()
    db.session.rollback()
    if row is None or not row.checkout_id:
        return "unchanged"
    txn, estimated = _fee_of(gateway.fetch_checkout(row.checkout_id))
    if estimated or (txn.get("currency") or "").upper() != row.currency:
        return "unchanged"  # the provider has not booked it yet
    actual = int(txn.get("fee") or 0)
    try:
        donation = _lock_donation(donation_id)
        if donation.fee_corrected_seq is not None or not donation.fee_estimated:
            db.session.rollback()
            return "unchanged"
        campaign = donation.campaign
        appender = storage.Appender(db.session)
        reversal = appender.append(kind="fee_reversal", campaign=campaign.public_id,
                                   amount=donation.processor_fee, currency=donation.currency,
                                   ref=donation.ledger_seq + 1, payment=donation.payment_intent,
                                   memo="Estimated fee replaced by the provider's actual fee")
        if actual > 0:
            appender.append(kind="fee", campaign=campaign.public_id, amount=-actual,
                            currency=donation.currency, ref=donation.ledger_seq,
                            payment=actual_fee_payment(donation.payment_intent),
                            memo=txn.get("ledger_memo"))
        appender.flush()
        donation.fee_corrected_seq, donation.actual_fee = reversal.seq, actual
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("donation %s: estimated fee %s replaced by the actual %s", donation_id,
             donation.processor_fee, actual)
    return "fee corrected"


# What the donor is told, by event: (subject, template under templates/mail/).
DONOR_MAILS = {
    "paid": (_l("Thank you for your donation"), "donation_paid"),
    "refunded": (_l("A refund of your donation"), "donation_refunded"),
    "refund_reversed": (_l("Your refund did not go through"), "donation_refund_reversed"),
}


def _queue_donor_mail(kind: str, donation: Donation, **details) -> None:
    """Note a mail to the donor, rendered and sent after the commit.

    Rendering waits until then because this runs while the ledger's append lock is held, and the
    lock should cover only the append itself. A rolled-back event sends nothing.
    """
    if not has_request_context() or g.get("_no_donation_mail"):
        return
    after_commit(_send_donor_mail, {
        "kind": kind, "id": donation.id, "donor_name": donation.donor_name,
        "donor_email": donation.donor_email, "locale": donation.locale, "total": donation.total,
        "currency": donation.currency, "ledger_seq": donation.ledger_seq,
        "donor_secret": donation.donor_secret, "campaign": {"title": donation.campaign.title},
        "sandbox": is_sandbox_provider(donation.provider), **details})


def _queue_paid_mail(donation: Donation) -> None:
    _queue_donor_mail("paid", donation)


def _send_donor_mail(note: dict) -> None:
    try:
        token = guest_token(note["id"])
        links = {"link": absolute_url("giving.guest_view", token=token),
                 "receipt_link": absolute_url("documents.guest_receipt", token=token)}
        if note.get("document"):
            links["document_link"] = absolute_url("documents.guest_document", token=token,
                                                  serial=note["document"])
        subject, template = DONOR_MAILS[note["kind"]]
        deliver(render_message(note["donor_email"], subject, template, locale=note["locale"],
                               donation=note, **links))
    except Exception:
        # The payment is recorded; failing the webhook now would only make Stripe repeat it.
        log.exception("could not send the %s mail for donation %s", note["kind"], note["id"])


class NotOurs(Exception):
    """The provider object is not a payment of ours: acknowledged (a retry would find the same),
    logged once, and recorded as an anomaly when it names one of our donations."""

    def __init__(self, provider: str, provider_object: str, reason: str, claimed: int | None = None,
                 facts: dict | None = None):
        super().__init__(f"{provider_object}: {reason}")
        self.provider, self.provider_object = provider, provider_object
        self.reason, self.claimed, self.facts = reason, claimed, facts

    def acknowledge(self) -> str:
        if self.claimed is None:
            log.info("not one of our payments: %s", self)
        elif db.session.get(Donation, self.claimed) is not None:
            anomalies.record(AnomalyKind.FOREIGN_PAYMENT, provider=self.provider,
                             provider_object=self.provider_object, donation_id=self.claimed,
                             detail=f"names donation {self.claimed} but {self.reason}",
                             facts={**(self.facts or {}), "donation": self.claimed})
        return "not ours"


def _intent_id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _donation_for_intent(gateway: PaymentGateway, payment_intent, about: str) -> tuple[int, dict | None]:
    """(donation id, re-fetched checkout session when the donation still awaits confirmation) of
    the donation paid by `payment_intent`, or NotOurs.

    A donation owns a payment only by the PaymentIntent stored when it was paid, or, before that,
    by the one its own checkout session reports. Metadata anybody can set on the same account, so
    it only says which donation to ask about, never which one to book against.
    """
    if not isinstance(payment_intent, str) or not payment_intent:
        raise NotOurs(gateway.name, about, "it has no payment", facts={"code": "no_payment"})
    columns = (Donation.id, Donation.status, Donation.checkout_id, Donation.payment_intent)
    row = db.session.execute(sa.select(*columns).where(Donation.payment_intent == payment_intent,
                                                       Donation.provider == gateway.name)).first()
    db.session.rollback()
    if row is not None:
        return row.id, None
    claimed = donation_id_in(gateway.fetch_payment_intent(payment_intent).get("metadata"))
    row = db.session.execute(sa.select(*columns).where(Donation.id == claimed,
                                                       Donation.provider == gateway.name)).first() \
        if claimed else None
    db.session.rollback()
    if row is None or row.payment_intent is not None or not row.checkout_id:
        raise NotOurs(gateway.name, about, f"payment {payment_intent} is not the one it was paid with",
                      claimed, facts={"code": "not_its_payment", "payment": payment_intent})
    session = gateway.fetch_checkout(row.checkout_id)
    if _intent_id(session.get("payment_intent")) != payment_intent:
        raise NotOurs(gateway.name, about, f"payment {payment_intent} is not its checkout's", claimed,
                      facts={"code": "not_its_checkout", "payment": payment_intent})
    return row.id, session if row.status == DonationStatus.PENDING else None


def _paid_donation(donation_id: int, session: dict | None) -> Donation:
    donation = _lock_donation(donation_id)
    if donation is None:
        raise RetryLater("no donation for this payment", facts={"code": "no_donation_for_payment"})
    if session is not None and session.get("payment_status") == "paid":
        _mark_paid(donation, session)  # a refund or dispute arrived before the payment's own event
    if donation.status != DonationStatus.PAID:
        raise RetryLater(f"donation {donation.id} is {donation.status}",
                         facts={"code": "donation_not_paid", "donation": donation.id,
                                "status": donation.status})
    return donation


def _refund_handler(gateway: PaymentGateway, event_type: str, obj: dict):
    if event_type == "charge.refunded":
        refunds = gateway.list_refunds(obj["id"])
        intent = obj.get("payment_intent")
    else:
        refunds = [gateway.fetch_refund(obj["id"])]
        intent = refunds[0].get("payment_intent")
    donation_id, session = _donation_for_intent(gateway, intent, obj["id"])
    return lambda: _apply_refunds(_paid_donation(donation_id, session), refunds)


def _taken_back(donation: Donation) -> int:
    """What refunds and chargebacks have taken back from the donation so far."""
    withdrawn = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Dispute.amount), 0)).where(
        Dispute.donation_id == donation.id, Dispute.withdrawn_seq.is_not(None),
        Dispute.reinstated_seq.is_(None))) or 0
    return donation.refunded + withdrawn


def _refusal(donation: Donation, data: dict, amount) -> tuple[AnomalyKind, str, dict] | None:
    """Why the provider's refund or dispute `data` cannot be booked against `donation` (its kind,
    in English, and as facts), or None."""
    if data.get("payment_intent") != donation.payment_intent:
        return AnomalyKind.FOREIGN_PAYMENT, (f"belongs to payment {data.get('payment_intent')}, "
                                             f"not {donation.payment_intent}"), {
            "code": "other_payment", "payment": str(data.get("payment_intent")),
            "expected": donation.payment_intent}
    if (data.get("currency") or "").upper() != donation.currency:
        return AnomalyKind.CURRENCY, f"in {data.get('currency')}, the donation in {donation.currency}", {
            "code": "other_currency", "currency": str(data.get("currency")).upper(),
            "expected": donation.currency}
    if not isinstance(amount, int) or amount <= 0 or _taken_back(donation) + amount > donation.total:
        taken = _taken_back(donation)
        facts = {"code": "overdrawn", "amount": amount, "received": donation.total, "taken": taken}
        return AnomalyKind.OVERDRAWN, (f"{amount} would take back more than the {donation.total} "
                                       f"received ({taken} taken back already)"), facts
    return None


def _record_refusal(donation: Donation, data: dict, refusal: tuple[AnomalyKind, str, dict]) -> None:
    kind, why, facts = refusal
    anomalies.record(kind, provider=donation.provider, provider_object=data["id"], donation_id=donation.id,
                     amount=data.get("amount") if isinstance(data.get("amount"), int) else None,
                     currency=(data.get("currency") or "").upper()[:3] or None, detail=why, facts=facts)


def _apply_refunds(donation: Donation, refunds: list[dict]) -> str:
    done, reversed_, refused = [], [], []
    for data in refunds:
        if data.get("payment_intent") != donation.payment_intent:
            _record_refusal(donation, data, _refusal(donation, data, data.get("amount")))
            refused.append(data["id"])
            continue
        row = db.session.execute(
            sa.select(Refund).where(Refund.provider_id == data["id"])).scalar_one_or_none()
        if row is None:
            row = _reservation(donation, data)
        if row is None and data.get("status") != "succeeded":
            continue  # made elsewhere (e.g. Stripe's dashboard) and not done: nothing to book yet
        if row is None:  # a refund made elsewhere (e.g. Stripe's dashboard)
            row = Refund(donation=donation, provider_id=data["id"], amount=data["amount"],
                         status=RefundStatus.REQUESTED.value)
            db.session.add(row)
        if row.status == RefundStatus.SUCCEEDED and data.get("status") in ("failed", "canceled"):
            _reverse_refund(donation, row, data)
            reversed_.append(data["id"])
            continue
        # A reservation given up as failed is booked all the same when the provider says the
        # refund was made: the provider's word settles what our own guess could not.
        if row.status not in (RefundStatus.REQUESTED, RefundStatus.FAILED):
            continue
        if data.get("status") == "succeeded":
            refusal = _refusal(donation, data, data.get("amount"))
            if refusal is not None:
                _record_refusal(donation, data, refusal)
                refused.append(data["id"])
                continue
            entry = storage.append(db.session, kind="refund", campaign=donation.campaign.public_id,
                                   amount=-data["amount"], currency=donation.currency,
                                   ref=donation.ledger_seq, payment=data["id"])
            row.amount, row.ledger_seq, row.status = data["amount"], entry.seq, RefundStatus.SUCCEEDED.value
            db.session.flush()
            note = issuer().credit_note(row, entry.leaf_hash)
            _queue_donor_mail("refunded", donation, amount=row.amount,
                              remaining=donation.total - donation.refunded, document=note.serial)
            done.append(data["id"])
        elif data.get("status") in ("failed", "canceled") and row.status == RefundStatus.REQUESTED:
            row.status = RefundStatus.FAILED.value
    outcome = [f"{what} {len(ids)}" for what, ids in
               (("refunded", done), ("reversed", reversed_), ("refused", refused)) if ids]
    return ", ".join(outcome) or "unchanged"


def _reverse_refund(donation: Donation, row: Refund, data: dict) -> None:
    """A refund recorded as succeeded that the provider now reports failed: the money never left.

    The refund entry stays (the ledger only grows); a `refund_reversal` pointing at it restores
    the amount, and the row's one-way move to REVERSED makes a second report change nothing. In
    the same way the credit note stays, and a numbered cancellation says it no longer applies.
    """
    entry = storage.append(db.session, kind="refund_reversal", campaign=donation.campaign.public_id,
                           amount=row.amount, currency=donation.currency, ref=row.ledger_seq,
                           payment=data["id"])
    row.status, row.reversed_seq = RefundStatus.REVERSED.value, entry.seq
    cancellation = issuer().cancellation(row, entry.leaf_hash)  # its credit note no longer applies
    _queue_donor_mail("refund_reversed", donation, amount=row.amount,
                      remaining=donation.total - donation.refunded,
                      document=cancellation.serial if cancellation else None)
    log.warning("refund %s of donation %s failed after succeeding: reversed in entry %s",
                data["id"], donation.id, entry.seq)


def _reservation(donation: Donation, data: dict) -> Refund | None:
    """Our reserved refund that this provider refund answers, when its event comes before we
    stored the provider's id (request_refund names the reservation in the refund's metadata)."""
    ref = str((data.get("metadata") or {}).get("amanah_refund") or "")
    if not (ref.isascii() and ref.isdigit() and len(ref) < 19):
        return None
    row = db.session.get(Refund, int(ref))
    if row is None or row.donation_id != donation.id or row.provider_id is not None:
        return None
    row.provider_id = data["id"]
    return row


def _dispute_handler(gateway: PaymentGateway, event_type: str, obj: dict):
    dispute = gateway.fetch_dispute(obj["id"])
    donation_id, session = _donation_for_intent(gateway, dispute.get("payment_intent"), dispute["id"])
    return lambda: _apply_dispute(event_type, _paid_donation(donation_id, session), dispute)


def _apply_dispute(event_type: str, donation: Donation, data: dict) -> str:
    row = db.session.execute(sa.select(Dispute).where(Dispute.provider_id == data["id"])).scalar_one_or_none()
    if row is None:
        refusal = _refusal(donation, data, data.get("amount"))
        if refusal is not None:
            _record_refusal(donation, data, refusal)
            return "refused"
        row = Dispute(donation_id=donation.id, provider_id=data["id"], amount=data["amount"])
        db.session.add(row)
    campaign, currency = donation.campaign.public_id, donation.currency
    result = "unchanged"
    # Converge on the provider's state, whatever order the events came in: a won dispute was withdrawn first.
    withdrawn = event_type == "charge.dispute.funds_withdrawn" or data.get("status") in ("won", "lost")
    if withdrawn and row.withdrawn_seq is None:
        entry = storage.append(db.session, kind="chargeback", campaign=campaign, amount=-row.amount,
                               currency=currency, ref=donation.ledger_seq, payment=data["id"])
        row.withdrawn_seq, result = entry.seq, "chargeback"
    if data.get("status") == "won" and row.withdrawn_seq is not None and row.reinstated_seq is None:
        entry = storage.append(db.session, kind="chargeback_reversal", campaign=campaign, amount=row.amount,
                               currency=currency, ref=row.withdrawn_seq, payment=data["id"])
        row.reinstated_seq, result = entry.seq, "reinstated"
    return result


HANDLERS = {
    "checkout.session.completed": _checkout_handler,
    "checkout.session.async_payment_succeeded": _checkout_handler,
    "checkout.session.async_payment_failed": _checkout_handler,
    "checkout.session.expired": _checkout_handler,
    "charge.refunded": _refund_handler,
    "refund.created": _refund_handler,
    "refund.updated": _refund_handler,
    "refund.failed": _refund_handler,
    "charge.dispute.funds_withdrawn": _dispute_handler,
    "charge.dispute.funds_reinstated": _dispute_handler,
}


# ---- starting a donation ----

def start_donation(campaign, *, amount: int, donor_name: str, donor_email: str, user=None,
                   message: str | None = None, anonymous: bool = False, cover_fee: bool = False,
                   locale: str = "id", method: str = "card", donor_npwp: str | None = None) -> Donation:
    """A pending donation (flushed, not committed); the caller commits before calling the provider.
    `method` (a donations.methods code) picks the provider: cards to Stripe, the rest to Xendit.

    Covering the fee grosses the gift up so that the campaign nets at least `amount` (fees.py). A
    guest gift made with an account's verified address joins that account, as earlier ones did when
    the address was verified; an unverified address attaches nothing.
    """
    fee = fee_to_cover(amount, campaign.currency, method) if cover_fee else 0
    if user is None:
        user = verified_owner(donor_email)
    donation = Donation(campaign=campaign, user=user, donor_name=donor_name, donor_email=donor_email.lower(),
                        donor_npwp=donor_npwp, message=message or None, anonymous=anonymous, locale=locale,
                        amount=amount,
                        fee_covered=fee, total=amount + fee, currency=campaign.currency,
                        provider=get_gateway(method).name, payment_method=method,
                        donor_secret=secrets.token_hex(32))
    db.session.add(donation)
    db.session.flush()
    return donation


def begin_checkout(donation: Donation, success_url: str, cancel_url: str, mobile_number: str | None = None):
    """Open the provider's checkout for a committed pending donation; returns (id, url)."""
    minutes = max(30, current_app.config["CHECKOUT_EXPIRY_MINUTES"])  # Stripe's minimum is 30
    gateway = gateway_named(donation.provider)
    request = CheckoutRequest(
        donation_id=donation.id, amount=donation.total, currency=donation.currency,
        product_name=donation.campaign.title[:250], customer_email=donation.donor_email,
        success_url=success_url, cancel_url=cancel_url,
        expires_at=now_utc() + dt.timedelta(minutes=minutes),
        idempotency_key=f"amanah-checkout-{donation.id}-{donation.donor_secret[:16]}",
        locale=donation.locale, method=donation.payment_method or "card", mobile_number=mobile_number)
    # Reading the committed donation above opened a transaction (on SQLite, the write lock): end it
    # before the provider is asked, which may take seconds. Nothing is pending (the donation is
    # committed), so this commits nothing; the sandbox, which lives in this database, writes its
    # checkout in a transaction of its own that the caller commits.
    db.session.commit()
    checkout = gateway.create_checkout(request)
    donation.checkout_id = checkout.id
    return checkout


# ---- refunds started by a treasurer or admin ----

class BookingRefused(UserError):
    """A donation held for a check cannot be booked as paid; the message is meant for the treasurer."""


def book_held_payment(donation_id: int, actor) -> str:
    """Book a donation held for a check at the amount the provider reported was paid: the
    treasurer looked the payment up and accepts it as the gift (a virtual account paid short or
    over). The donation then counts what was paid: its ledger entries, receipt and thank-you mail
    are those of any confirmation. Only an amount in the donation's currency can be booked (the
    payment anomaly recorded when it was held says how much); anything else is returned through the
    provider. Returns "paid", or "unchanged" when someone booked it meanwhile; raises BookingRefused,
    or GatewayError when the provider cannot be asked. Commits.

    The provider is asked first, outside any transaction, that the payment is still paid in the
    donation's currency, for the amount held or the amount asked (Xendit's payment request states
    what was asked; its callback said what was paid), and that none of it was refunded or disputed
    since: a session stays "paid" after its refund. Then the donation's row is locked and the
    entries appended in the usual lock order."""
    db.session.rollback()
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.status != DonationStatus.FLAGGED:
        raise BookingRefused(_l("Only a donation held for a check can be booked this way."))
    provider, checkout_id, currency, asked = (donation.provider, donation.checkout_id, donation.currency,
                                              donation.total)
    reported = db.session.scalar(sa.select(PaymentAnomaly.amount).where(
        PaymentAnomaly.kind == AnomalyKind.AMOUNT.value, PaymentAnomaly.donation_id == donation_id,
        PaymentAnomaly.provider_object == checkout_id, PaymentAnomaly.currency == currency))
    db.session.rollback()
    if not isinstance(reported, int) or not 0 < reported <= MAX_MINOR or not checkout_id:
        raise BookingRefused(_l("The provider did not report an amount in the donation's currency, so this "
                                "payment cannot be booked here: have the provider return it."))
    gateway = gateway_named(provider)
    session = gateway.fetch_checkout(checkout_id)
    intent = session.get("payment_intent")
    if (session.get("payment_status") != "paid" or (session.get("currency") or "").upper() != currency
            or not isinstance(intent, dict) or session.get("amount_total") not in (reported, asked)):
        raise BookingRefused(_l("The provider no longer reports this payment as paid in the donation's "
                                "currency: look it up in the provider's dashboard."))
    if _returned(gateway, intent):
        raise BookingRefused(_l("The provider has refunded this payment, or part of it, or it is disputed: "
                                "it cannot be booked as a gift. Mark it as returned once it is."))
    try:
        donation = _lock_donation(donation_id)
        if donation is None or donation.status != DonationStatus.FLAGGED:
            db.session.rollback()
            return "unchanged"
        # What the donor gave is what was paid; the part meant for the fee stays theirs to cover
        # while the payment holds it.
        donation.fee_covered = donation.fee_covered if reported > donation.fee_covered else 0
        donation.amount, donation.total = reported - donation.fee_covered, reported
        donation.hold_settled_by_id, donation.hold_settled_at = getattr(actor, "id", None), now_utc()
        result = _mark_paid(donation, {**session, "amount_total": reported}, held=True)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("donation %s held for a check booked at %s %s by user %s", donation_id, reported, currency,
             getattr(actor, "id", None))
    return result


def _returned(gateway: PaymentGateway, intent: dict) -> bool:
    """Whether any of the payment went back (a refund, made or on its way) or is disputed."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        if charge.get("refunded") or (charge.get("amount_refunded") or 0) > 0 or charge.get("disputed"):
            return True
        charge = charge.get("id")
    if not isinstance(charge, str) or not charge:
        return False
    return any(r.get("status") not in ("failed", "canceled") for r in gateway.list_refunds(charge))


def mark_held_returned(donation_id: int, actor) -> str:
    """A donation held for a check whose payment went back to the donor (the provider returned it):
    it fails, and can no longer be booked. No ledger entry: the payment never entered the ledger.
    Returns "failed", or "unchanged" when it is no longer held. Commits."""
    db.session.rollback()
    try:
        donation = _lock_donation(donation_id)
        if donation is None or donation.status != DonationStatus.FLAGGED:
            db.session.rollback()
            return "unchanged"
        donation.move_to(DonationStatus.FAILED)
        donation.hold_settled_by_id, donation.hold_settled_at = getattr(actor, "id", None), now_utc()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("donation %s held for a check marked returned by user %s", donation_id,
             getattr(actor, "id", None))
    return "failed"


class RefundRefused(UserError):
    """The refund may not be made; the message is meant for the user, `field` names the input at fault."""


def refund_reason_problem(reason: str | None):
    return None if (reason or "").strip() else _l("Give a reason for the refund.")


NOT_REFUNDABLE = _l("A payment to a bank's virtual account cannot be sent back through the payment provider: "
                    "transfer the money back to the donor, then record the transfer with its evidence.")


def refund_by_transfer(donation: Donation, actor, amount: int, reason: str, evidence_sha256: str,
                       before_append=None) -> Refund:
    """Book money a treasurer sent back to the donor by bank transfer (a payment the provider cannot
    refund, such as a virtual account's): a `refund` entry whose `evidence` is the hash of the
    transfer's proof, and the donor's credit note, at once. Nothing is asked of the provider.

    The same checks and lock order as request_refund (the donation's row, then the ledger's append
    lock, then the balance); `before_append` runs once they have passed (the caller stores the
    evidence file there). The caller commits."""
    problem = refund_reason_problem(reason)
    if problem:
        raise RefundRefused(problem, field="reason")
    if methods.method_named(donation.payment_method).refundable:
        raise RefundRefused(_l("This payment can be refunded through the payment provider; use the refund "
                               "form instead."))
    donation = _lock_donation(donation.id)
    storage.lock(db.session)
    if donation.status != DonationStatus.PAID:
        raise RefundRefused(_l("Only a paid donation can be refunded."))
    outstanding = sum(r.amount for r in donation.refunds if r.status == RefundStatus.REQUESTED)
    if not 0 < amount <= donation.total - outstanding - _taken_back(donation):
        raise RefundRefused(_l("The refund must be more than zero and at most what is left to refund."),
                            field="amount")
    balance = available_balance(donation.campaign)
    if amount > balance:
        raise RefundRefused(_l("The campaign's available balance (%(balance)s) cannot cover this refund: "
                               "its money has been disbursed or is already set aside.",
                               balance=format_money(max(balance, 0), donation.currency)))
    if before_append is not None:
        before_append()
    entry = storage.append(db.session, kind="refund", campaign=donation.campaign.public_id, amount=-amount,
                           currency=donation.currency, ref=donation.ledger_seq, evidence=evidence_sha256,
                           memo="Returned to the donor by bank transfer")
    refund = Refund(donation=donation, amount=amount, reason=reason.strip(), requested_by_id=actor.id,
                    status=RefundStatus.SUCCEEDED.value, ledger_seq=entry.seq)
    db.session.add(refund)
    db.session.flush()
    note = issuer().credit_note(refund, entry.leaf_hash)
    _queue_donor_mail("refunded", donation, amount=amount, remaining=donation.total - donation.refunded,
                      document=note.serial)
    return refund


class RefundOutcomeUnknown(Exception):
    """The provider's answer to a refund was lost: the reservation stays until it is settled."""


def request_refund(donation: Donation, actor, amount: int, reason: str) -> Refund:
    """Ask the provider to refund; the ledger entry waits for the provider's event to confirm it.

    The refund is first reserved (a REQUESTED row, committed) after checking it against the
    campaign's available balance under the ledger's append lock, the same check and lock a
    disbursement takes, so the two can never together spend money twice. Only then is the
    provider called, outside any transaction, with an idempotency key made from the reservation.

    Lock order, wherever money moves (here, in every event handler, in reconciliation): the
    donation's row first, then the ledger's append lock. Two orders would deadlock concurrent
    refunds against their own confirmations.
    """
    problem = refund_reason_problem(reason)
    if problem:
        raise RefundRefused(problem, field="reason")
    if not methods.method_named(donation.payment_method).refundable:
        raise RefundRefused(NOT_REFUNDABLE)
    gateway = gateway_named(donation.provider)  # refused here, before anything is set aside
    donation = _lock_donation(donation.id)
    storage.lock(db.session)
    if donation.status != DonationStatus.PAID:
        raise RefundRefused(_l("Only a paid donation can be refunded."))
    outstanding = sum(r.amount for r in donation.refunds if r.status == RefundStatus.REQUESTED)
    if not 0 < amount <= donation.total - outstanding - _taken_back(donation):
        raise RefundRefused(_l("The refund must be more than zero and at most what is left to refund."),
                            field="amount")
    balance = available_balance(donation.campaign)
    if amount > balance:
        raise RefundRefused(_l("The campaign's available balance (%(balance)s) cannot cover this refund: "
                               "its money has been disbursed or is already set aside.",
                               balance=format_money(max(balance, 0), donation.currency)))
    refund = Refund(donation=donation, amount=amount, reason=reason.strip(), requested_by_id=actor.id,
                    status=RefundStatus.REQUESTED.value)
    db.session.add(refund)
    db.session.flush()
    # Read before the commit: afterwards, touching an expired attribute would open a transaction
    # (on SQLite, the write lock) and hold it for as long as the provider takes to answer.
    refund_id, intent, donation_id = refund.id, donation.payment_intent, donation.id
    db.session.commit()
    try:
        data = gateway.create_refund(intent, amount, f"amanah-refund-{refund_id}",
                                           {"donation_id": str(donation_id), "amanah_refund": str(refund_id)})
    except GatewayError as exc:
        if exc.outcome_unknown:
            log.warning("refund %s of donation %s: outcome unknown (%s); it stays reserved until "
                        "the provider's event or reconciliation settles it", refund_id, donation_id, exc)
            raise RefundOutcomeUnknown(str(exc)) from exc
        release_reservation(donation_id, refund_id)
        raise
    refund = db.session.get(Refund, refund_id)
    if refund.provider_id is None:  # the provider's event may have matched it already
        refund.provider_id = data["id"]
    return refund


def release_reservation(donation_id: int, refund_id: int) -> bool:
    """The provider did not make the refund, for certain: the money set aside is the campaign's
    again, unless the provider's event has meanwhile said otherwise. True when released."""
    db.session.rollback()
    _lock_donation(donation_id)
    refund = db.session.get(Refund, refund_id)
    released = refund.status == RefundStatus.REQUESTED and refund.provider_id is None
    if released:
        refund.status = RefundStatus.FAILED.value
    db.session.commit()
    return released
