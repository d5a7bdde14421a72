"""A local fake of the part of Stripe's HTTP API that the gateway uses, served over real HTTP.

The real `stripe` library talks to it through STRIPE_API_BASE, so tests exercise the library's
form encoding, headers, idempotency keys and retries exactly as production does. It is strict
where Stripe is strict and a mistake would otherwise pass unnoticed: the bearer key must match,
POST bodies must be form-encoded, unknown parameters and unknown expansions are refused with
Stripe's error shape, and an Idempotency-Key replays the first response for the same request and
is refused for different parameters.

Tests drive what Stripe would do on its side (a donor paying, a dispute) through methods on
`FakeStripe`, or through the `/_fake/...` routes when the fake runs in another process
(bench/webhooks.py): `python -m tests.fake_stripe --port 12111 --api-key sk_test_x`.
`webhook()` builds and signs an event exactly as Stripe does (Stripe-Signature: t=...,v1=...).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import io
import json
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

API_VERSION = "2025-01-27.acacia"
CHECKOUT_BASE = "https://checkout.stripe.com/c/pay"
LOCALES = {"auto", "id", "en", "ms", "th", "vi", "ja", "zh", "fr", "de", "es", "nl", "it", "pt"}
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                "vuv", "xaf", "xof", "xpf"}


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as Stripe's servers speak it (werkzeug's server closes every
    connection, which would make each API call pay a new TCP handshake that Stripe does not cost)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # tests read fake.requests instead
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command, "PATH_INFO": unquote(path, "latin-1"), "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(length),
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.client_address[0],
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers
        payload = b"".join(self.server.app(environ, start_response))
        code, _, reason = started["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in started["headers"]:
            if name.lower() not in ("content-length", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _handle


def serve(app, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _KeepAliveHandler)
    server.daemon_threads = True
    server.app = app
    return server


class StripeApiError(Exception):
    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.type, self.param, self.code = status, type_, param, code

    def body(self) -> dict:
        error = {"type": self.type, "message": str(self)}
        if self.param:
            error["param"] = self.param
        if self.code:
            error["code"] = self.code
        return {"error": error}


# ---- Stripe's form encoding: a[b][0][c]=v ----

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode_form(pairs: MultiDict) -> dict:
    """Nested dicts and lists from bracketed keys; a key of only digits makes a list."""
    root: dict = {}
    for raw_key, value in pairs.items(multi=True):
        match = _KEY.match(raw_key)
        if not match:
            raise StripeApiError(400, f"Invalid parameter name: {raw_key}", param=raw_key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            part = name or str(sum(1 for k in node if k.isdigit()))  # a[]=x appends
            if last:
                if part in node:
                    raise StripeApiError(400, f"Parameter given twice: {raw_key}", param=raw_key)
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise StripeApiError(400, f"Invalid nesting for {raw_key}", param=raw_key)
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        indexes = sorted(int(k) for k in node)
        if indexes != list(range(len(indexes))):
            raise StripeApiError(400, "Array parameters must be indexed from 0 without gaps")
        return [_lists(node[str(i)]) for i in indexes]
    return {k: _lists(v) for k, v in node.items()}


def _only(params: dict, allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise StripeApiError(400, f"Received unknown parameter: {name}", param=name)


def _int(value, param: str, minimum: int = 0) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value) or int(value) < minimum:
        raise StripeApiError(400, f"Invalid integer: {value!r}", param=param)
    return int(value)


def _metadata(value, param: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise StripeApiError(400, "Invalid hash", param=param)
    if len(value) > 50:
        raise StripeApiError(400, "Metadata can have at most 50 keys", param=param)
    for key, item in value.items():
        if len(key) > 40 or not isinstance(item, str) or len(item) > 500:
            raise StripeApiError(400, f"Invalid metadata entry {key!r}", param=f"{param}[{key}]")
    return dict(value)


def _url(value, param: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeApiError(400, "Not a valid URL", param=param)
    return value


def _required(params: dict, name: str):
    if params.get(name) in (None, ""):
        raise StripeApiError(400, f"Missing required param: {name}.", param=name)
    return params[name]


def _line_items(items) -> tuple[int, str]:
    """(amount total, currency) of valid price_data line items."""
    if not isinstance(items, list) or not items:
        raise StripeApiError(400, "line_items must be a non-empty array", param="line_items")
    total, currency = 0, None
    for n, item in enumerate(items):
        prefix = f"line_items[{n}]"
        if not isinstance(item, dict):
            raise StripeApiError(400, "Invalid line item", param=prefix)
        _only(item, {"quantity", "price_data"}, prefix)
        quantity = _int(item.get("quantity"), f"{prefix}[quantity]", 1)
        price = item.get("price_data")
        if not isinstance(price, dict):
            raise StripeApiError(400, "Missing required param: price_data.", param=f"{prefix}[price_data]")
        _only(price, {"currency", "unit_amount", "product_data"}, f"{prefix}[price_data]")
        item_currency = price.get("currency")
        if not isinstance(item_currency, str) or not re.fullmatch(r"[a-z]{3}", item_currency):
            raise StripeApiError(400, f"Invalid currency: {item_currency}",
                                 param=f"{prefix}[price_data][currency]")
        if currency not in (None, item_currency):
            raise StripeApiError(400, "All line items must share one currency", param=prefix)
        currency = item_currency
        total += quantity * _int(price.get("unit_amount"), f"{prefix}[price_data][unit_amount]", 1)
        product = price.get("product_data")
        if not isinstance(product, dict) or not product.get("name"):
            raise StripeApiError(400, "Missing required param: product_data[name].",
                                 param=f"{prefix}[price_data][product_data][name]")
        _only(product, {"name", "description"}, f"{prefix}[price_data][product_data]")
    return total, currency


# ---- webhooks, signed as Stripe signs them ----

def sign(payload: bytes, secrets_: list[str] | str, timestamp: int | None = None) -> str:
    """Stripe-Signature header: t=<unix time>, then one v1=HMAC-SHA256("{t}.{payload}") per secret."""
    t = int(time.time()) if timestamp is None else timestamp
    if isinstance(secrets_, str):
        secrets_ = [secrets_]
    macs = [hmac.new(s.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest() for s in secrets_]
    return ",".join([f"t={t}", *(f"v1={mac}" for mac in macs)])


def make_event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": API_VERSION,
            "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": event_type,
            "data": {"object": copy.deepcopy(obj)}}


def webhook(event: dict, secrets_: list[str] | str, timestamp: int | None = None) -> tuple[bytes, dict]:
    """(body, headers) of Stripe's POST delivering `event`."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, {"Stripe-Signature": sign(body, secrets_, timestamp), "Content-Type": "application/json",
                  "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}


