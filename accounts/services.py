"""Accounts: registration, sign-in, profile, e-mail and password changes, reset links, roles.

Plain functions that take and return models or plain values. They flush but never commit: the
request or CLI command commits once at its end, and the mail queued here goes out only then.
Refused input raises AccountError, whose `errors` map form field names to translatable messages.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from accounts import verification
from accounts.models import GRANTABLE_ROLES, Role, RoleAction, RoleChange, User, UserRole
from accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    spend_verification_time,
    verify_password,
)
from amanah import mail
from amanah.db import now_utc
from amanah.extensions import db
from amanah.i18n import current_locale
from amanah.links import absolute_url
from amanah.transactions import after_commit

MAX_EMAIL = 254
MAX_NAME = 120
RESET_MAX_AGE = 3600  # seconds a password-reset link stays valid
RESET_SALT = "amanah.password-reset"

EMAIL_TAKEN = _l("An account with this e-mail address already exists. Sign in, or reset your password "
                 "if you forgot it.")
WRONG_PASSWORD = _l("That is not your current password.")
RESET_EXPIRED = _l("This password reset link has expired: links work for one hour. Ask for a new one.")
RESET_INVALID = _l("This password reset link is not valid or has already been used. Ask for a new one.")


class AccountError(ValueError):
    """Input refused by a rule; `errors` maps field names to lists of (lazy) messages."""

    def __init__(self, errors: dict[str, list]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def on(cls, field: str, message) -> AccountError:
        return cls({field: [message]})

    def messages(self) -> list[str]:
        return [str(message) for messages in self.errors.values() for message in messages]

    def __str__(self) -> str:
        return " ".join(self.messages())


def _collect(errors: dict[str, list], check: Callable, *args):
    """Run `check`, gathering its AccountError into `errors` so a form shows every problem at once."""
    try:
        return check(*args)
    except AccountError as exc:
        for field, messages in exc.errors.items():
            errors.setdefault(field, []).extend(messages)
        return None


# ---- field rules (the forms run these too, so each rule lives in one place) ----

def normalize_email(text: str | None, field: str = "email") -> str:
    """A syntactically valid address, lower-cased (the schema stores e-mails in lower case)."""
    text = (text or "").strip()
    if not text:
        raise AccountError.on(field, _l("Enter your e-mail address."))
    if len(text) > MAX_EMAIL:
        raise AccountError.on(field, _l("An e-mail address has at most %(n)d characters.", n=MAX_EMAIL))
    try:
        # Special-use domains (.test, .localhost) are for development and tests only.
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False,
                               test_environment=current_app.config["AMANAH_ENV"] != "production")
    except EmailNotValidError:
        raise AccountError.on(field, _l("Enter a valid e-mail address, like nama@contoh.id.")) from None
    return (valid.ascii_email or valid.normalized).lower()


def clean_display_name(text: str | None) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise AccountError.on("display_name", _l("Enter your name."))
    if len(name) > MAX_NAME:
        raise AccountError.on("display_name", _l("Use at most %(n)d characters.", n=MAX_NAME))
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise AccountError.on("display_name", _l("Your name contains characters that cannot be shown."))
    return name


def check_new_password(password: str | None, email: str | None = None, field: str = "password") -> str:
    password = password or ""
    problem = password_problem(password, email)
    if problem:
        raise AccountError.on(field, problem)
    return password


def normalize_nik(text: str | None) -> str | None:
    """NIK (the KTP number): exactly 16 digits; spaces are ignored. Empty means none."""
    raw = re.sub(r"\s+", "", text or "")
    if not raw:
        return None
    if not re.fullmatch(r"\d{16}", raw):
        raise AccountError.on("nik", _l("A NIK is exactly 16 digits, as printed on your KTP."))
    return raw


def normalize_npwp(text: str | None) -> str | None:
    """NPWP: 15 digits (old format, often written 99.999.999.9-999.999) or 16 digits (new format).

    Dots, dashes and spaces are accepted as separators and dropped; only the digits are stored.
    """
    raw = (text or "").strip()
    if not raw:
        return None
    digits = re.sub(r"[\s.\-]", "", raw)
    if not re.fullmatch(r"\d{15}|\d{16}", digits):
        raise AccountError.on("npwp", _l("An NPWP has 15 digits (like 01.234.567.8-901.234) or 16 digits."))
    return digits


def format_npwp(digits: str | None) -> str:
    """The old 15-digit NPWP in its familiar 99.999.999.9-999.999 form; the new one as it is."""
    if digits and len(digits) == 15:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{digits[9:12]}.{digits[12:]}"
    return digits or ""


def check_language(code: str | None) -> str | None:
    if not code:
        return None
    if code not in current_app.config["LANGUAGES"]:
        raise AccountError.on("preferred_language", _l("Choose a language from the list."))
    return code


# ---- lookups ----

def find_user(email: str | None) -> User | None:
    address = (email or "").strip().lower()
    if not address or len(address) > MAX_EMAIL:
        return None
    return db.session.scalar(sa.select(User).where(User.email == address))


def _email_taken(address: str, except_user: User | None = None) -> bool:
    query = sa.select(User.id).where(User.email == address)
    if except_user is not None:
        query = query.where(User.id != except_user.id)
    return db.session.scalar(query) is not None


def _flush_unique_email() -> None:
    """Flush; a concurrent request that took the same address shows as the usual message."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise AccountError.on("email", EMAIL_TAKEN) from None


