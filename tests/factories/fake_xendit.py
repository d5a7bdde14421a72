"""A local fake of the part of Xendit's HTTP API that the gateway uses, served over real HTTP.

The app reaches it only through xendit-python (XENDIT_API_BASE), so tests exercise the library's
JSON bodies, Basic authentication and idempotency-key header as production does. Request bodies
are read back through the library's own models (PaymentRequestParameters, CreateRefund), and the
fake is strict where a mistake would otherwise pass unnoticed: the key must match, unknown fields
and enum values the library does not know are refused with Xendit's error shape, and an
idempotency key replays the first answer for the same body and is refused for another body.

Tests drive Xendit's side (a donor paying, a virtual account paid short, a QR code expiring)
through methods on `FakeXendit`; each returns the callback Xendit would send, which `callback()`
turns into (body, headers) with the x-callback-token and a webhook-id.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import secrets
import threading
import uuid

import xendit
from werkzeug.wrappers import Request, Response
from xendit.model_utils import ModelNormal, ModelSimple, validate_and_convert_types
from xendit.payment_request.model import PaymentCallback, PaymentRequestParameters
from xendit.refund.model import CreateRefund, RefundCallback

from tests.factories.fake_stripe import serve

BUSINESS_ID = "5f27a14a9bf05c73dd040bc8"
UNKNOWN = "UNKNOWN_ENUM_VALUE"  # what the library's enums hold for a value they do not know


class XenditApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code

    def body(self) -> dict:
        return {"error_code": self.code, "message": str(self)}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _strict(model, path: str = "body") -> None:
    """Refuse what the library's model took in only loosely: unknown fields, unknown enum values."""
    if isinstance(model, ModelSimple):
        if model.value == UNKNOWN:
            raise XenditApiError(400, "API_VALIDATION_ERROR", f"{path} is not an allowed value")
        return
    if isinstance(model, ModelNormal):
        for key, value in model._data_store.items():
            if key not in model.attribute_map:
                raise XenditApiError(400, "API_VALIDATION_ERROR", f"{path}.{key} is not allowed")
            _strict(value, f"{path}.{key}")
    elif isinstance(model, list):
        for n, item in enumerate(model):
            _strict(item, f"{path}[{n}]")


def parse(body: dict, model_class):
    """A request body read through one of the library's models, as strictly as Xendit reads it."""
    config = xendit.Configuration(discard_unknown_keys=False)
    try:
        model = validate_and_convert_types(body, (model_class,), ["body"], True, True, config)
    except (xendit.ApiTypeError, xendit.ApiValueError, xendit.ApiAttributeError, TypeError) as exc:
        raise XenditApiError(400, "API_VALIDATION_ERROR", str(exc).splitlines()[0]) from exc
    _strict(model)
    return model


