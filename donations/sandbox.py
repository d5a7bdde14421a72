"""The sandbox provider: a local stand-in for Stripe when no key is configured. No real money.

It keeps its "provider objects" (checkout sessions, payment intents, refunds) in Stripe's JSON
shape and emits the same events Stripe would; those go through the same confirmation service
(donations.giving.handle_event) as Stripe's webhooks, so there is one code path for money.
Its demo donations are made by donations.demo.

Each event is kept as one of its objects, written in the same transaction as the change it
reports. Handing it over (take_events) and confirming it are a second step that a killed worker
or a restarted database can interrupt; until the app has recorded the event (a PaymentEvent with
its id), undelivered_events still lists it, and reconciliation or the donor's next click on the
checkout page delivers it again.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator, Mapping

import sqlalchemy as sa
from flask import g, url_for
from sqlalchemy.orm.attributes import flag_modified

from amanah.db import now_utc
from amanah.extensions import db
from donations import methods
from donations.fees import fee_for
from donations.gateway import Checkout, CheckoutRequest, GatewayError, NotificationRefused
from donations.models import PaymentEvent, SandboxObject


def _id(prefix: str) -> str:
    return f"{prefix}_sbx_{secrets.token_hex(12)}"


def _get(object_id: str) -> dict:
    row = db.session.get(SandboxObject, object_id)
    if row is None:
        raise GatewayError(f"sandbox: no such object {object_id}")
    return row.data


def _put(data: dict) -> dict:
    row = db.session.get(SandboxObject, data["id"])
    if row is None:
        db.session.add(SandboxObject(id=data["id"], data=data))
    else:
        row.data = dict(data)
        flag_modified(row, "data")
    return data


def _event(event_type: str, obj: dict) -> dict:
    event = {"id": _id("evt"), "object": "event", "type": event_type, "created": int(now_utc().timestamp()),
             "data": {"object": obj}}
    _put(event)
    g.setdefault("_sandbox_events", []).append(event)
    return event


def _of_kind(prefix: str):
    """Rows whose id starts with `prefix` and the sandbox's marker (ids are <prefix>_sbx_<hex>)."""
    return SandboxObject.id.like(f"{prefix}\\_sbx\\_%", escape="\\")


def _since(prefix: str, since: dt.datetime) -> Iterator[dict]:
    rows = db.session.scalars(
        sa.select(SandboxObject).where(_of_kind(prefix), SandboxObject.created_at >= since)
        .order_by(SandboxObject.created_at.desc(), SandboxObject.id))
    return iter([row.data for row in rows])


