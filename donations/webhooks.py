"""POST /webhooks/stripe: verify Stripe's signature on the raw body, then hand the event over."""
from __future__ import annotations

import json
import logging

import stripe
from flask import Blueprint, current_app, jsonify, request

from amanah.extensions import csrf
from donations import giving
from donations.gateway import GatewayError

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)
TOLERANCE_SECONDS = 300


def webhook_secrets() -> list[str]:
    """STRIPE_WEBHOOK_SECRET, comma-separated while an endpoint's secret is being rolled."""
    raw = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    return [s.strip() for s in raw.split(",") if s.strip()]


def _verify(payload: bytes, header: str | None) -> None:
    secrets = webhook_secrets()
    if not secrets:
        raise stripe.SignatureVerificationError("no STRIPE_WEBHOOK_SECRET configured", header)
    for secret in secrets[:-1]:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
            return
        except stripe.SignatureVerificationError:
            continue
    stripe.WebhookSignature.verify_header(payload, header, secrets[-1], TOLERANCE_SECONDS)


def _malformed(event) -> str | None:
    """Why `event` is not a Stripe event we can act on, or None."""
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


@bp.post("/stripe")
@csrf.exempt  # authenticated by Stripe's signature instead (the language switch checks its Origin)
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        _verify(payload, request.headers.get("Stripe-Signature"))
    except stripe.SignatureVerificationError as exc:
        log.warning("webhook refused from %s: %s", request.remote_addr, exc)
        return jsonify({"error": "invalid signature"}), 400
    try:
        event = json.loads(payload)
    except ValueError:
        log.warning("webhook refused: signed body is not JSON")
        return jsonify({"error": "malformed JSON"}), 400
    problem = _malformed(event)
    if problem:
        log.warning("webhook refused: %s", problem)
        return jsonify({"error": problem}), 400
    try:
        result = giving.handle_event(event)
    except giving.RetryLater as exc:
        log.info("webhook %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    except GatewayError as exc:  # Stripe could not be asked; it redelivers the event later
        log.warning("webhook %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    return jsonify({"status": result})
