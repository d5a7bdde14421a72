"""Hostile bodies on /webhooks/stripe: each refused with a 400 that says why, nothing written."""
from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from donations.models import PaymentEvent
from tests.factories.fake_stripe import sign

SECRET = "whsec_input_secret"


@pytest.fixture
def webhook_app(app):
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET
    return app


def _post(client, body: bytes, timestamp: int | None = None):
    return client.post("/webhooks/stripe", data=body, content_type="application/json",
                       headers={"Stripe-Signature": sign(body, [SECRET], timestamp)})


def _events_stored(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent))


def test_a_body_that_is_not_utf8_is_refused_signed_or_not(webhook_app, client):
    body = b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {"id": "\xff"}}}'
    assert _post(client, body).status_code == 400
    unsigned = client.post("/webhooks/stripe", data=body, content_type="application/json",
                           headers={"Stripe-Signature": "t=1,v1=00"})
    assert unsigned.status_code == 400 and unsigned.json == {"error": "body is not UTF-8"}
    assert _events_stored(webhook_app) == 0


def test_a_signed_event_nested_thousands_deep_is_refused(webhook_app, client):
    body = b'{"id": "evt_deep", "type": "x.y", "data": {"object": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    response = _post(client, body)
    assert response.status_code == 400 and response.json == {"error": "JSON nested too deep"}
    assert _events_stored(webhook_app) == 0


@pytest.mark.parametrize("where", ["id", "object", "key"])
def test_a_signed_event_holding_a_nul_character_is_refused(webhook_app, client, where):
    event = {"id": "evt_nul", "type": "checkout.session.completed", "data": {"object": {"id": "cs_1"}}}
    if where == "id":
        event["id"] = "cs_\u0000"
    elif where == "object":
        event["data"]["object"]["id"] = "cs_\u0000"
    else:
        event["data"]["object"]["meta\u0000"] = "x"
    response = _post(client, json.dumps(event).encode())
    assert response.status_code == 400
    assert response.json == {"error": "a string holds a NUL character"}
    assert _events_stored(webhook_app) == 0


@pytest.mark.parametrize("offset, accepted", [(-299, True), (-301, False), (299, True), (301, False),
                                              (3600, False)])
def test_the_timestamp_tolerance_holds_both_ways(webhook_app, client, offset, accepted):
    body = json.dumps({"id": f"evt_t{offset}", "type": "customer.created",
                       "data": {"object": {}}}).encode()
    response = _post(client, body, int(time.time()) + offset)
    assert response.status_code == (200 if accepted else 400)
