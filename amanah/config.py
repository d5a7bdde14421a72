"""Configuration from the environment (and .env), checked before the app starts."""
from __future__ import annotations

import copy
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

from amanah.storage.s3 import parse_url

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting is missing or cannot be read; the message names the variable."""


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
MODES = ("development", "production", "testing")


class _Expected(ValueError):
    """A parser's refusal; its text says what was expected ("an integer between 0 and 10000")."""


def text(raw: str) -> str:
    return raw


def integer(low: int, high: int | None = None):
    """An integer (as Python's int() reads it) within [low, high]."""
    expected = f"an integer between {low} and {high}" if high is not None else f"an integer of {low} or more"

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise _Expected(expected) from None
        if value < low or (high is not None and value > high):
            raise _Expected(expected)
        return value
    return parse


def seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _Expected("a number of seconds, 0 or more") from None
    if not value >= 0:  # also refuses nan
        raise _Expected("a number of seconds, 0 or more")
    return value


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise _Expected("one of " + ", ".join(TRUE_WORDS + FALSE_WORDS))


def npwp(raw: str) -> str:
    """An NPWP, 15 or 16 digits, written with or without its dots, dashes and spaces: its digits."""
    digits = re.sub(r"[.\- ]", "", raw.strip())
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (15, 16):
        raise _Expected("an NPWP of 15 or 16 digits, like 01.234.567.8-901.000")
    return digits


def choice(*options: str):
    expected = ", ".join(options[:-1]) + " or " + options[-1]

    def parse(raw: str) -> str:
        if raw not in options:
            raise _Expected(expected)
        return raw
    return parse


def storage_url(raw: str) -> str:
    try:
        parse_url(raw)
    except ValueError:
        raise _Expected("s3://bucket or s3://bucket/prefix (unset: the instance folder)") from None
    return raw


def _generated_secret_key(instance_path: Path) -> str:
    return instance_secret(instance_path, "secret_key", lambda: secrets.token_urlsafe(48))


def _sqlite_in_instance(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'amanah.sqlite3'}"


@dataclass(frozen=True)
class Setting:
    """One environment variable: how its text is read, its value when unset or empty (a callable
    gets the instance folder), the modes that refuse to start without it, and what it is for.
    `key` is its app.config key (None: read elsewhere, not by load_config)."""
    name: str
    parse: Callable[[str], Any]
    default: Any
    required_in: tuple[str, ...]
    doc: str
    key: str | None = ""

    @property
    def config_key(self) -> str | None:
        return self.name if self.key == "" else self.key


PROD = ("production",)
DEMO_ORG_NAME = "Yayasan Amanah Demo"
DEMO_ORG_ADDRESS = "Jl. Contoh Raya No. 1, Jakarta Pusat 10110 (alamat demo)"
DEMO_ORG_REGISTRATION_NO = "AHU-0000000.AH.01.04.Tahun 2026 (nomor demo)"
DEMO_ORG_NPWP = "000000000000000"  # all zeros: plainly no one's tax number
MIB = 1024 * 1024

