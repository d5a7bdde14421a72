"""Which payment provider serves this request: Stripe when a key is configured, else the sandbox."""
from __future__ import annotations

from flask import current_app, g

from donations.gateway import PaymentGateway
from donations.sandbox import SandboxGateway
from donations.stripe_gateway import StripeGateway


def get_gateway() -> PaymentGateway:
    """The configured provider for this request: Stripe with a key, else the sandbox."""
    cached = g.get("_payment_gateway")
    if cached is not None:
        return cached
    config = current_app.config
    if config.get("STRIPE_SECRET_KEY"):
        gateway = StripeGateway(config["STRIPE_SECRET_KEY"], config.get("STRIPE_API_BASE"),
                                config["STRIPE_MAX_NETWORK_RETRIES"])
    else:
        gateway = SandboxGateway()
    g._payment_gateway = gateway
    return gateway


def is_sandbox() -> bool:
    """Whether this request's payments go to the sandbox (no Stripe key, or `flask demo`)."""
    return get_gateway().name == SandboxGateway.name
