"""Response headers that every page gets."""
from __future__ import annotations

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


def init_app(app) -> None:
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
