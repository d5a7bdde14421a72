"""Every payment provider keeps the contract written down in donations.gateway.PaymentGateway.

isinstance() on a runtime_checkable Protocol only checks that the names exist; the signatures
are compared with inspect so that a provider whose method takes other arguments fails here,
not in the middle of a payment.
"""
from __future__ import annotations

import ast
import inspect
import json
import pathlib

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from donations.gateway import NotificationRefused, PaymentGateway
from donations.models import Donation, PaymentEvent
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
                                "list_refunds", "parse_notification", "payment_instructions",
                                "refunds_since", "take_events", "undelivered_events"]
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


# ---- notifications: each provider verifies its own before anything is read or written ----

@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.__name__)
def test_each_provider_refuses_a_notification_it_cannot_verify(app, provider):
    app.config.update(STRIPE_WEBHOOK_SECRET="whsec_contract", XENDIT_CALLBACK_TOKEN="cb_contract")
    body = json.dumps({"id": "evt_sbx_0000", "type": "checkout.session.completed",
                       "event": "payment.succeeded", "data": {"object": {"id": "cs_1"},
                                                               "payment_request_id": "pr-1"}}).encode()
    with app.test_request_context():
        with pytest.raises(NotificationRefused) as refused:
            _instance(provider).parse_notification(body, {"Stripe-Signature": "t=1,v1=00",
                                                          "x-callback-token": "cb_wrong"})
        assert 400 <= refused.value.status < 500
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 0


def test_an_unknown_provider_has_no_webhook(client):
    assert client.post("/webhooks/paypal", data=b"{}", content_type="application/json").status_code == 404


def test_a_sandbox_event_whose_delivery_was_lost_is_delivered_by_notification(app, client):
    from tests.factories.giving import make_campaign, pending
    with app.app_context():
        donation_id, checkout_id = pending(app, make_campaign())
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()  # the sandbox's change, its in-process delivery lost
    forged = {**event, "data": {"object": {"id": "cs_sbx_forged"}}, "id": "evt_sbx_forged"}
    refused = client.post("/webhooks/sandbox", data=json.dumps(forged), content_type="application/json")
    assert refused.status_code == 404
    response = client.post("/webhooks/sandbox", data=json.dumps({"id": event["id"]}),
                           content_type="application/json")
    assert response.status_code == 200 and response.json == {"status": "paid"}
    again = client.post("/webhooks/sandbox", data=json.dumps({"id": event["id"]}),
                        content_type="application/json")
    assert again.json == {"status": "duplicate"}
    with app.app_context():
        assert db.session.get(Donation, donation_id).status == "paid"


# ---- nothing outside the providers' own modules knows which provider it talks to ----

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROVIDER_MODULES = {"donations.stripe_gateway", "donations.xendit_gateway", "donations.xendit_fees",
                    "donations.sandbox"}
# Where the names are allowed: the providers themselves; donations.providers, which picks one by
# configuration; `flask demo`, whose money is sandbox money by definition; fees, which reads
# Xendit's price list; receipts, which print the provider name an issued receipt stored.
ALLOWED = PROVIDER_MODULES | {"donations.providers", "donations.demo", "donations.fees", "documents.receipts"}
PROVIDER_LIBRARIES = {"stripe", "xendit"}


def _app_modules():
    for path in sorted(ROOT.glob("*/*.py")):
        if path.parts[-2] in ("tests", "bench", "migrations", "docs", "deploy") or path.name == "wsgi.py":
            continue
        yield f"{path.parts[-2]}.{path.stem}", path


def test_only_the_providers_import_a_provider_or_its_library():
    offenders = []
    for module, path in _app_modules():
        if module in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name in PROVIDER_MODULES or name.split(".")[0] in PROVIDER_LIBRARIES:
                    offenders.append(f"{module} imports {name}")
    assert offenders == []


def test_no_provider_name_is_compared_outside_the_providers():
    """A string literal naming a provider ("stripe", "xendit", "sandbox") in a comparison, or a
    table keyed by provider names, is code that knows which provider it talks to."""
    offenders = []
    for module, path in _app_modules():
        if module in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            literals = []
            if isinstance(node, ast.Compare):
                literals = [node.left, *node.comparators]
            elif isinstance(node, ast.Dict):
                keys = [k for k in node.keys if isinstance(k, ast.Constant)]
                named = [k for k in keys if k.value in ("stripe", "xendit", "sandbox")]
                literals = named if len(named) > 1 else []
            for item in literals:
                if isinstance(item, ast.Constant) and item.value in ("stripe", "xendit", "sandbox"):
                    offenders.append(f"{module}:{node.lineno} {item.value!r}")
    assert offenders == []
