"""The Xendit provider: QRIS, bank virtual accounts and e-wallets through Xendit's Payment Requests.

Xendit is reached only through its official library, xendit-python (an `ApiClient` per
configuration, never the library's global key); XENDIT_API_BASE points it elsewhere (tests,
mocks). Of what the library offers, Payment Requests fit a donation best: a request carries an
idempotency key and our reference, and hands back what the donor needs (the QRIS string, the
virtual account number, the wallet's links), so Amanah shows the QR code and the account itself.
The library's Invoice API cannot send an idempotency key, and it has no Sessions API.

The contract in donations.gateway speaks Stripe's JSON; this module translates at its edge, and
nowhere else: a payment request becomes a checkout session (its payment intent and charge are the
same request), a Xendit refund a refund. Xendit counts whole rupiah where Amanah counts minor
units (hundredths), so amounts are converted here, and an amount that is not whole rupiah is
refused rather than rounded. Card payments, and so chargebacks, stay with Stripe.
"""
from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import logging
from collections.abc import Callable, Iterator, Mapping

import urllib3
import xendit
from flask import current_app, url_for
from xendit.apis import PaymentRequestApi, RefundApi, TransactionApi
from xendit.payment_request.model import (
    EWalletChannelCode,
    EWalletChannelProperties,
    EWalletParameters,
    PaymentMethodParameters,
    PaymentMethodReusability,
    PaymentMethodType,
    PaymentRequestCurrency,
    PaymentRequestParameters,
    QRCodeChannelCode,
    QRCodeChannelProperties,
    QRCodeParameters,
    VirtualAccountChannelCode,
    VirtualAccountChannelProperties,
    VirtualAccountParameters,
)
from xendit.refund.model import CreateRefund

from donations import methods
from donations.gateway import (
    Checkout,
    CheckoutRequest,
    GatewayError,
    NotAtProvider,
    NotificationRefused,
    has_nul,
)
from donations.xendit_fees import RUPIAH, fee_estimate

log = logging.getLogger(__name__)

PAGE = 100
TIMEOUT = (5, 30)  # seconds to connect, to read
# Xendit's payment request status -> (Stripe's session status, payment status)
SESSION_STATUS = {
    "SUCCEEDED": ("complete", "paid"),
    "FAILED": ("complete", "unpaid"),
    "EXPIRED": ("expired", "unpaid"),
    "CANCELED": ("expired", "unpaid"),
    "VOIDED": ("expired", "unpaid"),
}
REFUND_STATUS = {"SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELLED": "canceled",
                 "CANCELED": "canceled", "PENDING": "pending"}
TYPES = {methods.QRIS: "QR_CODE", methods.VIRTUAL_ACCOUNT: "VIRTUAL_ACCOUNT", methods.EWALLET: "EWALLET"}
BY_CHANNEL = {(m.kind, m.channel): m for m in methods.METHODS if m.local}
KIND_OF_TYPE = {value: key for key, value in TYPES.items()}


class NotAtXendit(NotAtProvider):
    """Xendit has no such object (a 404): asking again will not find it either."""


class AmountNotWholeRupiah(GatewayError):
    """Xendit takes whole rupiah only; the amount would have to be rounded, which it never is."""


def to_xendit_amount(minor: int, currency: str = "IDR") -> int:
    """Amanah's minor units (hundredths of a rupiah) -> Xendit's whole rupiah."""
    if currency.upper() != "IDR":
        raise GatewayError(f"Xendit: payments in {currency} are not offered, only IDR")
    if not isinstance(minor, int) or isinstance(minor, bool) or minor % RUPIAH:
        raise AmountNotWholeRupiah(f"Xendit: {minor} hundredths of a rupiah is not a whole rupiah amount")
    return minor // RUPIAH