# ---- the fake ----

# Which fields of which objects may be expanded, and the object type they then hold.
EXPANDABLE = {
    "checkout.session": {"payment_intent": "payment_intent"},
    "payment_intent": {"latest_charge": "charge"},
    "charge": {"balance_transaction": "balance_transaction", "payment_intent": "payment_intent"},
    "refund": {"charge": "charge", "payment_intent": "payment_intent",
               "balance_transaction": "balance_transaction"},
    "dispute": {"charge": "charge", "payment_intent": "payment_intent"},
}


def check_expand(kind: str, paths: list[str]) -> None:
    """Refuse a path Stripe could not expand, whether or not the objects hold anything there."""
    for path in paths:
        node = kind
        for field in path.split("."):
            node = EXPANDABLE.get(node, {}).get(field)
            if node is None:
                raise StripeApiError(400, f"This property cannot be expanded ({path}).", param="expand")


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_fake"):
        self.api_key = api_key
        self.objects: dict[str, dict] = {}
        self.idempotency: dict[str, tuple[str, str, int, bytes]] = {}
        self.requests: list[dict] = []
        self.fee_rate_bp, self.fee_fixed = 340, 200_000  # Stripe Indonesia: 3.4% + Rp 2.000 (in sen)
        self.refund_status = "succeeded"
        self.latency = 0.0  # seconds added to every API response (bench)
        # The next N API POSTs are carried out, then answered with a 500 as if the answer was lost
        # on the way back: Stripe documents such an outcome as unknown.
        self.lose_answers = 0
        self._lock = threading.RLock()
        self.server = None
        self.url = None

    # --- objects ---

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{secrets.token_hex(12)}"

    def _store(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str | None = None) -> dict:
        obj = self.objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or (kind and obj["object"] != kind):
            raise StripeApiError(404, f"No such {kind or 'object'}: '{object_id}'", param="id",
                                 code="resource_missing")
        return obj

    def _expand(self, obj: dict, paths: list[str]) -> dict:
        check_expand(obj["object"], paths)
        obj = copy.deepcopy(obj)
        for path in paths:
            node = obj
            for field in path.split("."):
                if not isinstance(node, dict) or field not in EXPANDABLE.get(node.get("object"), ()):
                    raise StripeApiError(400, f"This property cannot be expanded ({path}).", param="expand")
                value = node.get(field)
                if isinstance(value, str):
                    node[field] = copy.deepcopy(self._public(self.get(value)))
                node = node.get(field)
                if node is None:
                    break
        return obj

    def _expand_param(self, params: dict) -> list[str]:
        paths = params.pop("expand", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
            raise StripeApiError(400, "expand must be an array of strings", param="expand")
        return paths

    # --- what the API does ---

    def create_checkout_session(self, params: dict) -> dict:
        _only(params, {"mode", "submit_type", "line_items", "metadata", "payment_intent_data",
                       "client_reference_id", "customer_email", "success_url", "cancel_url",
                       "expires_at", "locale", "payment_method_types", "expand"})
        paths = self._expand_param(params)
        mode = _required(params, "mode")
        if mode not in ("payment", "setup", "subscription"):
            raise StripeApiError(400, f"Invalid mode: {mode}", param="mode")
        submit_type = params.get("submit_type")
        if submit_type is not None and submit_type not in ("auto", "pay", "book", "donate", "subscribe"):
            raise StripeApiError(400, f"Invalid submit_type: {submit_type}", param="submit_type")
        items = _required(params, "line_items")
        total, currency = _line_items(items)
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise StripeApiError(400, "Invalid hash", param="payment_intent_data")
        _only(intent_data, {"metadata", "description", "statement_descriptor_suffix"}, "payment_intent_data")
        if mode != "payment" and intent_data:
            raise StripeApiError(400, "payment_intent_data is only for mode=payment",
                                 param="payment_intent_data")
        now = int(time.time())
        expires_at = now + 86400
        if "expires_at" in params:
            expires_at = _int(params["expires_at"], "expires_at")
            if not now + 30 * 60 - 5 <= expires_at <= now + 24 * 3600:
                raise StripeApiError(400, "expires_at must be between 30 minutes and 24 hours from now",
                                     param="expires_at")
        locale = params.get("locale", "auto")
        if locale not in LOCALES:
            raise StripeApiError(400, f"Invalid locale: {locale}", param="locale")
        email = params.get("customer_email")
        if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise StripeApiError(400, "Invalid email address", param="customer_email")
        session_id = self._new_id("cs")
        session = self._store({
            "id": session_id, "object": "checkout.session", "mode": mode, "submit_type": submit_type,
            "status": "open", "payment_status": "unpaid", "amount_subtotal": total, "amount_total": total,
            "currency": currency, "payment_intent": None, "created": now, "expires_at": expires_at,
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "client_reference_id": params.get("client_reference_id"), "customer_email": email,
            "success_url": _url(_required(params, "success_url"), "success_url"),
            "cancel_url": _url(params["cancel_url"], "cancel_url") if "cancel_url" in params else None,
            "locale": locale, "livemode": False, "url": f"{CHECKOUT_BASE}/{session_id}",
            "line_items_data": items, "payment_intent_data": {
                "metadata": _metadata(intent_data.get("metadata"), "payment_intent_data[metadata]")},
        })
        return self._expand(self._public(session), paths)

    @staticmethod
    def _public(obj: dict) -> dict:
        return {k: v for k, v in obj.items()
                if not k.startswith("_") and k not in ("line_items_data", "payment_intent_data")}

    def retrieve(self, kind: str, object_id: str, params: dict) -> dict:
        paths = self._expand_param(params)
        _only(params, set())
        return self._expand(self._public(self.get(object_id, kind)), paths)

    def create_refund(self, params: dict) -> dict:
        _only(params, {"payment_intent", "charge", "amount", "reason", "metadata", "expand"})
        paths = self._expand_param(params)
        if bool(params.get("payment_intent")) == bool(params.get("charge")):
            raise StripeApiError(400, "Give exactly one of charge or payment_intent.", param="payment_intent")
        if params.get("payment_intent"):
            intent = self.get(params["payment_intent"], "payment_intent")
            charge = self.get(intent["latest_charge"], "charge") if intent.get("latest_charge") else None
        else:
            charge = self.get(params["charge"], "charge")
            intent = self.get(charge["payment_intent"], "payment_intent")
        if charge is None or intent["status"] != "succeeded":
            raise StripeApiError(400, "This PaymentIntent has no successful charge to refund.",
                                 param="payment_intent", code="charge_not_refundable")
        left = charge["amount"] - charge["amount_refunded"]
        amount = _int(params["amount"], "amount", 1) if "amount" in params else left
        if amount > left:
            raise StripeApiError(400, f"Refund amount ({amount}) is greater than unrefunded amount on "
                                 f"charge ({left})", param="amount", code="amount_too_large")
        reason = params.get("reason")
        if reason is not None and reason not in ("duplicate", "fraudulent", "requested_by_customer"):
            raise StripeApiError(400, f"Invalid reason: {reason}", param="reason")
        refund = self._store({
            "id": self._new_id("re"), "object": "refund", "amount": amount, "currency": charge["currency"],
            "charge": charge["id"], "payment_intent": intent["id"], "reason": reason,
            "status": self.refund_status, "metadata": _metadata(params.get("metadata"), "metadata"),
            "created": int(time.time()), "balance_transaction": None,
        })
        if refund["status"] == "succeeded":
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return self._expand(self._public(refund), paths)

    def _list(self, kind: str, url: str, params: dict, filters: set[str]) -> dict:
        """One page of a list endpoint as Stripe pages it: newest first, `limit` (at most 100),
        `starting_after` the last id of the previous page, `created[gte|gt|lte|lt]`."""
        _only(params, filters | {"limit", "expand", "created", "starting_after", "ending_before"})
        paths = self._expand_param(params)
        if any(not p.startswith("data.") for p in paths):
            raise StripeApiError(400, "A list's objects are expanded with data.<field>", param="expand")
        paths = [p.removeprefix("data.") for p in paths]
        check_expand(kind, paths)
        limit = _int(params.get("limit", "10"), "limit", 1)
        if limit > 100:
            raise StripeApiError(400, "limit must be at most 100", param="limit")
        created = params.get("created")
        bounds = {}
        if isinstance(created, dict):
            _only(created, {"gte", "gt", "lte", "lt"}, "created")
            bounds = {op: _int(v, f"created[{op}]") for op, v in created.items()}
        elif created is not None:
            bounds = {"gte": _int(created, "created"), "lte": _int(created, "created")}
        checks = {"gte": lambda c, b: c >= b, "gt": lambda c, b: c > b,
                  "lte": lambda c, b: c <= b, "lt": lambda c, b: c < b}
        data = [o for o in self.objects.values() if o["object"] == kind
                and all(params.get(f) in (None, o.get(f)) for f in filters)
                and all(checks[op](o.get("created", 0), b) for op, b in bounds.items())]
        order = {object_id: n for n, object_id in enumerate(self.objects)}
        data.sort(key=lambda o: (o.get("created", 0), order[o["id"]]), reverse=True)
        if params.get("starting_after"):
            ids = [o["id"] for o in data]
            if params["starting_after"] not in ids:
                self.get(params["starting_after"], kind)  # 404 for an unknown id, as Stripe
                ids = []
            data = data[ids.index(params["starting_after"]) + 1:] if ids else []
        return {"object": "list", "url": url, "has_more": len(data) > limit,
                "data": [self._expand(self._public(o), paths) for o in data[:limit]]}

    def list_refunds(self, params: dict) -> dict:
        return self._list("refund", "/v1/refunds", params, {"charge", "payment_intent"})

    def list_checkout_sessions(self, params: dict) -> dict:
        return self._list("checkout.session", "/v1/checkout/sessions", params, {"payment_intent"})

    def list_disputes(self, params: dict) -> dict:
        return self._list("dispute", "/v1/disputes", params, {"charge", "payment_intent"})

    # --- what happens on Stripe's side (the donor pays, a bank disputes) ---

    def fee(self, amount: int, currency: str) -> int:
        fixed = self.fee_fixed if currency == "idr" else 30
        return -(-amount * self.fee_rate_bp // 10_000) + fixed

    def complete(self, session_id: str, *, pending: bool = False, settle_currency: str | None = None) -> dict:
        """The donor pays: a payment intent, a charge and its balance transaction; the session completes.

        pending: an asynchronous method (bank transfer) that is still processing.
        """
        with self._lock:
            session = self.get(session_id, "checkout.session")
            if session["status"] != "open":
                raise StripeApiError(400, "session is not open")
            amount, currency = session["amount_total"], session["currency"]
            intent_id, charge_id, txn_id = self._new_id("pi"), self._new_id("ch"), self._new_id("txn")
            settle = settle_currency or currency
            self._store({"id": txn_id, "object": "balance_transaction", "amount": amount, "currency": settle,
                         "fee": self.fee(amount, settle), "net": amount - self.fee(amount, settle),
                         "type": "charge", "source": charge_id,
                         "status": "pending" if pending else "available"})
            self._store({"id": charge_id, "object": "charge", "amount": amount, "currency": currency,
                         "amount_refunded": 0, "refunded": False, "paid": not pending,
                         "status": "pending" if pending else "succeeded", "payment_intent": intent_id,
                         "balance_transaction": None if pending else txn_id, "created": int(time.time()),
                         "_txn": txn_id})
            self._store({"id": intent_id, "object": "payment_intent", "amount": amount, "currency": currency,
                         "amount_received": 0 if pending else amount,
                         "status": "processing" if pending else "succeeded", "latest_charge": charge_id,
                         "metadata": dict(session["payment_intent_data"]["metadata"])})
            session.update(status="complete", payment_status="unpaid" if pending else "paid",
                           payment_intent=intent_id)
            return copy.deepcopy(self._public(session))

    def settle_async(self, session_id: str, succeeded: bool) -> dict:
        with self._lock:
            session = self.get(session_id, "checkout.session")
            intent = self.get(session["payment_intent"], "payment_intent")
            charge = self.get(intent["latest_charge"], "charge")
            if succeeded:
                intent.update(status="succeeded", amount_received=intent["amount"])
                charge.update(status="succeeded", paid=True, balance_transaction=charge["_txn"])
                session["payment_status"] = "paid"
            else:
                intent.update(status="requires_payment_method")
                charge.update(status="failed")
            return copy.deepcopy(self._public(session))

    def expire(self, session_id: str) -> dict:
        with self._lock:
            session = self.get(session_id, "checkout.session")
            if session["status"] != "open":
                raise StripeApiError(400, "Only an open session can be expired")
            session["status"] = "expired"
            return copy.deepcopy(self._public(session))

    def tamper(self, object_id: str, **fields) -> None:
        """Make Stripe's record say something else (e.g. another amount) than what the app expects."""
        with self._lock:
            self.get(object_id).update(fields)

    def dispute(self, payment_intent: str, status: str = "needs_response") -> dict:
        with self._lock:
            intent = self.get(payment_intent, "payment_intent")
            charge = self.get(intent["latest_charge"], "charge")
            return copy.deepcopy(self._store({
                "id": self._new_id("dp"), "object": "dispute", "amount": charge["amount"],
                "currency": charge["currency"], "charge": charge["id"], "payment_intent": intent["id"],
                "status": status, "created": int(time.time())}))

    def set_status(self, object_id: str, status: str) -> dict:
        with self._lock:
            obj = self.get(object_id)
            if obj["object"] == "refund" and obj["status"] == "succeeded" and status != "succeeded":
                # As Stripe does when a succeeded refund fails: the charge has that money again.
                charge = self.objects[obj["charge"]]
                charge["amount_refunded"] -= obj["amount"]
                charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            obj["status"] = status
            return copy.deepcopy(self._public(obj))

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[dict]:
        return [r for r in self.requests if (method is None or r["method"] == method)
                and r["path"].startswith(path_prefix)]

    # --- HTTP ---

    ROUTES = [
        ("POST", re.compile(r"^/v1/checkout/sessions$"), "create_checkout_session"),
        ("GET", re.compile(r"^/v1/checkout/sessions/([^/]+)$"), "checkout.session"),
        ("GET", re.compile(r"^/v1/payment_intents/([^/]+)$"), "payment_intent"),
        ("GET", re.compile(r"^/v1/charges/([^/]+)$"), "charge"),
        ("GET", re.compile(r"^/v1/balance_transactions/([^/]+)$"), "balance_transaction"),
        ("GET", re.compile(r"^/v1/disputes/([^/]+)$"), "dispute"),
        ("GET", re.compile(r"^/v1/refunds/([^/]+)$"), "refund"),
        ("POST", re.compile(r"^/v1/refunds$"), "create_refund"),
        ("GET", re.compile(r"^/v1/refunds$"), "list_refunds"),
        ("GET", re.compile(r"^/v1/checkout/sessions$"), "list_checkout_sessions"),
        ("GET", re.compile(r"^/v1/disputes$"), "list_disputes"),
    ]

    def _authorize(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        if header != f"Bearer {self.api_key}":
            raise StripeApiError(401, "Invalid API Key provided.")
        if not request.headers.get("Stripe-Version"):
            raise StripeApiError(400, "Missing Stripe-Version header")

    def _dispatch(self, request: Request) -> tuple[int, dict]:
        if request.path.startswith("/_fake/"):
            return 200, self._control(request)
        if request.method == "POST":
            if request.mimetype != "application/x-www-form-urlencoded":
                raise StripeApiError(400, "Request bodies must be application/x-www-form-urlencoded")
            if request.args:
                raise StripeApiError(400, "Parameters of a POST go in its body, not the URL")
            params = decode_form(request.form)
        elif request.method == "GET":
            if request.get_data():
                raise StripeApiError(400, "A GET request has no body")
            params = decode_form(request.args)
        else:
            raise StripeApiError(405, f"Unrecognized request method {request.method}")
        for method, pattern, target in self.ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                if match.groups():
                    return 200, self.retrieve(target, match.group(1), params)
                return 200, getattr(self, target)(params)
        raise StripeApiError(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    def _control(self, request: Request) -> dict:
        """Stripe's side, for a fake in another process: /_fake/complete/<cs_id> and /_fake/latency."""
        parts = request.path.split("/")[2:]
        if parts[0] == "complete" and request.method == "POST":
            return self.complete(parts[1])
        if parts[0] == "latency" and request.method == "POST":
            self.latency = float(request.form["seconds"])
            return {"latency": self.latency}
        if parts[0] == "stats":
            return {"requests": len(self.requests),
                    "by_path": _count(r["method"] + " " + re.sub(r"/[a-z]+_test_\w+", "/{id}", r["path"])
                                      for r in self.requests)}
        raise StripeApiError(404, "unknown control route")

    def wsgi(self, environ, start_response):
        request = Request(environ)
        key = request.headers.get("Idempotency-Key")
        body_signature = f"{request.method} {request.path} {request.get_data(as_text=True)}"
        with self._lock:
            self.requests.append({"method": request.method, "path": request.path,
                                  "idempotency_key": key, "at": time.monotonic()})
            try:
                if not request.path.startswith("/_fake/"):
                    self._authorize(request)
                replayed = False
                if key and request.method == "POST" and key in self.idempotency:
                    first_signature, _, status, body = self.idempotency[key]
                    if first_signature != body_signature:
                        raise StripeApiError(400, "Keys for idempotent requests can only be used with the "
                                             "same parameters they were first used with.",
                                             type_="idempotency_error")
                    replayed = True
                else:
                    try:
                        status, payload = self._dispatch(request)
                    except StripeApiError as exc:
                        status, payload = exc.status, exc.body()
                    body = json.dumps(payload).encode()
                    # Stripe stores the first result of a key, errors included (not auth failures).
                    if key and request.method == "POST" and not request.path.startswith("/_fake/"):
                        self.idempotency[key] = (body_signature, key, status, body)
            except StripeApiError as exc:
                status, body, replayed = exc.status, json.dumps(exc.body()).encode(), False
            if self.lose_answers and request.method == "POST" and not request.path.startswith("/_fake/"):
                self.lose_answers -= 1
                status, replayed = 500, False
                body = json.dumps({"error": {"type": "api_error",
                                             "message": "An unknown error occurred"}}).encode()
        if self.latency:
            time.sleep(self.latency)
        response = Response(body, status=status, mimetype="application/json")
        response.headers["Request-Id"] = f"req_{secrets.token_hex(8)}"
        response.headers["Stripe-Version"] = API_VERSION
        if key:
            response.headers["Idempotency-Key"] = key
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response(environ, start_response)

    # --- serving ---

    def start(self, port: int = 0) -> FakeStripe:
        self.server = serve(self.wsgi, port)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # Check for shutdown() every 10 ms rather than every 0.5 s, so stop() returns at once.
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


def _count(items) -> dict:
    counts: dict = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default="sk_test_fake")
    args = parser.parse_args()
    fake = FakeStripe(args.api_key)
    server = serve(fake.wsgi, args.port)
    print(f"fake Stripe on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