# Every environment variable Amanah reads, one line each; the README's configuration table lists
# exactly these (tests/amanah/test_config_settings.py checks both that and the code's reads).
SETTINGS: tuple[Setting, ...] = (
    Setting("AMANAH_ENV", choice(*MODES), "development", (), "development, production or testing"),
    Setting("AMANAH_INSTANCE_PATH", Path, ROOT / "instance", (), "instance folder (create_app)", key=None),
    Setting("SECRET_KEY", text, _generated_secret_key, PROD, "signs sessions, CSRF tokens and links"),
    Setting("DATABASE_URL", normalize_database_url, _sqlite_in_instance, PROD, "SQLAlchemy URL",
            key="SQLALCHEMY_DATABASE_URI"),
    Setting("DATABASE_PING_IDLE_SECONDS", seconds, 2.0, (), "ping pooled connections idle this long"),
    Setting("REDIS_URL", text, None, (), "rate-limit storage and RQ jobs; unset: in-process"),
    Setting("RATELIMIT_ENABLED", flag, True, (), "Flask-Limiter on or off"),
    Setting("STRIPE_SECRET_KEY", text, None, PROD, "Stripe API key; unset: the sandbox provider"),
    Setting("STRIPE_WEBHOOK_SECRET", text, None, PROD, "webhook signing secret(s), comma-separated"),
    Setting("STRIPE_API_BASE", text, None, (), "another base URL for Stripe's API (tests, mocks)"),
    Setting("STRIPE_MAX_NETWORK_RETRIES", integer(0), 2, (), "retries of a failed Stripe request"),
    Setting("XENDIT_SECRET_KEY", text, None, (), "Xendit API key; unset: local methods in the sandbox"),
    Setting("XENDIT_CALLBACK_TOKEN", text, None, (), "x-callback-token Xendit sends to /webhooks/xendit"),
    Setting("XENDIT_API_BASE", text, None, (), "another base URL for Xendit's API (tests, mocks)"),
    Setting("CHECKOUT_EXPIRY_MINUTES", integer(1, 24 * 60), 60, (), "checkout lifetime (under 30: 30)"),
    Setting("DONATION_FEE_RATE_BP", integer(0, 9_999), 340, (), "'cover the fee' rate, basis points"),
    Setting("MAIL_SERVER", text, None, PROD, "SMTP host; unset: mail goes to instance/outbox"),
    Setting("MAIL_PORT", integer(1, 65_535), 25, (), "SMTP port"),
    Setting("MAIL_USERNAME", text, None, (), "SMTP login"),
    Setting("MAIL_PASSWORD", text, None, (), "SMTP password"),
    Setting("MAIL_USE_TLS", flag, False, (), "STARTTLS"),
    Setting("MAIL_USE_SSL", flag, False, (), "TLS from the first byte"),
    Setting("MAIL_DEFAULT_SENDER", text, "Amanah <no-reply@amanah.localhost>", (), "From address"),
    Setting("LEDGER_ORIGIN", text, "amanah.localhost/ledger", PROD, "the log's name in checkpoints"),
    Setting("LEDGER_SIGNING_KEY", text, None, PROD, "Ed25519 note key; unset: one in the instance"),
    # C2SP tlog-witnesses that cosign each new checkpoint: `<URL prefix> <verifier key>` per witness,
    # separated by newlines or `;`. Unset: none.
    Setting("LEDGER_WITNESSES", text, None, (), "witnesses: `URL KEY` per witness, `;`-separated"),
    Setting("CAMPAIGN_PAGE_CACHE_SECONDS", integer(0, 300), 300, (), "anonymous campaign pages kept"),
    Setting("REPORT_OVERDUE_DAYS", integer(1, 365), 30, (), "days after a disbursement a report is due"),
    Setting("PERSONAL_CAMPAIGNS", flag, True, (), "may a person run a campaign without an organization"),
    # The demo organization, marked as such, until an operator names the real one (production
    # refuses to start without it: every receipt names its issuer). A campaign run by a verified
    # organization names that organization on its documents instead.
    Setting("ORG_NAME", text, DEMO_ORG_NAME, PROD, "organization on receipts and pages"),
    Setting("ORG_ADDRESS", text, DEMO_ORG_ADDRESS, PROD, "its address"),
    Setting("ORG_REGISTRATION_NO", text, DEMO_ORG_REGISTRATION_NO, PROD, "its legal registration"),
    Setting("ORG_NPWP", npwp, DEMO_ORG_NPWP, PROD, "its NPWP (tax number), 15 or 16 digits"),
    # Receipts are numbered <prefix>-<year>-<number>, credit notes <prefix>-CN-<year>-<number>.
    Setting("RECEIPT_PREFIX", text, "AMN", (), "prefix of document numbers"),
    # Where bulk document jobs run: "rq" (default with REDIS_URL), "thread" (default without),
    # or "inline" (in the request itself; tests).
    Setting("DOCUMENT_JOBS", choice("rq", "thread", "inline"), None, (), "where bulk jobs run"),
    Setting("EXPORT_RETENTION_DAYS", integer(0), 7, (), "days a finished bulk ZIP is kept"),
    # Processes a bulk job renders missing PDFs in (forked per job); unset: one per usable CPU.
    Setting("DOCUMENT_RENDER_PROCESSES", integer(1), None, (), "render processes per bulk job"),
    # Every issued PDF is signed (PAdES) with this PKCS#12 key and certificate; unset (development,
    # tests): a self-signed one generated once into the instance folder.
    Setting("DOCUMENT_SIGNING_P12", text, None, PROD, "PKCS#12 file that signs every document"),
    Setting("DOCUMENT_SIGNING_PASSWORD", text, None, PROD, "its password"),
    Setting("DOCUMENT_SIGNING_TSA_URL", text, None, (), "RFC 3161 timestamp authority; unset: none"),
    Setting("SERVER_NAME", text, None, PROD, "public host name for links in mail and PDFs"),
    # Reverse proxies in front of the app (nginx, a load balancer) whose X-Forwarded-For, -Proto,
    # -Host and -Port headers are believed; 0 believes none (a client could forge them).
    Setting("PROXY_HOPS", integer(0), 0, (), "trusted reverse proxies in front of the app"),
    Setting("MAX_CONTENT_LENGTH", integer(1), 12 * MIB, (), "largest request body"),
    # Largest evidence document (invoice, transfer slip) a treasurer may upload.
    Setting("EVIDENCE_MAX_BYTES", integer(1), 8 * MIB, (), "largest evidence document"),
    # Where uploads and bulk ZIPs are kept (amanah/storage): unset, the instance folder.
    Setting("STORAGE_URL", storage_url, None, (), "s3://bucket/prefix for files; unset: instance folder"),
    Setting("S3_ENDPOINT_URL", text, None, (), "the S3-compatible server (MinIO, R2); unset: AWS"),
    # Read by boto3 itself, as it always does (other sources work too: ~/.aws, an instance role).
    Setting("AWS_ACCESS_KEY_ID", text, None, (), "the bucket's access key (boto3)", key=None),
    Setting("AWS_SECRET_ACCESS_KEY", text, None, (), "its secret (boto3)", key=None),
    Setting("AWS_SESSION_TOKEN", text, None, (), "a temporary credential's token (boto3)", key=None),
    Setting("AWS_DEFAULT_REGION", text, None, (), "the bucket's region (boto3)", key=None),
    Setting("AMANAH_ADMIN_PASSWORD", text, None, (), "password for `flask users create-admin`", key=None),
    Setting("TEST_DATABASE_URL", text, None, (), "PostgreSQL database the test suite may wipe", key=None),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}
