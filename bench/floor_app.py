"""The product app plus four routes that do only the first steps of a confirmation, for
bench/webhook_floor.py (served by gunicorn as `floor_app:app`). Not part of the product.

Each route takes the same signed checkout.session.completed event as /webhooks/stripe and uses the
product's own code for the steps it does, and nothing after them:

    /bench/verify           Stripe's signature checked and the event parsed (the gateway's
                            parse_notification), answered
    /bench/refetch          ... and the session re-fetched from Stripe (the gateway's
                            fetch_checkout, as every confirmation does for the fee's balance
                            transaction), answered
    /bench/record           ... verified, then the event recorded (one INSERT into
                            pending_confirmations and its COMMIT), answered: no re-fetch
    /bench/refetch-record   verified, re-fetched, recorded: what a confirmation does before it
                            touches the ledger
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify, request

import amanah.security
from amanah.db import now_utc
from amanah.extensions import csrf, db
from donations.models import PendingConfirmation
from donations.providers import gateway_named, receiving_gateway
from wsgi import app

_RECORD = sa.insert(PendingConfirmation.__table__)


def _event() -> dict:
    return receiving_gateway("stripe").parse_notification(request.get_data(cache=False), request.headers)


def _refetched(event: dict) -> dict:
    return gateway_named("stripe").fetch_checkout(event["data"]["object"]["id"])


def _record(event: dict, obj: dict) -> None:
    db.session.execute(_RECORD, {"provider": "stripe", "event_id": event["id"], "type": event["type"],
                                 "object": obj, "notify": True, "received_at": now_utc()})
    db.session.commit()


def verify():
    return jsonify({"event": _event()["id"]})


def refetch():
    return jsonify({"session": _refetched(_event())["id"]})


def record():
    event = _event()
    _record(event, event["data"]["object"])
    return jsonify({"event": event["id"]})


def refetch_record():
    event = _event()
    _record(event, _refetched(event))
    return jsonify({"event": event["id"]})


ROUTES = {"verify": verify, "refetch": refetch, "record": record, "refetch-record": refetch_record}
for _name, _view in ROUTES.items():
    app.add_url_rule(f"/bench/{_name}", f"bench_{_name}", csrf.exempt(_view), methods=["POST"])
# These take JSON bodies, as the webhook does (everything else answers a JSON body 415).
amanah.security.JSON_ENDPOINTS = amanah.security.JSON_ENDPOINTS | {f"bench_{n}" for n in ROUTES}