# ---- registration and sign-in ----

def register_user(email: str, display_name: str, password: str,
                  preferred_language: str | None = None, *, verify_by_mail: bool = True) -> User:
    """A new, unverified account; the link that verifies its address is mailed after the commit."""
    errors: dict[str, list] = {}
    address = _collect(errors, normalize_email, email)
    name = _collect(errors, clean_display_name, display_name)
    _collect(errors, check_new_password, password, address)
    language = _collect(errors, check_language, preferred_language)
    if address and "email" not in errors and _email_taken(address):
        errors["email"] = [EMAIL_TAKEN]
    if errors:
        raise AccountError(errors)
    user = User(email=address, display_name=name, password_hash=hash_password(password),
                preferred_language=language)
    db.session.add(user)
    _flush_unique_email()
    if verify_by_mail:
        verification.send_verification(user)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None, taking the same time either way."""
    user = find_user(email)
    if user is None:
        spend_verification_time(password or "")
        return None
    if not verify_password(user.password_hash, password or "") or not user.active:
        return None
    if needs_rehash(user.password_hash):
        # The hashing parameters changed since this hash was made: upgrade it while we know the password.
        user.password_hash = hash_password(password)
    user.last_login_at = now_utc()
    return user


# ---- profile, e-mail and password ----

def update_profile(user: User, display_name: str, preferred_language: str | None,
                   npwp: str | None, nik: str | None) -> User:
    errors: dict[str, list] = {}
    name = _collect(errors, clean_display_name, display_name)
    language = _collect(errors, check_language, preferred_language)
    npwp_digits = _collect(errors, normalize_npwp, npwp)
    nik_digits = _collect(errors, normalize_nik, nik)
    if errors:
        raise AccountError(errors)
    user.display_name = name
    user.preferred_language = language
    user.npwp = npwp_digits
    user.nik = nik_digits
    return user


def change_email(user: User, password: str, new_email: str) -> User:
    """Change the sign-in address after the current password is confirmed; tell the old address.

    The new address is unverified until the link mailed to it is opened."""
    errors: dict[str, list] = {}
    address = _collect(errors, normalize_email, new_email)
    if not verify_password(user.password_hash, password or ""):
        errors["password"] = [WRONG_PASSWORD]
    if address and "email" not in errors:
        if address == user.email:
            errors["email"] = [_l("That is already your e-mail address.")]
        elif _email_taken(address, except_user=user):
            errors["email"] = [EMAIL_TAKEN]
    if errors:
        raise AccountError(errors)
    old_address = user.email
    user.email = address
    _flush_unique_email()
    after_commit(mail.send, mail.render_message(
        old_address, _l("Your Amanah e-mail address was changed"), "email_changed",
        locale=_user_locale(user), user=user, old_email=old_address, new_email=address))
    verification.address_changed(user)
    return user


def change_password(user: User, current_password: str, new_password: str) -> User:
    """Set a new password; every other session and remember-me cookie of the user ends."""
    errors: dict[str, list] = {}
    if not verify_password(user.password_hash, current_password or ""):
        errors["current_password"] = [WRONG_PASSWORD]
    _collect(errors, check_new_password, new_password, user.email)
    if errors:
        raise AccountError(errors)
    _set_password(user, new_password)
    return user


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_version += 1  # part of every session's identity: the old ones no longer load
    after_commit(mail.send, mail.render_message(
        user.email, _l("Your Amanah password was changed"), "password_changed",
        locale=_user_locale(user), user=user))


def _user_locale(user: User) -> str:
    return user.preferred_language or current_locale()


# ---- password reset by e-mailed link ----

def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _reset_fingerprint(user: User) -> str:
    # The link dies once the password (or the address it was sent to) changes: it works once.
    # Only a digest goes into the readable token, never the hash itself.
    material = f"{user.password_hash}\x00{user.email}\x00{user.session_version}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"u": user.id, "f": _reset_fingerprint(user)})


def user_for_reset_token(token: str) -> User:
    """The user a reset link was made for, while it is unexpired and unused; else AccountError."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise AccountError.on("token", RESET_EXPIRED) from None
    except BadData:
        raise AccountError.on("token", RESET_INVALID) from None
    user_id = data.get("u") if isinstance(data, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or not hmac.compare_digest(
            str(data.get("f", "")), _reset_fingerprint(user)):
        raise AccountError.on("token", RESET_INVALID)
    return user


def request_password_reset(email: str) -> None:
    """E-mail a reset link when an active account uses `email`; say nothing either way.

    With a mail server, all of it (looking the address up, the token, the message, SMTP) runs in a
    thread of its own for every address, so the answer takes as long whether or not the address
    has an account. Without one (development, tests) the message goes to the outbox at once.
    """
    base_url, locale = absolute_url("main.home"), current_locale()
    if current_app.config.get("MAIL_SERVER"):
        mail.run_in_background(_mail_reset_link, email, locale, base_url=base_url)
    else:
        _mail_reset_link(email, locale)


def _mail_reset_link(email: str, locale: str) -> None:
    user = find_user(email)
    if user is None or not user.active:
        return
    link = absolute_url("accounts.reset_password", token=make_reset_token(user))
    mail.deliver(mail.render_message(user.email, _l("Choose a new Amanah password"), "password_reset",
                                     locale=user.preferred_language or locale, user=user, link=link))


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    check_new_password(new_password, user.email)
    _set_password(user, new_password)
    return user


# ---- roles ----

def _grantable(role: Role | str) -> Role:
    try:
        role = Role(role)
    except ValueError:
        raise AccountError.on("roles", _l("Unknown role %(role)s.", role=str(role))) from None
    if role not in GRANTABLE_ROLES:
        raise AccountError.on("roles", _l("Everyone is a donor; that role cannot be granted or revoked."))
    return role


def count_admins(lock: bool = False) -> int:
    """Active admins. With `lock`, their role rows stay locked until the commit (on PostgreSQL), so
    two admins removing each other at the same moment cannot leave nobody in charge."""
    query = (sa.select(UserRole.user_id).join(User, User.id == UserRole.user_id)
             .where(UserRole.role == Role.ADMIN.value, User.active.is_(True)))
    if lock:
        query = query.with_for_update(of=UserRole)
    return len(db.session.scalars(query).all())


def _record_change(user: User, role: Role, action: RoleAction, changed_by: User | None,
                   at: dt.datetime) -> None:
    """Append the change to the role history, in the transaction that makes the change."""
    db.session.add(RoleChange(user=user, role=role.value, action=action.value, changed_by=changed_by,
                              changed_at=at))


def _lock_roles(user: User) -> None:
    """Lock the user's row until the commit and read their roles afresh: two admins changing the
    same person's roles at once then take turns, and the second sees what the first did (instead of
    recording a second revocation, or failing on a role granted twice). SQLite's transactions hold
    its write lock already; there this only re-reads."""
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    db.session.expire(user, ["roles"])


def grant_role(user: User, role: Role | str, granted_by: User | None = None) -> bool:
    """Give `user` the role (recording who granted it); False when they already hold it."""
    role = _grantable(role)
    _lock_roles(user)
    if role in user.role_names:
        return False
    at = now_utc()
    user.roles.append(UserRole(role=role.value, granted_at=at,
                               granted_by_id=granted_by.id if granted_by else None))
    _record_change(user, role, RoleAction.GRANTED, granted_by, at)
    current_app.logger.info("role %s granted to %s by %s", role, user.email,
                            granted_by.email if granted_by else "the command line")
    return True


def _check_revocable(user: User, role: Role, revoked_by: User | None) -> None:
    if role != Role.ADMIN:
        return
    if revoked_by is not None and revoked_by.id == user.id:
        raise AccountError.on("roles", _l("You cannot remove your own admin role; ask another admin."))
    if user.active and count_admins(lock=True) <= 1:
        raise AccountError.on("roles", _l("This is the last admin. Make someone else an admin first."))


def revoke_role(user: User, role: Role | str, revoked_by: User | None = None) -> bool:
    """Take the role away; False when the user does not hold it. Never removes the last admin."""
    role = _grantable(role)
    _lock_roles(user)
    held = next((r for r in user.roles if r.role == role.value), None)
    if held is None:
        return False
    _check_revocable(user, role, revoked_by)
    user.roles.remove(held)
    _record_change(user, role, RoleAction.REVOKED, revoked_by, now_utc())
    current_app.logger.info("role %s revoked from %s by %s", role, user.email,
                            revoked_by.email if revoked_by else "the command line")
    return True


def set_roles(user: User, roles: Iterable[Role | str], changed_by: User) -> tuple[set[Role], set[Role]]:
    """Make the user's granted roles exactly `roles`; returns (granted, revoked). All or nothing."""
    wanted = {_grantable(role) for role in roles}
    _lock_roles(user)
    held = user.role_names - {Role.DONOR}
    for role in held - wanted:
        _check_revocable(user, role, changed_by)
    for role in held - wanted:
        revoke_role(user, role, revoked_by=changed_by)
    for role in wanted - held:
        grant_role(user, role, granted_by=changed_by)
    return wanted - held, held - wanted


def create_admin(email: str, display_name: str, password: str) -> User:
    user = register_user(email, display_name, password)
    grant_role(user, Role.ADMIN)
    return user


def search_users(query: str | None = None, role: Role | str | None = None, page: int = 1,
                 per_page: int = 25):
    """Users whose e-mail or name contains `query` (any case), newest first, one page at a time."""
    statement = sa.select(User).order_by(User.created_at.desc(), User.id.desc())
    text = (query or "").strip().lower()
    if text:
        statement = statement.where(sa.or_(User.email.contains(text, autoescape=True),
                                           sa.func.lower(User.display_name).contains(text, autoescape=True)))
    if role and Role(role) != Role.DONOR:
        statement = statement.where(User.roles.any(UserRole.role == Role(role).value))
    return db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False)


def granters(user: User) -> dict[int, User]:
    """The users who granted `user` their roles, by id (for showing "granted by")."""
    ids = {r.granted_by_id for r in user.roles if r.granted_by_id}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def role_history(user: User) -> list[RoleChange]:
    """Every grant and revocation of the user's roles, newest first."""
    return list(db.session.scalars(
        sa.select(RoleChange).where(RoleChange.user_id == user.id)
        .order_by(RoleChange.changed_at.desc(), RoleChange.id.desc())))


def role_changes(page: int = 1, per_page: int = 25):
    """Every role change of every user, newest first, one page at a time."""
    statement = sa.select(RoleChange).order_by(RoleChange.changed_at.desc(), RoleChange.id.desc())
    return db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False)
