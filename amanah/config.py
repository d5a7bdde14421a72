"""Configuration from the environment (and .env), checked before the app starts."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    pass


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalize_database_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and pin the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def instance_secret(instance_path: Path, filename: str, make) -> str:
    """Read a secret kept in the instance folder, creating it (mode 0600) on first use."""
    path = instance_path / filename
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # Written under a private name and linked into place, so that several processes starting
        # at once (gunicorn workers) agree on one secret and none reads a half-written file.
        tmp = instance_path / f".{filename}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


MIN_SECRET_KEY_LENGTH = 32

# Settings that production must receive explicitly; development generates or defaults them.
PRODUCTION_REQUIRED = ("SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                       "LEDGER_SIGNING_KEY", "LEDGER_ORIGIN", "MAIL_SERVER", "SERVER_NAME")


def _non_negative_int(env: dict, name: str) -> int:
    raw = env.get(name) or "0"
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number of 0 or more, not {raw!r}")
    return int(raw)


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    load_dotenv(ROOT / ".env", override=False)
    env = dict(os.environ)
    env.update({k: v for k, v in (overrides or {}).items() if isinstance(v, str)})
    mode = env.get("AMANAH_ENV", "development")
    if mode not in {"development", "production", "testing"}:
        raise ConfigError(f"AMANAH_ENV must be development, production or testing, not {mode!r}")
    if mode == "production":
        missing = [name for name in PRODUCTION_REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError("production mode refuses to start; missing: " + ", ".join(missing))
        if len(env["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
            # It signs sessions, guest links and reset tokens: a short one can be guessed offline.
            raise ConfigError(f"production mode refuses to start: SECRET_KEY must have at least "
                              f"{MIN_SECRET_KEY_LENGTH} characters (e.g. python -c 'import secrets; "
                              "print(secrets.token_urlsafe(48))')")

    secret = env.get("SECRET_KEY") or instance_secret(
        instance_path, "secret_key", lambda: secrets.token_urlsafe(48))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'amanah.sqlite3'}"
    redis_url = env.get("REDIS_URL") or None

    cfg = {
        "AMANAH_ENV": mode,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        # Pooled connections are pinged before use only after sitting idle (amanah.db.ping_when_idle).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        "DATABASE_PING_IDLE_SECONDS": float(env.get("DATABASE_PING_IDLE_SECONDS") or 2.0),
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,
        "STRIPE_MAX_NETWORK_RETRIES": int(env.get("STRIPE_MAX_NETWORK_RETRIES") or 2),
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT") or 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or "Amanah <no-reply@amanah.localhost>",
        "LEDGER_ORIGIN": env.get("LEDGER_ORIGIN") or "amanah.localhost/ledger",
        "LEDGER_SIGNING_KEY": env.get("LEDGER_SIGNING_KEY") or None,
        "ORG_NAME": env.get("ORG_NAME") or "Yayasan Amanah Demo",
        "ORG_ADDRESS": env.get("ORG_ADDRESS") or "",
        "ORG_REGISTRATION_NO": env.get("ORG_REGISTRATION_NO") or "",
        # Receipts are numbered <prefix>-<year>-<number>, credit notes <prefix>-CN-<year>-<number>.
        "RECEIPT_PREFIX": env.get("RECEIPT_PREFIX") or "AMN",
        # Where bulk document jobs run: "rq" (default with REDIS_URL), "thread" (default without),
        # or "inline" (in the request itself; tests).
        "DOCUMENT_JOBS": env.get("DOCUMENT_JOBS") or None,
        # Days a finished bulk download (its ZIP and its job) is kept before it is purged.
        "EXPORT_RETENTION_DAYS": int(env.get("EXPORT_RETENTION_DAYS") or 7),
        # Processes a bulk job renders missing PDFs in (forked per job); unset: one per usable CPU.
        "DOCUMENT_RENDER_PROCESSES": (int(env["DOCUMENT_RENDER_PROCESSES"])
                                      if env.get("DOCUMENT_RENDER_PROCESSES") else None),
        "SERVER_NAME": env.get("SERVER_NAME") or None,
        # Reverse proxies in front of the app (nginx, a load balancer) whose X-Forwarded-For, -Proto,
        # -Host and -Port headers are believed; 0 believes none (a client could forge them).
        "PROXY_HOPS": _non_negative_int(env, "PROXY_HOPS"),
        "PREFERRED_URL_SCHEME": "http" if mode == "development" else "https",
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH") or 12 * 1024 * 1024),
        # Largest evidence document (invoice, transfer slip) a treasurer may upload.
        "EVIDENCE_MAX_BYTES": int(env.get("EVIDENCE_MAX_BYTES") or 8 * 1024 * 1024),
        # Cookies: never readable by scripts, not sent on cross-site POSTs, HTTPS-only outside dev.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": mode == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": mode == "production",
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        "LANGUAGES": ("id", "en"),
        "TESTING": mode == "testing",
        "WTF_CSRF_TIME_LIMIT": None,
        # Giving: per-currency (minimum, maximum) gift and preset buttons, in ISO minor units
        # (Stripe's units: IDR counts sen, so Rp 10.000 is 1_000_000).
        "DONATION_LIMITS": {"IDR": (1_000_000, 10_000_000_000), "JPY": (100, 1_000_000),
                            "USD": (100, 1_000_000), "EUR": (100, 1_000_000), "SGD": (100, 1_000_000),
                            "MYR": (500, 5_000_000), "AUD": (100, 1_000_000)},
        "DONATION_PRESETS": {"IDR": (5_000_000, 10_000_000, 25_000_000, 50_000_000),
                             "JPY": (1_000, 3_000, 5_000, 10_000)},
        "DONATION_DEFAULT_PRESETS": (1_000, 2_500, 5_000, 10_000),
        # Estimated processor fee for "cover the fee": rate in basis points plus a fixed part.
        "DONATION_FEE_RATE_BP": int(env.get("DONATION_FEE_RATE_BP") or 340),
        "DONATION_FEE_FIXED": {"IDR": 200_000, "JPY": 40, "USD": 30, "EUR": 25, "SGD": 50,
                               "MYR": 100, "AUD": 30},
        "CHECKOUT_EXPIRY_MINUTES": int(env.get("CHECKOUT_EXPIRY_MINUTES") or 60),
        "GUEST_LINK_MAX_AGE_DAYS": 365,
    }
    for key, value in (overrides or {}).items():
        cfg[key] = value
    return cfg
