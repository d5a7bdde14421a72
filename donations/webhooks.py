"""POST /webhooks/stripe: verify Stripe's signature on the raw body, then hand the event over."""
from __future__ import annotations

import json
import logging

import stripe
from flask import Blueprint, current_app, jsonify, request

from amanah.extensions import csrf
from donations import giving

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)
TOLERANCE_SECONDS = 300


@bp.post("/stripe")
@csrf.exempt  # authenticated by Stripe's signature instead; the only CSRF-exempt route
def stripe_webhook():
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    payload = request.get_data(cache=False)
    try:
        if not secret:
            raise stripe.SignatureVerificationError("no STRIPE_WEBHOOK_SECRET configured", None)
        stripe.WebhookSignature.verify_header(payload, request.headers.get("Stripe-Signature"), secret,
                                              TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        log.warning("webhook refused from %s: %s", request.remote_addr, exc)
        return jsonify({"error": "invalid signature"}), 400
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return jsonify({"error": "not an event"}), 400
    try:
        result = giving.handle_event(event)
    except giving.RetryLater as exc:
        log.info("webhook %s deferred: %s", event.get("id"), exc)
        return jsonify({"status": "retry"}), 503
    return jsonify({"status": result})
