"""The Stripe provider: Stripe's Checkout, refunds and disputes through a `stripe.StripeClient`.

Stripe is reached only through a client instance (never the global `stripe.api_key`);
STRIPE_API_BASE points it elsewhere (tests, mocks). Every method returns plain dicts in Stripe's
JSON shape, as the contract in donations.gateway asks.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import Iterator, Mapping
from urllib.parse import quote

import requests
import stripe
from flask import current_app

from donations.gateway import Checkout, CheckoutRequest, GatewayError, NotificationRefused

# How far a webhook's signed timestamp may be from now, either way, in seconds.
TOLERANCE_SECONDS = 300

# One request to Stripe fetches the session with its payment intent, charge and balance transaction.
CHECKOUT_EXPAND = ["payment_intent.latest_charge.balance_transaction"]


def _stripe_outcome_unknown(exc: stripe.StripeError) -> bool:
    # Stripe documents a 500 as "the request may or may not have been processed"; a request
    # still running under the same idempotency key (409) has no outcome yet either.
    return (isinstance(exc, (stripe.APIConnectionError, stripe.IdempotencyError))
            or (exc.http_status or 0) >= 500)


class _RequestsClient(stripe.RequestsClient):
    """The stripe library's requests client, whose sessions (one per thread, as the library keeps
    them) do not read the environment on every request: requests otherwise looks up the proxy
    variables, and ~/.netrc, for each call (a quarter of a millisecond of CPU per webhook). The
    proxy the environment names for Stripe's address is read once, when the client is made."""

    def __init__(self, api_base: str):
        proxies = requests.utils.get_environ_proxies(api_base)
        proxy = {scheme: proxies[scheme] for scheme in ("http", "https") if scheme in proxies}
        super().__init__(proxy=proxy or None)

    def _request_internal(self, *args, **kwargs):
        if getattr(self._thread_local, "session", None) is None:
            session = requests.Session()
            session.trust_env = False
            self._thread_local.session = session
        return super()._request_internal(*args, **kwargs)


@functools.lru_cache(maxsize=8)
def _client(api_key: str, api_base: str | None, max_network_retries: int) -> stripe.StripeClient:
    """One client per configuration and process: its HTTP client keeps connections to Stripe open
    (a session per thread), so a webhook does not pay a new TCP and TLS handshake each time."""
    base = {"api": api_base.rstrip("/")} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=base, max_network_retries=max_network_retries,
                               http_client=_RequestsClient(api_base or stripe.DEFAULT_API_BASE))


