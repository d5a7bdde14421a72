"""Which payment provider serves what: new donations go to the configured one (Stripe when a key is
set, else the sandbox); everything after that goes to the provider each donation was made with."""
from __future__ import annotations

from flask import current_app, g

from donations.gateway import GatewayError, PaymentGateway
from donations.sandbox import SandboxGateway
from donations.stripe_gateway import StripeGateway


def get_gateway() -> PaymentGateway:
    """The provider that new donations of this request go to: Stripe with a key, else the sandbox."""
    cached = g.get("_payment_gateway")
    if cached is not None:
        return cached
    gateway = _stripe() if current_app.config.get("STRIPE_SECRET_KEY") else SandboxGateway()
    g._payment_gateway = gateway
    return gateway


def gateway_named(name: str) -> PaymentGateway:
    """The provider a donation was made with (its `provider` column), for its refunds and events.

    A donation outlives a change of configuration: sandbox donations made by `flask demo` stay the
    sandbox's where Stripe keys are set, and a Stripe donation needs Stripe's key to be refunded."""
    current = get_gateway()
    if current.name == name:
        return current
    if name == SandboxGateway.name:
        return SandboxGateway()
    if name == StripeGateway.name and current_app.config.get("STRIPE_SECRET_KEY"):
        return _stripe()
    raise GatewayError(f"{name}: this provider is not configured here")


def configured_gateways() -> list[PaymentGateway]:
    """Every provider that can be asked about its payments here: the sandbox always (it lives in
    our own database), Stripe when a key is set. Reconciliation goes through each."""
    gateways: list[PaymentGateway] = [gateway_named(SandboxGateway.name)]
    if current_app.config.get("STRIPE_SECRET_KEY"):
        gateways.append(gateway_named(StripeGateway.name))
    return gateways


def in_process_events() -> list[tuple[PaymentGateway, dict]]:
    """Events that providers produced inside this request (the sandbox's), with their provider."""
    sandbox = gateway_named(SandboxGateway.name)
    return [(sandbox, event) for event in sandbox.take_events()]


def is_sandbox() -> bool:
    """Whether this request's payments go to the sandbox (no Stripe key, or `flask demo`)."""
    return get_gateway().name == SandboxGateway.name


def _stripe() -> StripeGateway:
    config = current_app.config
    return StripeGateway(config["STRIPE_SECRET_KEY"], config.get("STRIPE_API_BASE"),
                         config["STRIPE_MAX_NETWORK_RETRIES"])
