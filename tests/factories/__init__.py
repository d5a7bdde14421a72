"""Small builders for test data, and signing a test client in without the login form."""
from __future__ import annotations

import itertools

from accounts.models import Role, User, UserRole
from amanah.extensions import db

_counter = itertools.count(1)
# A placeholder that no password verifies against: tests that log in through the form set a real hash.
UNUSABLE_PASSWORD_HASH = "!unusable"


def make_user(email: str | None = None, *roles: Role | str, name: str | None = None,
              password_hash: str = UNUSABLE_PASSWORD_HASH, **fields) -> User:
    """Create and commit a user (call inside an app context)."""
    n = next(_counter)
    user = User(email=(email or f"user{n}@example.test").lower(), display_name=name or f"User {n}",
                password_hash=password_hash, **fields)
    user.roles = [UserRole(role=str(Role(role))) for role in roles if Role(role) != Role.DONOR]
    db.session.add(user)
    db.session.commit()
    return user


def login(client, user: User) -> None:
    """Sign `client` in as `user`, as Flask-Login's session would after a real login."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
