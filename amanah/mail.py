"""Outgoing mail: build a message, queue it, and deliver it only once the transaction commits.

Delivery uses smtplib with the MAIL_* settings. Without MAIL_SERVER (development and tests) each
message is written as an .eml file to instance/outbox/ and its path is logged, so someone running
the app locally can open a password-reset link. Production refuses to start without MAIL_SERVER.

Mail about a change goes out after the change commits: `after_commit(mail.send, message)` (see
amanah.transactions), so that a request that rolls back, or fails before its commit, sends nothing.
"""
from __future__ import annotations

import email.policy
import functools
import secrets
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale

from amanah.db import now_utc


def build_message(to: str, subject: str, text: str, *, sender: str | None = None) -> EmailMessage:
    """A plain-text UTF-8 message from the configured sender."""
    sender = sender or current_app.config["MAIL_DEFAULT_SENDER"]
    message = EmailMessage()
    message["From"] = _header("From", sender)
    message["To"] = to
    message["Subject"] = _header("Subject", subject)
    message["Date"] = format_datetime(now_utc())
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    # Tells mail robots (vacation responders) not to answer.
    message["Auto-Submitted"] = _header("Auto-Submitted", "auto-generated")
    # Plain ASCII stays readable as sent (links unbroken in an .eml file); anything else is encoded.
    plain = text.isascii() and all(len(line) <= 900 for line in text.splitlines())
    message.set_content(text, cte="7bit" if plain else "quoted-printable")
    return message


@functools.lru_cache(maxsize=256)
def _header(name: str, value: str):
    """The parsed header for a value that recurs (the sender, a subject): EmailMessage parses every
    header it is given, unless given one parsed already, and header objects are immutable."""
    return email.policy.default.header_factory(name, value)


@functools.lru_cache(maxsize=16)
def _domain_of(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "amanah.localhost"


def render_message(to: str, subject, template: str, locale: str | None = None, **context) -> EmailMessage:
    """Render templates/mail/<template>.txt and the (lazy) subject in `locale`."""
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        text = render_template(f"mail/{template}.txt", **context)
        return build_message(to, str(subject), text)


def send(message: EmailMessage) -> None:
    """Deliver `message`, logging a failure instead of raising it: meant to run after a commit
    (`after_commit(send, message)`), when failing would only hide that the transaction did commit."""
    try:
        deliver(message)
    except Exception:
        current_app.logger.exception("could not deliver mail to %s (%s)", message["To"], message["Subject"])


def deliver(message: EmailMessage) -> Path | None:
    """Send `message` now: over SMTP, or into the outbox folder when no MAIL_SERVER is set."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        _send_smtp(message, config)
        return None
    if config["AMANAH_ENV"] == "production":
        raise RuntimeError("MAIL_SERVER is not set; production cannot deliver mail")
    return _write_outbox(message, Path(current_app.instance_path) / "outbox")


def _send_smtp(message: EmailMessage, config) -> None:
    host, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    timeout = config.get("MAIL_TIMEOUT", 30)
    context = ssl.create_default_context()
    if config.get("MAIL_USE_SSL"):
        connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        connection = smtplib.SMTP(host, port, timeout=timeout)
    with connection as smtp:
        if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
            smtp.starttls(context=context)
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def _write_outbox(message: EmailMessage, outbox: Path) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    recipient = parseaddr(str(message["To"]))[1].partition("@")[0]
    name = f"{now_utc():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}-{_safe(recipient)}.eml"
    path = outbox / name
    path.write_bytes(message.as_bytes())
    current_app.logger.info("MAIL_SERVER is not set: mail to %s written to %s", message["To"], path)
    return path


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:40] or "mail"


_background: set[threading.Thread] = set()


def run_in_background(task, *args, base_url: str) -> None:
    """Run `task(*args)` in a thread of its own, in a request context for `base_url` (so that
    url_for builds the site's links), logging what fails. For work whose duration must not show in
    the response: a password reset must answer as fast for an unknown address as for a known one.

    Not a daemon thread: a worker that stops waits for the mail it is sending (at most the SMTP
    timeout) instead of dropping it."""
    app = current_app._get_current_object()

    def run() -> None:
        try:
            with app.test_request_context(base_url=base_url):
                task(*args)
        except Exception:
            app.logger.exception("background mail task %s failed", getattr(task, "__name__", task))
        finally:
            _background.discard(threading.current_thread())

    thread = threading.Thread(target=run, name="amanah-mail")
    _background.add(thread)
    thread.start()


def wait_for_background(timeout: float = 30) -> None:
    """Wait until the background mail tasks are done (tests; a graceful stop)."""
    for thread in list(_background):
        thread.join(timeout)
