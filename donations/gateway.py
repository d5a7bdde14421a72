"""The payment-gateway contract: what every provider (Stripe, Xendit, the sandbox) offers giving.

Every provider returns plain dicts in Stripe's JSON shape, so the confirmation service
(donations.giving) has one code path for money whichever provider produced them. Each provider
lives in its own module (donations.stripe_gateway, donations.xendit_gateway, donations.sandbox);
donations.providers picks the one the configuration and the donor's method ask for. This module
imports none of them, nor Flask nor a provider's library, so a provider can import the contract
without a circle.

Notifications are verified and parsed by their provider (parse_notification: Stripe's signature,
Xendit's callback token, the sandbox's own record of the event), behind one endpoint
(donations.webhooks, POST /webhooks/<provider name>) that hands the event to giving.handle_event.
The sandbox also hands its events over in-process (take_events), and keeps them until they are
acknowledged (undelivered_events), so none is lost to a crash.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable


class GatewayError(Exception):
    """The provider refused or could not be reached; the message is safe to log.

    `outcome_unknown`: the request may have been carried out all the same (a 5xx answer, a
    timeout, a connection dropped after sending). Such an operation is not a failure: it stays
    pending until the provider's event or a re-fetch says what happened."""

    def __init__(self, message: str, *, outcome_unknown: bool = False):
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class NotAtProvider(GatewayError):
    """The provider has no such object (a 404): asking again will not find it either, so a
    notification naming it is not ours, and is acknowledged rather than retried."""


class NotificationRefused(Exception):
    """An incoming notification that is not the provider's (a wrong or missing signature or token)
    or that cannot be read: answered with `status` (a 4xx) and `reason`, `detail` logged, and
    nothing is written."""

    def __init__(self, reason: str, status: int = 400, detail: str | None = None):
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason, self.status = reason, status


def has_nul(value) -> bool:
    """True when any string in a parsed notification holds U+0000, which PostgreSQL text cannot
    store. Walked with a stack, not recursion: it may be nested as deep as the parser allowed."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@dataclasses.dataclass(frozen=True)
class CheckoutRequest:
    donation_id: int
    amount: int  # total to charge, minor units
    currency: str
    product_name: str
    customer_email: str
    success_url: str
    cancel_url: str
    expires_at: dt.datetime
    idempotency_key: str
    locale: str
    method: str = "card"  # donations.methods code: which of the provider's methods the donor chose
    mobile_number: str | None = None  # an OVO payment is pushed to the donor's phone


@dataclasses.dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@runtime_checkable
class PaymentGateway(Protocol):
    """One payment provider. Every method may raise GatewayError; none commits the database.

    Objects come back as Stripe's JSON (dicts): a checkout session, payment intent, refund or
    dispute, re-fetched from the provider so that an event is only ever a trigger.
    """

    name: str  # stored on each donation as its provider ("stripe", "xendit", "sandbox")
    round_trips: int  # requests made to the provider so far (benchmarks and tests count them)

    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        """Open a hosted checkout for one pending donation; idempotent under req.idempotency_key."""

    def payment_instructions(self, checkout_id: str) -> dict | None:
        """What Amanah's own payment page (/give/pay/<checkout id>) shows the donor, re-fetched:
        `kind` (a donations.methods kind), `method`, `amount` (minor units), `currency`, and as the
        kind asks `qr_string`, `va_number` and `bank`, `expires_at`, or the wallet's `web_url`,
        `mobile_url` and `deeplink_url`. None: the provider shows the donor its own page (the
        checkout's url), and Amanah's has nothing to show."""

    def fetch_checkout(self, checkout_id: str) -> dict:
        """The checkout session, its payment intent expanded down to the charge's balance transaction."""

    def fetch_refund(self, refund_id: str) -> dict:
        """One refund."""

    def list_refunds(self, charge_id: str) -> list[dict]:
        """Every refund of one charge."""

    def fetch_dispute(self, dispute_id: str) -> dict:
        """One dispute (chargeback)."""

    def fetch_payment_intent(self, payment_intent: str) -> dict:
        """One payment intent, not expanded (its metadata names the donation)."""

    def create_refund(self, payment_intent: str, amount: int, idempotency_key: str, metadata: dict) -> dict:
        """Refund `amount` of a payment; idempotent under idempotency_key. Returns the refund."""

    # --- reconciliation: what the provider did, whatever events were lost ---

    def checkouts_since(self, since: dt.datetime) -> Iterator[dict]:
        """Every checkout session created at or after `since`, newest first, all pages."""

    def refunds_since(self, since: dt.datetime) -> Iterator[dict]:
        """Every refund created at or after `since`, newest first, all pages."""

    def disputes_since(self, since: dt.datetime) -> Iterator[dict]:
        """Every dispute created at or after `since`, newest first, all pages."""

    # --- notifications ---

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> dict | None:
        """Verify an incoming notification before reading it (the provider's signature or token,
        compared in constant time), then parse it into an event for giving.handle_event: Stripe's
        shape ({"id", "type", "data": {"object": {"id", ...}}}), the id unique per notification
        and the same on each retry, the object only a pointer to re-fetch. None: authentic, but
        nothing to act on. Raises NotificationRefused (nothing is written); never asks the
        provider anything."""

    # --- events the provider hands over in-process ---

    def take_events(self) -> list[dict]:
        """Events the provider produced in-process and not yet handed over (the sandbox's);
        a provider that delivers its events by webhook returns []."""

    def undelivered_events(self) -> list[dict]:
        """In-process events the app has not acknowledged (recorded as a PaymentEvent), oldest
        first: a crash between the provider's change and its confirmation left them behind. A
        provider that delivers by webhook returns [] (it retries by itself; reconciliation covers
        what its retries gave up on)."""
