"""Flask-Login wiring: who is signed in. What they may do is in accounts/permissions.py."""
from __future__ import annotations

from accounts.models import User
from amanah.extensions import db, login_manager


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
