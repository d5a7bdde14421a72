"""POST /webhooks/stripe and /webhooks/xendit: authenticate the provider's notification (Stripe's
signature on the raw body, Xendit's callback token), then hand the event over to giving."""
from __future__ import annotations

import json
import logging
import time

import stripe
from flask import Blueprint, current_app, jsonify, request

from amanah.extensions import csrf
from donations import giving
from donations.gateway import GatewayError
from donations.providers import gateway_named
from donations.stripe_gateway import StripeGateway
from donations.xendit_gateway import NotAtXendit, XenditGateway, callback_event, callback_token_valid

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
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        stripe.WebhookSignature.verify_header(payload, header, secrets[-1], TOLERANCE_SECONDS)
    # The library refuses only old timestamps; one far in the future is just as much a replay
    # risk (a signature made for later use), so the tolerance holds both ways.
    timestamp, _ = stripe.WebhookSignature._get_timestamp_and_signatures(
        header, stripe.WebhookSignature.EXPECTED_SCHEME)
    if timestamp > time.time() + TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(f"timestamp {timestamp} is in the future", header)


def _has_nul(value) -> bool:
    """True when any string in the parsed event holds U+0000, which PostgreSQL text cannot store.

    Walked with a stack, not recursion: the event may be nested as deep as the parser allowed."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


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
        payload.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("webhook refused from %s: body is not UTF-8", request.remote_addr)
        return jsonify({"error": "body is not UTF-8"}), 400
    try:
        _verify(payload, request.headers.get("Stripe-Signature"))
    except stripe.SignatureVerificationError as exc:
        log.warning("webhook refused from %s: %s", request.remote_addr, exc)
        return jsonify({"error": "invalid signature"}), 400
    try:
        event = json.loads(payload)
    except RecursionError:
        log.warning("webhook refused: signed body is nested too deep")
        return jsonify({"error": "JSON nested too deep"}), 400
    except ValueError:
        log.warning("webhook refused: signed body is not JSON")
        return jsonify({"error": "malformed JSON"}), 400
    problem = _malformed(event) or ("a string holds a NUL character" if _has_nul(event) else None)
    if problem:
        log.warning("webhook refused: %s", problem)
        return jsonify({"error": problem}), 400
    try:
        handled = event["type"] in giving.HANDLERS  # others are ignored, configured or not
        result = giving.handle_event(event, gateway_named(StripeGateway.name)) if handled else "ignored"
    except giving.RetryLater as exc:
        log.info("webhook %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    except GatewayError as exc:  # Stripe could not be asked; it redelivers the event later
        log.warning("webhook %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    return jsonify({"status": result})


@bp.post("/xendit")
@csrf.exempt  # authenticated by Xendit's callback token instead
def xendit_webhook():
    """Xendit's callbacks: the token first (nothing is read or written for a wrong one), then the
    payment request or refund is re-fetched through giving; a retry of the same notification
    (its webhook-id) changes nothing."""
    if not callback_token_valid(current_app.config.get("XENDIT_CALLBACK_TOKEN"),
                                request.headers.get("x-callback-token")):
        log.warning("xendit callback refused from %s: wrong or missing x-callback-token", request.remote_addr)
        return jsonify({"error": "invalid callback token"}), 401
    try:
        body = json.loads(request.get_data(cache=False).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        log.warning("xendit callback refused: body is not JSON")
        return jsonify({"error": "malformed JSON"}), 400
    event, paid, problem = callback_event(body, request.headers.get("webhook-id"))
    problem = problem or ("a string holds a NUL character" if _has_nul(body) else None)
    if problem:
        log.warning("xendit callback refused: %s", problem)
        return jsonify({"error": problem}), 400
    if event is None:
        return jsonify({"status": "ignored"})
    try:
        gateway = gateway_named(XenditGateway.name)
        if paid is not None:
            gateway.reported_paid[event["data"]["object"]["id"]] = paid
        result = giving.handle_event(event, gateway)
    except NotAtXendit as exc:  # names nothing Xendit has: not ours, and a retry would find the same
        log.warning("xendit callback %s acknowledged: %s", event["id"], exc)
        return jsonify({"status": "not ours"})
    except giving.RetryLater as exc:
        log.info("xendit callback %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    except GatewayError as exc:  # Xendit could not be asked (or is not configured); it retries
        log.warning("xendit callback %s deferred: %s", event["id"], exc)
        return jsonify({"status": "retry"}), 503
    return jsonify({"status": result})