def from_xendit_amount(value) -> int:
    """Xendit's whole rupiah (a JSON number, perhaps 50000.0) -> Amanah's minor units."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise AmountNotWholeRupiah(f"Xendit: reported amount {value!r} is not a whole rupiah amount")
    return int(value) * RUPIAH


def _outcome_unknown(exc: xendit.XenditSdkException) -> bool:
    # A 5xx, or no status at all (the connection failed midway), may have been carried out; a
    # 409 is a request still running under the same idempotency key.
    status = str(exc.status or "")
    return not status.isdigit() or status == "0" or int(status) >= 500 or status == "409"


def _epoch(value) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


@functools.lru_cache(maxsize=8)
def _client(api_key: str, api_base: str | None) -> xendit.ApiClient:
    """One client per configuration and process: its connection pool stays open between calls."""
    config = xendit.Configuration(host=api_base.rstrip("/") if api_base else None, api_key=api_key)
    return xendit.ApiClient(config)


class XenditGateway:
    name = "xendit"

    def __init__(self, api_key: str, api_base: str | None = None):
        client = _client(api_key, api_base)
        self.payment_requests = PaymentRequestApi(client)
        self.refunds = RefundApi(client)
        self.transactions = TransactionApi(client)
        self.round_trips = 0
        # What a callback said was paid, by payment request: a virtual account paid short or over
        # is only ever flagged with it, never booked (see fetch_checkout).
        self.reported_paid: dict[str, int] = {}

    def _call(self, fn: Callable, *args, **kwargs) -> dict:
        self.round_trips += 1
        try:
            result = fn(*args, _request_timeout=TIMEOUT, **kwargs)
        except xendit.XenditSdkException as exc:
            if str(exc.status) == "404":
                raise NotAtXendit(f"Xendit: {exc.errorCode or 404} {exc.errorMessage}".strip()) from exc
            raise GatewayError(f"Xendit: {exc.errorCode or exc.status} {exc.errorMessage}".strip(),
                               outcome_unknown=_outcome_unknown(exc)) from exc
        except (urllib3.exceptions.HTTPError, ValueError, xendit.OpenApiException) as exc:
            # A connection dropped, or an answer that is not Xendit's JSON: nothing is known.
            raise GatewayError(f"Xendit: {exc.__class__.__name__}", outcome_unknown=True) from exc
        return xendit.ApiClient.sanitize_for_serialization(result)

    # --- checkout ---

    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        method = methods.method_named(req.method)
        if not method.local:
            raise GatewayError(f"Xendit: {method.code} is not a Xendit method")
        params = PaymentRequestParameters(
            reference_id=f"amanah-donation-{req.donation_id}",
            amount=float(to_xendit_amount(req.amount, req.currency)),
            currency=PaymentRequestCurrency("IDR"),
            payment_method=self._method_parameters(method, req),
            description=req.product_name[:255],
            metadata={"donation_id": str(req.donation_id), "method": method.code})
        request = self._call(self.payment_requests.create_payment_request,
                             idempotency_key=req.idempotency_key, payment_request_parameters=params)
        return Checkout(request["id"], url_for("giving.payment_page", checkout_id=request["id"],
                                               _external=True))

    def _method_parameters(self, method: methods.Method, req: CheckoutRequest) -> PaymentMethodParameters:
        common = {"type": PaymentMethodType(TYPES[method.kind]),
                  "reusability": PaymentMethodReusability("ONE_TIME_USE")}
        if method.kind == methods.QRIS:
            return PaymentMethodParameters(**common, qr_code=QRCodeParameters(
                channel_code=QRCodeChannelCode(method.channel),
                channel_properties=QRCodeChannelProperties(expires_at=req.expires_at)))
        if method.kind == methods.VIRTUAL_ACCOUNT:
            # The bank shows the payer this name as the account's holder: the organization's.
            return PaymentMethodParameters(**common, virtual_account=VirtualAccountParameters(
                channel_code=VirtualAccountChannelCode(method.channel),
                channel_properties=VirtualAccountChannelProperties(
                    customer_name=current_app.config["ORG_NAME"][:60], expires_at=req.expires_at)))
        wallet = {"success_return_url": req.success_url, "failure_return_url": req.cancel_url,
                  "cancel_return_url": req.cancel_url}
        if method.code == "ovo":
            wallet = {"mobile_number": req.mobile_number or ""}
        return PaymentMethodParameters(**common, ewallet=EWalletParameters(
            channel_code=EWalletChannelCode(method.channel),
            channel_properties=EWalletChannelProperties(**wallet)))

    def payment_instructions(self, checkout_id: str) -> dict | None:
        return payment_instructions(self.fetch_payment_request(checkout_id))

    def fetch_payment_request(self, checkout_id: str) -> dict:
        """The payment request as Xendit returns it (the payment page shows what it holds)."""
        return self._call(self.payment_requests.get_payment_request_by_id, payment_request_id=checkout_id)

    def fetch_checkout(self, checkout_id: str) -> dict:
        request = self.fetch_payment_request(checkout_id)
        session = self._session(request)
        if session["payment_status"] == "paid":
            session["payment_intent"] = self._intent(request, session)
        return session

    def _session(self, request: dict) -> dict:
        status, payment_status = SESSION_STATUS.get(request.get("status"), ("open", "unpaid"))
        method = method_of(request)
        return {
            "id": request["id"], "object": "checkout.session", "status": status,
            "payment_status": payment_status, "amount_total": from_xendit_amount(request.get("amount")),
            "currency": str(request.get("currency") or "").lower(), "mode": "payment",
            "metadata": request.get("metadata") or {}, "client_reference_id": request.get("reference_id"),
            "payment_intent": None, "created": _epoch(request.get("created")),
            "payment_method": method.code if method else None,
            # The provider and the method, named in the donation's ledger entry.
            "ledger_memo": f"Xendit {method.channel}" if method else "Xendit",
        }

    def _intent(self, request: dict, session: dict) -> dict:
        amount = session["amount_total"]
        # What was paid: the callback's word in this process, else the payment's transaction once
        # Xendit has booked it (reconciliation, another process). The payment request only says
        # what was asked, which a virtual account may be paid short or over of.
        transaction = self._payment_transaction(request["id"])
        reported = self.reported_paid.get(request["id"])
        if reported is None and transaction is not None and transaction.get("amount") is not None:
            reported = from_xendit_amount(transaction["amount"])
        if reported is not None and reported != amount:
            # Paid, but not the amount asked for: confirming reports what was actually paid, so
            # the donation is held for a treasurer instead of counting as the intended gift.
            session["amount_total"] = reported
        fee, estimated = self._fee(request, session, transaction)
        txn = {"id": f"txn:{request['id']}", "object": "balance_transaction", "fee": fee, "currency": "idr",
               "estimate": estimated,
               "ledger_memo": "Xendit fee, estimate from its price list" if estimated else "Xendit fee"}
        charge = {"id": request["id"], "object": "charge", "amount": session["amount_total"],
                  "currency": "idr", "balance_transaction": txn}
        return {"id": request["id"], "object": "payment_intent", "status": "succeeded",
                "amount": session["amount_total"], "amount_received": session["amount_total"],
                "currency": "idr", "metadata": session["metadata"], "latest_charge": charge}

    def _fee(self, request: dict, session: dict, transaction: dict | None) -> tuple[int, bool]:
        """(fee in minor units, whether it is an estimate): Xendit's transaction for the payment
        carries the actual fee once it is booked there; until then, the price list's."""
        actual = _fee_of(transaction) if transaction is not None else None
        if actual is not None:
            return actual, False
        method = method_of(request)
        return (fee_estimate(method, session["amount_total"]) if method else 0), True

    def actual_fee(self, checkout_id: str) -> int | None:
        """Xendit's fee (with its VAT) on the payment of one payment request, or None while its
        transaction is not there yet."""
        transaction = self._payment_transaction(checkout_id)
        return _fee_of(transaction) if transaction is not None else None

    def _payment_transaction(self, checkout_id: str) -> dict | None:
        """Xendit's PAYMENT transaction of one payment request, or None while it is not booked."""
        page = self._call(self.transactions.get_all_transactions, product_id=checkout_id, limit=10)
        for txn in page.get("data") or []:
            kind = txn.get("type")
            kind = kind.get("value") if isinstance(kind, dict) else kind  # the library wraps it
            if kind == "PAYMENT":
                return txn
        return None

    def fetch_payment_intent(self, payment_intent: str) -> dict:
        request = self.fetch_payment_request(payment_intent)
        return {"id": request["id"], "object": "payment_intent", "metadata": request.get("metadata") or {},
                "status": "succeeded" if request.get("status") == "SUCCEEDED" else "processing"}

    # --- refunds ---

    def create_refund(self, payment_intent: str, amount: int, idempotency_key: str, metadata: dict) -> dict:
        request = self.fetch_payment_request(payment_intent)
        method = method_of(request)
        if method is None or not method.refundable:
            raise GatewayError("Xendit: this payment method cannot be refunded through Xendit; "
                               "record a disbursement back to the donor instead")
        refund = CreateRefund(payment_request_id=payment_intent, amount=float(to_xendit_amount(amount)),
                              currency="IDR", reason="REQUESTED_BY_CUSTOMER", reference_id=idempotency_key,
                              metadata={k: str(v) for k, v in metadata.items()})
        return _refund(self._call(self.refunds.create_refund, idempotency_key=idempotency_key,
                                  create_refund=refund))

    def fetch_refund(self, refund_id: str) -> dict:
        return _refund(self._call(self.refunds.get_refund, refund_id=refund_id))

    def list_refunds(self, charge_id: str) -> list[dict]:
        return [_refund(r) for r in self._pages(self.refunds.get_all_refunds, payment_request_id=charge_id)]

    def fetch_dispute(self, dispute_id: str) -> dict:
        raise GatewayError("Xendit: no disputes here (cards, and so chargebacks, go through Stripe)")

    # --- reconciliation ---

    def _pages(self, fn: Callable, **params) -> Iterator[dict]:
        """Every item of a Xendit list, newest first, following after_id from page to page."""
        after = None
        while True:
            page = self._call(fn, limit=PAGE, **params, **({"after_id": after} if after else {}))
            items = page.get("data") or []
            yield from items
            if not page.get("has_more") or not items:
                return
            after = items[-1]["id"]

    def _since(self, items: Iterator[dict], since: dt.datetime) -> Iterator[dict]:
        cutoff = since.timestamp()
        for item in items:
            created = _epoch(item.get("created"))
            if created is not None and created < cutoff:
                return  # newest first: everything after this is older still
            yield item

    def checkouts_since(self, since: dt.datetime) -> Iterator[dict]:
        for request in self._since(self._pages(self.payment_requests.get_all_payment_requests), since):
            session = self._session(request)
            if session["payment_status"] == "paid":
                session["payment_intent"] = request["id"]
            yield session

    def refunds_since(self, since: dt.datetime) -> Iterator[dict]:
        return (_refund(r) for r in self._since(self._pages(self.refunds.get_all_refunds), since))

    def disputes_since(self, since: dt.datetime) -> Iterator[dict]:
        return iter(())  # no disputes through Xendit: card payments go through Stripe

    # --- callbacks (POST /webhooks/xendit) ---

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> dict | None:
        """The token first (nothing else is read for a wrong one), then the callback; what it says
        was paid is kept for this request's re-fetch (a virtual account paid short or over)."""
        if not callback_token_valid(current_app.config.get("XENDIT_CALLBACK_TOKEN"),
                                    headers.get("x-callback-token")):
            raise NotificationRefused("wrong or missing x-callback-token", 401)
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise NotificationRefused("body is not JSON") from None
        event, paid, problem = callback_event(parsed, headers.get("webhook-id"))
        problem = problem or ("a string holds a NUL character" if has_nul(parsed) else None)
        if problem:
            raise NotificationRefused(problem)
        if event is not None and paid is not None:
            self.reported_paid[event["data"]["object"]["id"]] = paid
        return event

    def take_events(self) -> list[dict]:
        return []  # Xendit delivers its callbacks itself, to /webhooks/xendit

    def undelivered_events(self) -> list[dict]:
        return []  # Xendit retries its callbacks; reconciliation covers what it gave up on


