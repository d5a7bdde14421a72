"""Flask-Login wiring: who is signed in. What they may do is in accounts/permissions.py."""
from __future__ import annotations

import re

from accounts.models import User
from amanah.extensions import db, login_manager

# "<user id>:<session version>" in ASCII digits (str.isdigit would take "²"). Only a cookie signed
# with the secret key carries it, but a bad one must still be nobody, never a database error.
SESSION_ID = re.compile(r"([0-9]{1,10}):([0-9]{1,18})")
MAX_USER_ID = 2**31 - 1  # users.id is an `integer`; PostgreSQL refuses to be asked for a larger one


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    match = SESSION_ID.fullmatch(session_id or "")
    if match is None or int(match.group(1)) > MAX_USER_ID:
        return None
    user_id, version = match.groups()
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
