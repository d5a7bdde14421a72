"""Response headers that every page gets."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from amanah.errors import error_response

# No inline script and nothing from other origins: every asset is served by the app itself.
DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]
CSP = "; ".join(DIRECTIVES)
# The donate form's answer is a redirect to Stripe's hosted Checkout; browsers apply form-action to
# that redirect, so Stripe's origin is allowed there, and only when Stripe is configured.
STRIPE_CHECKOUT = "https://checkout.stripe.com"


def content_security_policy(config) -> str:
    if not config.get("STRIPE_SECRET_KEY"):
        return CSP
    return "; ".join(f"{d} {STRIPE_CHECKOUT}" if d.startswith("form-action") else d for d in DIRECTIVES)


class BoundedInt(IntegerConverter):
    """`<int:...>` route parts, but never more than the ids' columns hold (PostgreSQL's `integer`:
    SQLAlchemy casts the parameter to the column's type, so 3,000,000,000 would be a database
    error): a larger number is a 404 like any unknown id."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class BoundedBigInt(BoundedInt):
    """`<bigint:...>`: numbers of a BIGINT column (a ledger entry's seq)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


def refuse_nul_bytes():
    """PostgreSQL text cannot hold NUL, and no legitimate input has one: refuse it at the door,
    for every route, instead of letting a query fail deep inside (and SQLite quietly accept it)."""
    if "\x00" in request.path or _has_nul(request.args.values()):
        return error_response(400, _("The request contains a NUL character."))
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data") and _has_nul(request.form.values()):
        return error_response(400, _("The request contains a NUL character."))
    return None


# The routes that take a JSON body: the payment providers' notifications (read as raw bytes).
JSON_ENDPOINTS = frozenset({"webhooks.notification"})


def refuse_json_bodies():
    """Every other POST is an HTML form. Flask-WTF would take a JSON body for the form
    (ImmutableMultiDict(request.get_json())), and a list, a number or an object inside one breaks
    the form's fields deep in validation (a 500): such a body is refused at the door, 415."""
    if (request.method in ("POST", "PUT", "PATCH", "DELETE") and request.is_json
            and request.routing_exception is None and request.endpoint not in JSON_ENDPOINTS):
        return error_response(415, _("This address takes a form, not JSON."))
    return None


def init_app(app) -> None:
    app.url_map.converters["int"] = BoundedInt
    app.url_map.converters["bigint"] = BoundedBigInt
    app.before_request(refuse_nul_bytes)
    app.before_request(refuse_json_bodies)
    production = app.config["AMANAH_ENV"] == "production"
    csp = content_security_policy(app.config)

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