def method_of(request: dict) -> methods.Method | None:
    """The donation method a payment request was made with, from its payment method's channel."""
    pm = request.get("payment_method") or {}
    kind = KIND_OF_TYPE.get(pm.get("type"))
    detail = pm.get({methods.QRIS: "qr_code", methods.VIRTUAL_ACCOUNT: "virtual_account",
                     methods.EWALLET: "ewallet"}.get(kind, ""), None) or {}
    return BY_CHANNEL.get((kind, detail.get("channel_code")))


def _refund(data: dict) -> dict:
    """A Xendit refund in Stripe's shape."""
    return {"id": data["id"], "object": "refund", "amount": from_xendit_amount(data.get("amount")),
            "status": REFUND_STATUS.get(str(data.get("status") or "").upper(), "pending"),
            "payment_intent": data.get("payment_request_id"), "charge": data.get("payment_request_id"),
            "currency": str(data.get("currency") or "").lower(), "metadata": data.get("metadata") or {},
            "created": _epoch(data.get("created")), "failure_code": data.get("failure_code")}


# ---- callbacks (POST /webhooks/xendit) ----

# Xendit's callback event -> the contract's event type it stands for (Stripe's names); the
# object re-fetched is the payment request, or the refund.
CALLBACK_EVENTS = {
    "payment.succeeded": "checkout.session.completed",
    "payment.failed": "checkout.session.async_payment_failed",
    "payment.expired": "checkout.session.expired",
    "payment_request.expired": "checkout.session.expired",
    "refund.succeeded": "refund.updated",
    "refund.failed": "refund.updated",
}


