"""The main navigation: packages add their entries when they are wired in."""
from __future__ import annotations

from flask import current_app

_KEY = "amanah.nav"


def register_nav(app, endpoint: str, label, order: int) -> None:
    """Add a link; `label` should be a lazy_gettext string so it follows the request's locale."""
    entries = app.extensions.setdefault(_KEY, [])
    if all(existing != endpoint for _, existing, _ in entries):
        entries.append((order, endpoint, label))
        entries.sort(key=lambda entry: entry[0])


def nav_links() -> list[tuple[str, str]]:
    return [(endpoint, str(label)) for _, endpoint, label in current_app.extensions.get(_KEY, [])]


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def init_app(app) -> None:
    app.jinja_env.globals["nav_links"] = nav_links
    app.jinja_env.globals["has_endpoint"] = has_endpoint
