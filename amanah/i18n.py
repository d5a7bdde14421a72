"""Locale choice and the template helpers that depend on it."""
from __future__ import annotations

from flask import current_app, g, request, session
from flask_babel import get_locale, get_translations
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


def translations():
    """The translations templates use, looked up once per locale within a request.

    Flask-Babel resolves the domain, the locale and its cache key again on every gettext call;
    with dozens of strings per page that was a large share of rendering it. The cache sits beside
    Flask-Babel's own per-request state and is keyed by the locale object, so `force_locale`
    (mail in the recipient's language) still switches languages.
    """
    state = g.get("_flask_babel") if g else None
    if state is None:
        return get_translations()
    cached = getattr(state, "amanah_translations", None)
    locale = getattr(state, "babel_locale", None)
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    found = get_translations()
    state.amanah_translations = (getattr(state, "babel_locale", None), found)
    return found


def init_app(app) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.globals["current_locale"] = current_locale
