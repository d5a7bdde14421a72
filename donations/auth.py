"""Flask-Login wiring: how a session cookie becomes a User."""
from __future__ import annotations

from amanah.extensions import db, login_manager
from donations.models import User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def init_app(app) -> None:
    """The loader registers on import; nothing else to bind yet."""
