"""Locale choice and the template helpers that depend on it."""
from __future__ import annotations

from flask import current_app, request, session
from flask_babel import get_locale
from flask_login import current_user

from amanah import money

LOCALE_COOKIE = "lang"


def select_locale() -> str:
    """Explicit choices first, then the browser.

    The language switched to in this session wins; then a signed-in user's profile language (it
    follows them to every device); then the cookie a device remembers from earlier visits.
    """
    languages = current_app.config["LANGUAGES"]
    if not request:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user_choice = getattr(current_user, "preferred_language", None) if current_user else None
    for choice in (session.get(LOCALE_COOKIE), user_choice, request.cookies.get(LOCALE_COOKIE)):
        if choice in languages:
            return choice
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def format_money(minor: int, currency: str) -> str:
    return money.format_money(minor, currency, current_locale())


def parse_money(text: str, currency: str) -> int:
    return money.parse_money(text, currency, current_locale())


def init_app(app) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.globals["current_locale"] = current_locale