# Settings that production must receive explicitly; development generates or defaults them.
PRODUCTION_REQUIRED = tuple(s.name for s in SETTINGS if "production" in s.required_in)

# Settings that do not come from the environment (tests may override them through create_app).
FIXED = {
    # Pooled connections are pinged before use only after sitting idle (amanah.db.ping_when_idle).
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
    # Cookies: never readable by scripts, not sent on cross-site POSTs (Secure: see load_config).
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_NAME": "remember_token",  # Flask-Login's default, named so views can find it
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "BABEL_DEFAULT_LOCALE": "id",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
    "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
    "LANGUAGES": ("id", "en"),
    "WTF_CSRF_TIME_LIMIT": None,
    "MAIL_TIMEOUT": 30,  # seconds an SMTP conversation may stall
    "API_VERSION": "1",  # the OpenAPI document's info.version
    # None: argon2-cffi's RFC 9106 profile; tests set cheap PasswordHasher arguments.
    "ARGON2_PARAMETERS": None,
    # Giving: per-currency (minimum, maximum) gift and preset buttons, in ISO minor units
    # (Stripe's units: IDR counts sen, so Rp 10.000 is 1_000_000).
    "DONATION_LIMITS": {"IDR": (1_000_000, 10_000_000_000), "JPY": (100, 1_000_000),
                        "USD": (100, 1_000_000), "EUR": (100, 1_000_000), "SGD": (100, 1_000_000),
                        "MYR": (500, 5_000_000), "AUD": (100, 1_000_000)},
    "DONATION_PRESETS": {"IDR": (5_000_000, 10_000_000, 25_000_000, 50_000_000),
                         "JPY": (1_000, 3_000, 5_000, 10_000)},
    "DONATION_DEFAULT_PRESETS": (1_000, 2_500, 5_000, 10_000),
    # Estimated processor fee for "cover the fee": DONATION_FEE_RATE_BP plus this fixed part.
    "DONATION_FEE_FIXED": {"IDR": 200_000, "JPY": 40, "USD": 30, "EUR": 25, "SGD": 50,
                           "MYR": 100, "AUD": 30},
    "GUEST_LINK_MAX_AGE_DAYS": 365,
}