class StripeGateway:
    name = "stripe"

    def __init__(self, api_key: str, api_base: str | None = None, max_network_retries: int = 2):
        self.client = _client(api_key, api_base, max_network_retries)
        self.round_trips = 0

    def _call(self, fn, *args, **kwargs) -> dict:
        self.round_trips += 1
        try:
            return fn(*args, **kwargs).to_dict()
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe: {exc.user_message or exc.__class__.__name__}",
                               outcome_unknown=_stripe_outcome_unknown(exc)) from exc

    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        metadata = {"donation_id": str(req.donation_id)}
        params = {
            "mode": "payment",
            "submit_type": "donate",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": req.currency.lower(), "unit_amount": req.amount,
                "product_data": {"name": req.product_name}}}],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "client_reference_id": str(req.donation_id),
            "customer_email": req.customer_email,
            "success_url": req.success_url,
            "cancel_url": req.cancel_url,
            "expires_at": int(req.expires_at.timestamp()),
            "locale": req.locale if req.locale in ("id", "en") else "auto",
        }
        session = self._call(self.client.v1.checkout.sessions.create, params=params,
                             options={"idempotency_key": req.idempotency_key})
        return Checkout(session["id"], session["url"])

    def payment_instructions(self, checkout_id: str) -> dict | None:
        return None  # the donor pays on Stripe's hosted Checkout page

    def _get(self, path: str, object_id: str, **params) -> dict:
        """GET one object as plain JSON. Every webhook re-fetches what it acts on; the client's
        raw_request spares building StripeObjects only to turn them back into dicts."""
        self.round_trips += 1
        try:
            return self.client.raw_request("get", f"{path}/{quote(object_id, safe='')}", **params).data
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe: {exc.user_message or exc.__class__.__name__}",
                               outcome_unknown=_stripe_outcome_unknown(exc)) from exc

    def fetch_checkout(self, checkout_id: str) -> dict:
        return self._get("/v1/checkout/sessions", checkout_id, expand=CHECKOUT_EXPAND)

    def fetch_refund(self, refund_id: str) -> dict:
        return self._get("/v1/refunds", refund_id)

    def list_refunds(self, charge_id: str) -> list[dict]:
        return self._call(self.client.v1.refunds.list, params={"charge": charge_id, "limit": 100})["data"]

    def fetch_dispute(self, dispute_id: str) -> dict:
        return self._get("/v1/disputes", dispute_id)

    def fetch_payment_intent(self, payment_intent: str) -> dict:
        return self._get("/v1/payment_intents", payment_intent)

    def create_refund(self, payment_intent: str, amount: int, idempotency_key: str, metadata: dict) -> dict:
        return self._call(self.client.v1.refunds.create,
                          params={"payment_intent": payment_intent, "amount": amount,
                                  "reason": "requested_by_customer", "metadata": metadata},
                          options={"idempotency_key": idempotency_key})

    def _list(self, service, since: dt.datetime) -> Iterator[dict]:
        """Every object of a list endpoint created since `since`, following Stripe's pages."""
        try:
            self.round_trips += 1
            page = service.list(params={"created": {"gte": int(since.timestamp())}, "limit": 100})
            for item in page.auto_paging_iter():
                yield item.to_dict()
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe: {exc.user_message or exc.__class__.__name__}",
                               outcome_unknown=_stripe_outcome_unknown(exc)) from exc

    def checkouts_since(self, since: dt.datetime) -> Iterator[dict]:
        return self._list(self.client.v1.checkout.sessions, since)

    def refunds_since(self, since: dt.datetime) -> Iterator[dict]:
        return self._list(self.client.v1.refunds, since)

    def disputes_since(self, since: dt.datetime) -> Iterator[dict]:
        return self._list(self.client.v1.disputes, since)

    # --- webhooks (POST /webhooks/stripe) ---

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> dict | None:
        """Stripe's signature on the raw body (STRIPE_WEBHOOK_SECRET), then the event it signed."""
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationRefused("body is not UTF-8") from None
        try:
            verify_signature(body, headers.get("Stripe-Signature"))
        except stripe.SignatureVerificationError as exc:
            raise NotificationRefused("invalid signature", detail=str(exc)) from None
        try:
            return json.loads(body)
        except RecursionError:
            raise NotificationRefused("JSON nested too deep") from None
        except ValueError:
            raise NotificationRefused("malformed JSON") from None

    def take_events(self) -> list[dict]:
        return []  # Stripe delivers its events itself, to /webhooks/stripe

    def undelivered_events(self) -> list[dict]:
        return []  # Stripe retries its webhooks for three days; reconciliation covers the rest


def webhook_secrets() -> list[str]:
    """STRIPE_WEBHOOK_SECRET, comma-separated while an endpoint's secret is being rolled."""
    raw = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    return [s.strip() for s in raw.split(",") if s.strip()]


def verify_signature(payload: bytes, header: str | None) -> None:
    """Raise stripe.SignatureVerificationError unless one of the webhook secrets signed `payload`
    within TOLERANCE_SECONDS of now."""
    secrets = webhook_secrets()
    if not secrets:
        raise stripe.SignatureVerificationError("no STRIPE_WEBHOOK_SECRET configured", header)
    for secret in secrets[:-1]:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        stripe.WebhookSignature.verify_header(payload, header, secrets[-1], TOLERANCE_SECONDS)
    # The library refuses only old timestamps; one far in the future is just as much a replay
    # risk (a signature made for later use), so the tolerance holds both ways.
    timestamp, _ = stripe.WebhookSignature._get_timestamp_and_signatures(
        header, stripe.WebhookSignature.EXPECTED_SCHEME)
    if timestamp > time.time() + TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(f"timestamp {timestamp} is in the future", header)
