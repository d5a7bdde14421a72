"""POST /webhooks/<provider>: the provider verifies and parses its own notification (the gateway
contract's parse_notification: Stripe's signature on the raw body, Xendit's callback token), then
the event goes to giving.handle_event, which re-fetches what it names before trusting it.

Nothing here knows which provider it serves: donations.providers names the one the URL asks for."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request

from amanah.extensions import csrf
from donations import giving
from donations.gateway import GatewayError, NotAtProvider, NotificationRefused, has_nul
from donations.providers import gateway_named, receiving_gateway

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)


def _malformed(event) -> str | None:
    """Why `event` is not an event (in the contract's shape) we can act on, or None."""
    if not isinstance(event, dict):
        return "not a JSON object"
    if not isinstance(event.get("id"), str) or not event["id"]:
        return "event without an id"
    if not isinstance(event.get("type"), str):
        return "event without a type"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "event without data.object"
    # Some objects have no id (balance.available); every object we act on has one.
    if event["type"] in giving.HANDLERS and not isinstance(data["object"].get("id"), str):
        return "event without data.object.id"
    return None


@bp.post("/<provider>")
@csrf.exempt  # authenticated by the provider's signature or token instead
def notification(provider: str):
    gateway = receiving_gateway(provider)
    if gateway is None:
        abort(404)
    try:
        event = gateway.parse_notification(request.get_data(cache=False), request.headers)
    except NotificationRefused as exc:
        log.warning("webhook refused from %s (%s): %s", request.remote_addr, provider, exc)
        return jsonify({"error": exc.reason}), exc.status
    if event is None:
        return jsonify({"status": "ignored"})
    problem = _malformed(event) or ("a string holds a NUL character" if has_nul(event) else None)
    if problem:
        log.warning("webhook refused (%s): %s", provider, problem)
        return jsonify({"error": problem}), 400
    if event["type"] not in giving.HANDLERS:  # others are ignored, configured or not
        return jsonify({"status": "ignored"})
    try:
        # The provider as configured here: one whose keys are not set cannot be asked to re-fetch.
        result = giving.handle_event(event, gateway_named(gateway.name))
    except NotAtProvider as exc:  # names nothing the provider has: not ours, a retry finds the same
        log.warning("webhook %s acknowledged: %s", event["id"], exc)
        return jsonify({"status": "not ours"})
    except giving.RetryLater as exc:
        log.info("webhook %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    except GatewayError as exc:  # the provider could not be asked (or is not configured); it retries
        log.warning("webhook %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    return jsonify({"status": result})