def read_setting(setting: Setting, env: Mapping[str, str], instance_path: Path | None = None) -> Any:
    """The setting's value from `env`: its default when unset or empty, else its parsed text."""
    raw = env.get(setting.name)
    if not raw:
        return setting.default(instance_path) if callable(setting.default) else setting.default
    try:
        return setting.parse(raw)
    except _Expected as exc:
        raise ConfigError(f"{setting.name}: expected {exc}, got {raw!r}") from None


def instance_folder() -> Path:
    """Where the SQLite file, generated keys and uploads live (AMANAH_INSTANCE_PATH)."""
    load_dotenv(ROOT / ".env", override=False)  # read before load_config, so .env counts here too
    return read_setting(SETTINGS_BY_NAME["AMANAH_INSTANCE_PATH"], os.environ)


def _check_production(env: Mapping[str, str]) -> None:
    missing = [name for name in PRODUCTION_REQUIRED if not env.get(name)]
    if missing:
        raise ConfigError("production mode refuses to start; missing: " + ", ".join(missing))
    if len(env["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        # It signs sessions, guest links and reset tokens: a short one can be guessed offline.
        raise ConfigError(f"production mode refuses to start: SECRET_KEY must have at least "
                          f"{MIN_SECRET_KEY_LENGTH} characters (e.g. python -c 'import secrets; "
                          "print(secrets.token_urlsafe(48))')")


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """app.config from the environment (and .env): every setting in SETTINGS and FIXED, checked.

    String overrides count as environment variables (and are checked); other overrides replace
    the computed value as they are."""
    load_dotenv(ROOT / ".env", override=False)
    env = dict(os.environ)
    env.update({k: v for k, v in (overrides or {}).items() if isinstance(v, str)})
    mode = read_setting(SETTINGS_BY_NAME["AMANAH_ENV"], env)
    if mode == "production":
        _check_production(env)
    cfg = {s.config_key: read_setting(s, env, instance_path) for s in SETTINGS if s.config_key}
    cfg.update(copy.deepcopy(FIXED))  # each app its own: _enable_sqlite_pragmas fills in engine options
    cfg.update({
        "RATELIMIT_STORAGE_URI": cfg["REDIS_URL"] or "memory://",
        "PREFERRED_URL_SCHEME": "http" if mode == "development" else "https",
        # HTTPS-only cookies outside development and tests.
        "SESSION_COOKIE_SECURE": mode == "production",
        "REMEMBER_COOKIE_SECURE": mode == "production",
        "TESTING": mode == "testing",
    })
    cfg.update(overrides or {})
    return cfg