def callback_token_valid(expected: str | None, given: str | None) -> bool:
    """Whether the x-callback-token header is the deployment's, compared in constant time."""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def callback_event(body, notification_id: str | None) -> tuple[dict | None, int | None, str | None]:
    """(event for giving.handle_event or None when there is nothing to act on, the amount the
    callback says was paid in minor units, or why the body is malformed).

    The event id is the callback's notification id (the webhook-id header Xendit sends, the
    same on every retry), so a redelivery is recognized; the object holds only the id to re-fetch.
    """
    if not isinstance(body, dict):
        return None, None, "not a JSON object"
    name, data = body.get("event"), body.get("data")
    if not isinstance(name, str) or not isinstance(data, dict):
        return None, None, "callback without event and data"
    event_type = CALLBACK_EVENTS.get(name)
    if event_type is None:
        return None, None, None  # a callback we do not act on
    if event_type == "refund.updated":
        object_id = data.get("id")
    else:
        object_id = data.get("payment_request_id") or (data.get("id") if name.startswith("payment_request.")
                                                       else None)
    if not isinstance(object_id, str) or not object_id or len(object_id) > 200:
        return None, None, "callback without the id of its payment request or refund"
    if not notification_id:
        # No webhook-id: the callback's own fields name it as well as anything can.
        notification_id = f"{name}:{data.get('id')}:{body.get('created')}"
    paid = None
    if name == "payment.succeeded":
        try:
            paid = from_xendit_amount(data.get("amount"))
        except AmountNotWholeRupiah:
            return None, None, "callback amount is not a whole rupiah amount"
    event = {"id": f"xendit:{notification_id}"[:255], "type": event_type,
             "data": {"object": {"id": object_id}}}
    return event, paid, None


