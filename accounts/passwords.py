"""Password hashing (argon2id) and the password policy: long enough, not a common password.

No composition rules (NIST SP 800-63B): a length floor and a list of passwords attackers try
first do more good than demanding a digit and a symbol.
"""
from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 8
# Far beyond any passphrase; argon2 would hash more, but a megabyte password is only a DoS attempt.
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


@functools.lru_cache(maxsize=8)
def _hasher(params: tuple[tuple[str, int], ...]) -> PasswordHasher:
    return PasswordHasher(type=Type.ID, **dict(params))


def hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's RFC 9106 profile, or the app's ARGON2_PARAMETERS when set.

    ARGON2_PARAMETERS is a dict of PasswordHasher arguments (time_cost, memory_cost, parallelism);
    when it changes, existing hashes are upgraded at their owner's next login.
    """
    params = current_app.config.get("ARGON2_PARAMETERS") or {}
    return _hasher(tuple(sorted(params.items())))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; False for a wrong password or an unusable hash."""
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


@functools.lru_cache(maxsize=8)
def _dummy_hash(ph: PasswordHasher) -> str:
    return ph.hash("not a real password, only spends the same time")


def spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash so that an unknown e-mail answers as slowly as a known one."""
    verify_password(_dummy_hash(hasher()), password)


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("# "))


def is_common(password: str) -> bool:
    return password.strip().lower() in common_passwords()


def password_problem(password: str, email: str | None = None):
    """Why `password` is refused (a lazy, translatable message), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _l("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("Use at most %(n)d characters.", n=MAX_LENGTH)
    if is_common(password):
        return _l("This password is one of the most common ones; choose one that is harder to guess.")
    if email and password.strip().lower() in {email.lower(), email.lower().partition("@")[0]}:
        return _l("Do not use your e-mail address as your password.")
    return None
