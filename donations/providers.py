"""Which payment provider serves what: a new donation goes to the provider of the method the donor
chose (cards to Stripe when a key is set, QRIS, virtual accounts and e-wallets to Xendit when its
key is set, anything else to the sandbox); everything after that goes to the provider each
donation was made with."""
from __future__ import annotations

from flask import current_app, g

from donations import methods
from donations.gateway import GatewayError, PaymentGateway
from donations.sandbox import SandboxGateway
from donations.stripe_gateway import StripeGateway
from donations.xendit_gateway import XenditGateway


def get_gateway(method: str | None = None) -> PaymentGateway:
    """The provider that new donations of this request by `method` go to (by default: card).
    `g._payment_gateway` set (by `flask demo`) sends every method of the request to it."""
    forced = g.get("_payment_gateway")
    if forced is not None:
        return forced
    local = methods.method_named(method).local
    cache = g.setdefault("_payment_gateways", {})
    cached = cache.get(local)
    if cached is not None:
        return cached
    config = current_app.config
    if local:
        gateway = _xendit() if config.get("XENDIT_SECRET_KEY") else SandboxGateway()
    else:
        gateway = _stripe() if config.get("STRIPE_SECRET_KEY") else SandboxGateway()
    cache[local] = gateway
    return gateway


def gateway_named(name: str) -> PaymentGateway:
    """The provider a donation was made with (its `provider` column), for its refunds and events.

    A donation outlives a change of configuration: sandbox donations made by `flask demo` stay the
    sandbox's where Stripe keys are set, and a Stripe donation needs Stripe's key to be refunded."""
    for method in (None, "qris"):
        current = get_gateway(method)
        if current.name == name:
            return current
    if name == SandboxGateway.name:
        return SandboxGateway()
    raise GatewayError(f"{name}: this provider is not configured here")


def configured_gateways() -> list[PaymentGateway]:
    """Every provider that can be asked about its payments here: the sandbox always (it lives in
    our own database), Stripe and Xendit when their keys are set. Reconciliation goes through each."""
    gateways: list[PaymentGateway] = [gateway_named(SandboxGateway.name)]
    if current_app.config.get("STRIPE_SECRET_KEY"):
        gateways.append(gateway_named(StripeGateway.name))
    if current_app.config.get("XENDIT_SECRET_KEY"):
        gateways.append(gateway_named(XenditGateway.name))
    return gateways


def receiving_gateway(name: str) -> PaymentGateway | None:
    """The provider whose notifications POST /webhooks/<name> receives, or None (no such provider).

    Where its keys are not set here, an instance without them still verifies its notifications
    (with its webhook secret or callback token, from the configuration); the endpoint then asks
    gateway_named, which refuses, so the provider retries later."""
    try:
        return gateway_named(name)
    except GatewayError:
        pass
    if name == StripeGateway.name:
        return StripeGateway("", None)
    if name == XenditGateway.name:
        return XenditGateway("", None)
    return None


def in_process_events() -> list[tuple[PaymentGateway, dict]]:
    """Events that providers produced inside this request (the sandbox's), with their provider."""
    sandbox = gateway_named(SandboxGateway.name)
    return [(sandbox, event) for event in sandbox.take_events()]


def is_sandbox(method: str | None = None) -> bool:
    """Whether this request's payments by `method` go to the sandbox (no key for its provider, or
    `flask demo`)."""
    return get_gateway(method).name == SandboxGateway.name


def is_sandbox_provider(name: str) -> bool:
    """Whether a donation made with provider `name` (its `provider` column) moved no real money."""
    return name == SandboxGateway.name


def _stripe() -> StripeGateway:
    config = current_app.config
    return StripeGateway(config["STRIPE_SECRET_KEY"], config.get("STRIPE_API_BASE"),
                         config["STRIPE_MAX_NETWORK_RETRIES"])


def _xendit() -> XenditGateway:
    config = current_app.config
    return XenditGateway(config["XENDIT_SECRET_KEY"], config.get("XENDIT_API_BASE"))
