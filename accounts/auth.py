"""Flask-Login wiring and the permission helpers every package uses."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from accounts.models import Role, User
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


def user_has_role(*roles: Role | str) -> bool:
    return bool(current_user.is_authenticated and current_user.has_role(*roles))


def roles_required(*roles: Role | str, hide: bool = False):
    """Allow the view only to signed-in users holding one of `roles`.

    Anonymous visitors are sent to the login page; others get 403, or 404 with hide=True where
    the page's existence itself is private.
    """
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(404 if hide else 403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def init_app(app) -> None:
    app.jinja_env.globals["user_has_role"] = user_has_role