class FakeXendit:
    def __init__(self, api_key: str = "xnd_development_fake",
                 callback_token: str = "cbtoken_fake"):  # noqa: S107 - the fake's own test token
        self.api_key, self.callback_token = api_key, callback_token
        self.payment_requests: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.transactions: list[dict] = []
        self.idempotency: dict[str, tuple[str, int, bytes]] = {}
        self.requests: list[dict] = []
        self.book_fees = True  # a paid request's transaction (and so its actual fee) exists at once
        self.refund_status = "SUCCEEDED"
        self.fee_bp = 70  # the actual fee Xendit books: 0.7% of the amount, plus 11% VAT on it
        self.fail_next = 0  # the next N API calls are answered with a 503
        self.wallet_base = "https://ewallet-mock.xendit.co"  # where a wallet's links point
        self._lock = threading.RLock()
        self.server = None
        self.url = None

    # --- what the API does ---

    def create_payment_request(self, body: dict) -> dict:
        params = parse(body, PaymentRequestParameters)
        if params.get("amount") is None or params.amount <= 0 or params.amount != int(params.amount):
            raise XenditApiError(400, "API_VALIDATION_ERROR", "amount must be a positive whole number")
        pm = body.get("payment_method") or {}
        now = _now()
        request_id = f"pr-{uuid.uuid4()}"
        method = {"id": f"pm-{uuid.uuid4()}", "type": pm["type"], "reusability": pm["reusability"],
                  "status": "ACTIVE", "created": _iso(now), "updated": _iso(now)}
        actions, status = [], "PENDING"
        if pm["type"] == "QR_CODE":
            props = dict(pm["qr_code"].get("channel_properties") or {})
            props["qr_string"] = f"00020101021226660014ID.CO.QRIS.WWW{secrets.token_hex(16).upper()}"
            method["qr_code"] = {"channel_code": pm["qr_code"]["channel_code"], "channel_properties": props}
        elif pm["type"] == "VIRTUAL_ACCOUNT":
            props = dict(pm["virtual_account"]["channel_properties"])
            digits = "".join(secrets.choice("0123456789") for _ in range(12))
            props["virtual_account_number"] = "8808" + digits
            method["virtual_account"] = {"channel_code": pm["virtual_account"]["channel_code"],
                                         "channel_properties": props, "amount": body["amount"],
                                         "currency": body["currency"]}
        elif pm["type"] == "EWALLET":
            wallet = pm["ewallet"]
            method["ewallet"] = copy.deepcopy(wallet)
            if wallet["channel_code"] != "OVO":  # OVO pushes to the donor's phone instead
                status = "REQUIRES_ACTION"
                base = f"{self.wallet_base}/{wallet['channel_code'].lower()}/{request_id}"
                actions = [{"action": "AUTH", "url_type": kind, "method": "GET",
                            "url": f"{base}/{kind.lower()}",
                            "qr_code": None} for kind in ("WEB", "MOBILE", "DEEPLINK")]
        else:
            raise XenditApiError(400, "API_VALIDATION_ERROR",
                                 f"payment_method.type {pm['type']} is not offered")
        request = {"id": request_id, "created": _iso(now), "updated": _iso(now),
                   "reference_id": body.get("reference_id"), "business_id": BUSINESS_ID,
                   "currency": body["currency"], "amount": body["amount"], "country": "ID",
                   "description": body.get("description"), "status": status, "payment_method": method,
                   "actions": actions, "metadata": body.get("metadata") or {}, "capture_method": "AUTOMATIC"}
        self.payment_requests[request_id] = request
        return request

    def get_payment_request(self, request_id: str) -> dict:
        request = self.payment_requests.get(request_id)
        if request is None:
            raise XenditApiError(404, "DATA_NOT_FOUND", "Payment request not found")
        return request

    def create_refund(self, body: dict) -> dict:
        params = parse(body, CreateRefund)
        request = self.get_payment_request(params.payment_request_id)
        if request["status"] != "SUCCEEDED":
            raise XenditApiError(400, "INELIGIBLE_TRANSACTION", "The payment is not paid")
        if request["payment_method"]["type"] == "VIRTUAL_ACCOUNT":
            raise XenditApiError(400, "INELIGIBLE_TRANSACTION", "Virtual account payments cannot be refunded")
        refunded = sum(r["amount"] for r in self.refunds.values()
                       if r["payment_request_id"] == request["id"] and r["status"] != "FAILED")
        if params.amount != int(params.amount) or refunded + params.amount > request["amount"]:
            raise XenditApiError(400, "MAXIMUM_REFUND_AMOUNT_REACHED", "Refund exceeds the payment")
        now = _now()
        refund = {"id": f"rfd-{uuid.uuid4()}", "payment_request_id": request["id"], "amount": params.amount,
                  "channel_code": _channel(request), "country": "ID", "currency": "IDR",
                  "reference_id": params.get("reference_id"), "reason": body.get("reason"),
                  "status": self.refund_status, "failure_code": None, "refund_fee_amount": 0,
                  "created": _iso(now), "updated": _iso(now), "metadata": body.get("metadata") or {}}
        self.refunds[refund["id"]] = refund
        return refund

    def get_refund(self, refund_id: str) -> dict:
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise XenditApiError(404, "DATA_NOT_FOUND", "Refund not found")
        return refund

    def _page(self, items: list[dict], args) -> dict:
        items = sorted(items, key=lambda item: item["created"], reverse=True)
        after = args.get("after_id")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int(float(args.get("limit") or 10))
        return {"data": copy.deepcopy(items[:limit]), "has_more": len(items) > limit}

    # --- Xendit's side, driven by tests ---

    def pay(self, request_id: str, amount: float | None = None) -> dict:
        """The donor pays (`amount`: what they paid, whole rupiah; a virtual account may be paid
        short or over). Returns the payment.succeeded callback body."""
        request = self.get_payment_request(request_id)
        paid = request["amount"] if amount is None else amount
        request.update(status="SUCCEEDED", updated=_iso(_now()))
        payment_id = f"py-{uuid.uuid4()}"
        if self.book_fees:
            self.book_fee(request_id, paid)
        return self._payment_callback("payment.succeeded", request, payment_id, paid, "SUCCEEDED")

    def book_fee(self, request_id: str, paid: float | None = None) -> dict:
        """Xendit books the payment's transaction, with its actual fee."""
        request = self.get_payment_request(request_id)
        paid = request["amount"] if paid is None else paid
        fee = -(-int(paid) * self.fee_bp // 10_000)
        txn = {"id": f"txn_{uuid.uuid4()}", "product_id": request_id, "type": "PAYMENT", "status": "SUCCESS",
               "channel_category": "QR_CODE", "channel_code": _channel(request),
               "reference_id": request["reference_id"], "account_identifier": None, "currency": "IDR",
               "amount": paid, "cashflow": "MONEY_IN", "business_id": BUSINESS_ID,
               "fee": {"xendit_fee": fee, "value_added_tax": -(-fee * 11 // 100), "xendit_withholding_tax": 0,
                       "third_party_withholding_tax": 0, "status": "COMPLETED"},
               "created": _iso(_now()), "updated": _iso(_now()), "settlement_status": "PENDING",
               "estimated_settlement_time": None}
        self.transactions.append(txn)
        return txn

    def fail(self, request_id: str) -> dict:
        request = self.get_payment_request(request_id)
        request.update(status="FAILED", failure_code="PAYMENT_DECLINED", updated=_iso(_now()))
        return self._payment_callback("payment.failed", request, f"py-{uuid.uuid4()}", request["amount"],
                                      "FAILED")

    def expire(self, request_id: str) -> dict:
        request = self.get_payment_request(request_id)
        request.update(status="EXPIRED", updated=_iso(_now()))
        return self._payment_callback("payment.expired", request, f"py-{uuid.uuid4()}", request["amount"],
                                      "EXPIRED")

    def settle_refund(self, refund_id: str, status: str) -> dict:
        refund = self.get_refund(refund_id)
        refund.update(status=status, updated=_iso(_now()))
        body = {"event": f"refund.{status.lower()}", "business_id": BUSINESS_ID, "created": _iso(_now()),
                "data": {**{k: v for k, v in refund.items() if k != "payment_request_id"},
                         "payment_id": f"py-{uuid.uuid4()}", "payment_method_type": "QR_CODE"}}
        parse(body, RefundCallback)
        return body

    def _payment_callback(self, event: str, request: dict, payment_id: str, amount, status: str) -> dict:
        body = {"event": event, "business_id": BUSINESS_ID, "created": _iso(_now()),
                "data": {"id": payment_id, "payment_request_id": request["id"],
                         "reference_id": request["reference_id"], "currency": request["currency"],
                         "amount": amount, "country": "ID", "status": status,
                         "payment_method": copy.deepcopy(request["payment_method"]),
                         "created": request["created"], "updated": request["updated"],
                         "metadata": request["metadata"]}}
        parse(body, PaymentCallback)  # the callback has the shape the library's model describes
        return body

    def callback(self, body: dict, token: str | None = "",
                 webhook_id: str | None = None) -> tuple[bytes, dict]:
        """(body, headers) of Xendit's POST delivering a callback; token None leaves the header out."""
        headers = {"Content-Type": "application/json", "webhook-id": webhook_id or f"whk_{uuid.uuid4()}"}
        if token is not None:
            headers["x-callback-token"] = token or self.callback_token
        return json.dumps(body).encode(), headers

    # --- HTTP ---

    ROUTES = (
        ("POST", "/payment_requests", "create_payment_request"),
        ("POST", "/refunds", "create_refund"),
    )

    def _authorize(self, request: Request) -> None:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            raise XenditApiError(401, "INVALID_API_KEY", "API key is invalid")

    def _dispatch(self, request: Request) -> tuple[int, dict]:
        path, args = request.path.rstrip("/"), request.args
        if request.method == "POST":
            if request.mimetype != "application/json":
                raise XenditApiError(400, "API_VALIDATION_ERROR", "Request bodies must be JSON")
            try:
                body = json.loads(request.get_data())
            except ValueError as exc:
                raise XenditApiError(400, "API_VALIDATION_ERROR", "Malformed JSON") from exc
            if not isinstance(body, dict):
                raise XenditApiError(400, "API_VALIDATION_ERROR", "Body must be a JSON object")
            for _method, route, target in self.ROUTES:
                if route == path:
                    return 201 if target == "create_payment_request" else 200, getattr(self, target)(body)
        elif request.method == "GET":
            parts = path.split("/")[1:]
            if parts == ["payment_requests"]:
                return 200, self._page(list(self.payment_requests.values()), args)
            if parts[0] == "payment_requests" and len(parts) == 2:
                return 200, self.get_payment_request(parts[1])
            if parts == ["refunds"]:
                wanted = args.get("payment_request_id")
                return 200, self._page([r for r in self.refunds.values()
                                        if not wanted or r["payment_request_id"] == wanted], args)
            if parts[0] == "refunds" and len(parts) == 2:
                return 200, self.get_refund(parts[1])
            if parts == ["transactions"]:
                wanted = args.get("product_id")
                mine = [t for t in self.transactions if not wanted or t["product_id"] == wanted]
                page = self._page(mine, args)
                return 200, {"data": page["data"], "has_more": page["has_more"], "links": []}
        raise XenditApiError(404, "NOT_FOUND", f"no route {request.method} {request.path}")

    def wsgi(self, environ, start_response):
        request = Request(environ)
        key = request.headers.get("idempotency-key")
        signature = f"{request.method} {request.path} {request.get_data(as_text=True)}"
        with self._lock:
            self.requests.append({"method": request.method, "path": request.path, "idempotency_key": key,
                                  "args": dict(request.args), "body": request.get_data(as_text=True)})
            try:
                self._authorize(request)
                if self.fail_next:
                    self.fail_next -= 1
                    raise XenditApiError(503, "SERVER_ERROR", "Service unavailable")
                if key and request.method == "POST" and key in self.idempotency:
                    first, status, body = self.idempotency[key]
                    if first != signature:
                        raise XenditApiError(409, "IDEMPOTENCY_ERROR",
                                             "The idempotency key was used with another request")
                else:
                    status, payload = self._dispatch(request)
                    body = json.dumps(payload).encode()
                    if key and request.method == "POST":
                        self.idempotency[key] = (signature, status, body)
            except XenditApiError as exc:
                status, body = exc.status, json.dumps(exc.body()).encode()
        return Response(body, status=status, mimetype="application/json")(environ, start_response)

    def calls(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def start(self) -> FakeXendit:
        self.server = serve(self.wsgi)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
            self.server.server_close()
            self.server = None


def _channel(request: dict) -> str:
    method = request["payment_method"]
    detail = method.get("qr_code") or method.get("virtual_account") or method.get("ewallet") or {}
    return detail.get("channel_code", "")
