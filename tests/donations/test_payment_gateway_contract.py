"""Every payment provider keeps the contract written down in donations.gateway.PaymentGateway.

isinstance() on a runtime_checkable Protocol only checks that the names exist; the signatures
are compared with inspect so that a provider whose method takes other arguments fails here,
not in the middle of a payment.
"""
from __future__ import annotations

import inspect

import pytest

from donations.gateway import PaymentGateway
from donations.providers import get_gateway
from donations.sandbox import SandboxGateway
from donations.stripe_gateway import StripeGateway
from donations.xendit_gateway import XenditGateway

PROVIDERS = [SandboxGateway, StripeGateway, XenditGateway]
CONTRACT_METHODS = sorted(name for name, member in vars(PaymentGateway).items()
                          if inspect.isfunction(member) and not name.startswith("_"))
CONTRACT_ATTRIBUTES = sorted(PaymentGateway.__annotations__)


def _instance(provider):
    if provider is StripeGateway:
        return StripeGateway("sk_test_contract", "http://127.0.0.1:9")  # never called
    if provider is XenditGateway:
        return XenditGateway("xnd_development_contract", "http://127.0.0.1:9")  # never called
    return provider()


def test_the_contract_names_what_giving_uses():
    assert CONTRACT_METHODS == ["checkouts_since", "create_checkout", "create_refund", "disputes_since",
                                "fetch_checkout", "fetch_dispute", "fetch_payment_intent", "fetch_refund",
                                "list_refunds", "refunds_since", "take_events", "undelivered_events"]
    assert CONTRACT_ATTRIBUTES == ["name", "round_trips"]


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.__name__)
def test_provider_is_a_payment_gateway(provider):
    gateway = _instance(provider)
    assert isinstance(gateway, PaymentGateway)
    assert isinstance(gateway.name, str) and gateway.name
    assert gateway.round_trips == 0


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("method", CONTRACT_METHODS)
def test_provider_method_has_the_contract_signature(provider, method):
    expected = inspect.signature(getattr(PaymentGateway, method))
    actual = inspect.signature(getattr(provider, method))
    assert list(actual.parameters) == list(expected.parameters)
    for name, param in expected.parameters.items():
        assert actual.parameters[name].kind == param.kind, name
        assert actual.parameters[name].default == param.default, name
        assert actual.parameters[name].annotation == param.annotation, name
    assert actual.return_annotation == expected.return_annotation


def test_a_provider_missing_a_method_is_not_a_payment_gateway():
    class Incomplete:
        name = "incomplete"
        round_trips = 0

        def create_checkout(self, req):
            raise NotImplementedError

    assert not isinstance(Incomplete(), PaymentGateway)


def test_the_configured_provider_keeps_the_contract(app):
    with app.test_request_context():
        assert isinstance(get_gateway(), PaymentGateway)