def payment_instructions(request: dict) -> dict:
    """What the donor's payment page shows for a payment request: the QRIS string, or the virtual
    account's number, bank and expiry, or the wallet's links; the amount in minor units."""
    method = method_of(request)
    pm = request.get("payment_method") or {}
    detail = (pm.get("qr_code") or pm.get("virtual_account") or pm.get("ewallet") or {})
    props = detail.get("channel_properties") or {}
    urls = {a.get("url_type"): a.get("url") for a in request.get("actions") or [] if a.get("url")}
    expires = props.get("expires_at")
    try:
        expires_at = dt.datetime.fromisoformat(expires.replace("Z", "+00:00")) if expires else None
    except ValueError:
        expires_at = None
    return {"method": method, "kind": method.kind if method else None,
            "amount": from_xendit_amount(request.get("amount")), "currency": "IDR",
            "status": request.get("status"), "qr_string": props.get("qr_string"),
            "va_number": props.get("virtual_account_number"), "bank": detail.get("channel_code"),
            "expires_at": expires_at, "web_url": urls.get("WEB"), "mobile_url": urls.get("MOBILE"),
            "deeplink_url": urls.get("DEEPLINK")}


def _fee_of(transaction: dict) -> int | None:
    """The fee with its VAT on a booked transaction, or None when it carries none yet."""
    fee = transaction.get("fee") or {}
    if not isinstance(fee.get("xendit_fee"), int | float):
        return None
    return from_xendit_amount(fee["xendit_fee"]) + from_xendit_amount(fee.get("value_added_tax") or 0)