class SandboxGateway:
    name = "sandbox"
    round_trips = 0

    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        session = {
            "id": _id("cs"), "object": "checkout.session", "status": "open", "payment_status": "unpaid",
            "amount_total": req.amount, "currency": req.currency.lower(), "mode": "payment",
            "metadata": {"donation_id": str(req.donation_id)},
            "client_reference_id": str(req.donation_id), "payment_intent": None,
            "success_url": req.success_url, "cancel_url": req.cancel_url,
            "created": int(now_utc().timestamp()), "expires_at": int(req.expires_at.timestamp()),
            "payment_method": req.method,
        }
        # Standing in for Xendit: what its payment page would show, made up and marked as such.
        method = methods.method_named(req.method)
        if method.kind == methods.QRIS:
            session["sandbox_qr_string"] = f"SANDBOX-QRIS-NOT-PAYABLE-{secrets.token_hex(8).upper()}"
        elif method.kind == methods.VIRTUAL_ACCOUNT:
            session["sandbox_va_number"] = "9999" + "".join(secrets.choice("0123456789") for _ in range(10))
        session["url"] = url_for("giving.sandbox_checkout", checkout_id=session["id"], _external=True)
        _put(session)
        return Checkout(session["id"], session["url"])

    def payment_instructions(self, checkout_id: str) -> dict | None:
        return None  # the sandbox's own checkout page (the checkout's url) shows the QR code or account

    def fetch_checkout(self, checkout_id: str) -> dict:
        session = dict(_get(checkout_id))
        if session.get("payment_intent"):
            intent = dict(_get(session["payment_intent"]))
            charge = dict(_get(intent["latest_charge"]))
            charge["balance_transaction"] = _get(charge["balance_transaction"])
            intent["latest_charge"] = charge
            session["payment_intent"] = intent
        return session

    def fetch_refund(self, refund_id: str) -> dict:
        return _get(refund_id)

    def list_refunds(self, charge_id: str) -> list[dict]:
        return [_get(r) for r in _get(charge_id).get("refunds", [])]

    def fetch_dispute(self, dispute_id: str) -> dict:
        return _get(dispute_id)

    def fetch_payment_intent(self, payment_intent: str) -> dict:
        return _get(payment_intent)

    def create_refund(self, payment_intent: str, amount: int, idempotency_key: str, metadata: dict) -> dict:
        intent = _get(payment_intent)
        charge = dict(_get(intent["latest_charge"]))
        if charge["amount_refunded"] + amount > charge["amount"]:
            raise GatewayError("sandbox: refund exceeds the charge")
        refund = {"id": _id("re"), "object": "refund", "amount": amount, "status": "succeeded",
                  "charge": charge["id"], "payment_intent": payment_intent,
                  "currency": charge["currency"], "metadata": metadata,
                  "created": int(now_utc().timestamp())}
        _put(refund)
        charge["amount_refunded"] += amount
        charge["refunds"] = [*charge.get("refunds", []), refund["id"]]
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        _put(charge)
        _event("charge.refunded", charge)
        return refund

    def checkouts_since(self, since: dt.datetime) -> Iterator[dict]:
        return _since("cs", since)

    def refunds_since(self, since: dt.datetime) -> Iterator[dict]:
        return _since("re", since)

    def disputes_since(self, since: dt.datetime) -> Iterator[dict]:
        return _since("dp", since)

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> dict | None:
        """A notification naming one of the sandbox's events ({"id": "evt_sbx_..."}): verified by
        the sandbox's own record of it, which is what is handed over, never the body. It delivers
        again an event whose in-process delivery was lost (as undelivered_events does)."""
        try:
            event_id = json.loads(body.decode("utf-8")).get("id")
        except (UnicodeDecodeError, ValueError, RecursionError, AttributeError):
            raise NotificationRefused("malformed JSON") from None
        if not isinstance(event_id, str) or not event_id.startswith("evt_sbx_") or len(event_id) > 100:
            raise NotificationRefused("not an event of the sandbox")
        row = db.session.get(SandboxObject, event_id)
        db.session.rollback()
        if row is None or row.data.get("object") != "event":
            raise NotificationRefused("not an event of the sandbox", 404)
        return row.data

    def take_events(self) -> list[dict]:
        return g.pop("_sandbox_events", [])

    def undelivered_events(self) -> list[dict]:
        delivered = sa.select(PaymentEvent.event_id).where(PaymentEvent.event_id == SandboxObject.id)
        query = (sa.select(SandboxObject).where(_of_kind("evt"), ~delivered.exists())
                 .order_by(SandboxObject.created_at, SandboxObject.id))
        return [row.data for row in db.session.scalars(query)]

    def undelivered_events_of(self, checkout_id: str) -> list[dict]:
        """The undelivered events about one checkout (the donor's second click on its page)."""
        return [e for e in self.undelivered_events() if e["data"]["object"].get("id") == checkout_id]

    # --- what the donor does on the sandbox page ---

    def open_session(self, checkout_id: str) -> dict | None:
        row = db.session.get(SandboxObject, checkout_id)
        return row.data if row is not None and row.data.get("object") == "checkout.session" else None

    def pay(self, checkout_id: str) -> dict:
        session = dict(_get(checkout_id))
        if session["status"] != "open":
            raise GatewayError("sandbox: this checkout is no longer open")
        amount, currency = session["amount_total"], session["currency"]
        txn = {"id": _id("txn"), "object": "balance_transaction", "amount": amount, "currency": currency,
               "fee": fee_for(amount, currency.upper(), session.get("payment_method"))}
        charge = {"id": _id("ch"), "object": "charge", "amount": amount, "currency": currency,
                  "amount_refunded": 0, "refunded": False, "refunds": [], "paid": True,
                  "balance_transaction": txn["id"]}
        intent = {"id": _id("pi"), "object": "payment_intent", "amount": amount, "currency": currency,
                  "amount_received": amount, "status": "succeeded", "latest_charge": charge["id"],
                  "metadata": session["metadata"]}
        charge["payment_intent"] = intent["id"]
        for obj in (txn, charge, intent):
            _put(obj)
        session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
        _put(session)
        return _event("checkout.session.completed", session)

    def fail(self, checkout_id: str) -> dict:
        session = dict(_get(checkout_id))
        if session["status"] != "open":
            raise GatewayError("sandbox: this checkout is no longer open")
        session.update(status="complete", payment_status="unpaid")
        _put(session)
        return _event("checkout.session.async_payment_failed", session)

    def dispute(self, payment_intent: str, *, won: bool = False) -> dict:
        """Demo and tests: a chargeback on a paid donation (and its reinstatement when won)."""
        intent = _get(payment_intent)
        charge = _get(intent["latest_charge"])
        # What is still on the card: a refunded part cannot be disputed as well.
        dispute = {"id": _id("dp"), "object": "dispute",
                   "amount": charge["amount"] - charge["amount_refunded"],
                   "currency": charge["currency"], "charge": charge["id"],
                   "payment_intent": payment_intent, "status": "won" if won else "lost",
                   "created": int(now_utc().timestamp())}
        _put(dispute)
        event = _event("charge.dispute.funds_withdrawn", dispute)
        if won:
            _event("charge.dispute.funds_reinstated", dispute)
        return event

