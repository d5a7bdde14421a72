"""Proving an e-mail address: a signed link mailed to it, and what follows once it is opened.

A new account, and an account whose address changes, starts unverified. The owner may sign in and
give all the same; but gifts made earlier as a guest with that address join the account only after
the link proves they read its mail (otherwise anyone could register someone else's address and read
their receipts). The packages above accounts (donations) say what "joining" means through
`register_on_verified`, so accounts imports none of them.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from accounts.models import User
from amanah import mail
from amanah.db import now_utc
from amanah.extensions import db
from amanah.i18n import current_locale
from amanah.links import absolute_url
from amanah.transactions import after_commit

VERIFY_MAX_AGE = 7 * 24 * 3600  # seconds a verification link stays valid
VERIFY_SALT = "amanah.email-verification"
_HOOKS = "amanah.on_email_verified"

VERIFY_EXPIRED = _l("This verification link has expired: links work for seven days. Sign in and ask "
                    "for a new one.")
VERIFY_INVALID = _l("This verification link is not valid, or was sent to an address your account no "
                    "longer uses. Sign in and ask for a new one.")


class VerificationError(ValueError):
    """A link that cannot verify anything; str() is the (translated) reason."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def register_on_verified(app, hook: Callable[[User], object]) -> None:
    """`hook(user)` runs in the transaction that marks the user's address verified."""
    app.extensions.setdefault(_HOOKS, []).append(hook)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=VERIFY_SALT)


def _address_digest(address: str) -> str:
    # The token names the address it was mailed to, as a digest: once the account's address changes,
    # a link sent to the old one proves nothing about the new one.
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def make_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "e": _address_digest(user.email)})


def user_for_token(token: str) -> User:
    """The user whose current address the link was mailed to, while it is unexpired."""
    try:
        data = _serializer().loads(token, max_age=VERIFY_MAX_AGE)
    except SignatureExpired:
        raise VerificationError(VERIFY_EXPIRED) from None
    except BadData:
        raise VerificationError(VERIFY_INVALID) from None
    user_id = data.get("u") if isinstance(data, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or not hmac.compare_digest(
            str(data.get("e", "")), _address_digest(user.email)):
        raise VerificationError(VERIFY_INVALID)
    return user


def send_verification(user: User) -> None:
    """Mail the link to the user's current address once the transaction commits."""
    if user.email_verified:
        return
    link = absolute_url("accounts.verify_email", token=make_token(user))
    after_commit(mail.send, mail.render_message(
        user.email, _l("Confirm your e-mail address for Amanah"), "verify_email",
        locale=user.preferred_language or current_locale(), user=user, link=link))


def verify(token: str) -> User:
    """Mark the address the link was sent to as verified and run the hooks (once; flushes)."""
    return mark_verified(user_for_token(token))


def mark_verified(user: User) -> User:
    """The user's current address is proven (by the link, or for a demo account by fiat)."""
    if not user.email_verified:
        user.email_verified_at = now_utc()
        db.session.flush()
        for hook in current_app.extensions.get(_HOOKS, []):
            hook(user)
    return user


def address_changed(user: User) -> None:
    """The address changed: it is unproven until the new link is opened."""
    user.email_verified_at = None
    send_verification(user)
