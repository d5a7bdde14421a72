"""Locale choice and the template helpers that depend on it."""
from __future__ import annotations

import datetime as dt

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from flask import current_app, g, request, session
from flask_babel import get_locale, get_translations
from flask_login import current_user

from amanah import money

LOCALE_COOKIE = "lang"

# Donors see times in Indonesian western time (WIB, UTC+7, no daylight saving), the zone of
# Jakarta and of campaign deadlines; the ledger's own pages show UTC and say so.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
# One format per language. Indonesian writes the time with a period (09.07), English with a colon.
_DATETIME_PATTERNS = {"id": "d MMMM y, HH.mm", "en": "d MMMM y, HH:mm"}
_DATE_PATTERN = "d MMMM y"


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


def _locale_or_current(locale: str | None) -> str:
    return locale or (current_locale() if request else current_app.config["BABEL_DEFAULT_LOCALE"])


def in_wib(at: dt.datetime) -> dt.datetime:
    """An aware instant on the WIB clock (a naive one is taken as UTC, as the database stores)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(WIB)


def wib_date(at: dt.datetime | dt.date) -> dt.date:
    """The WIB calendar day of an instant: 20:00 UTC is already the next day in Jakarta."""
    return in_wib(at).date() if isinstance(at, dt.datetime) else at


def format_wib(at: dt.datetime | None, locale: str | None = None) -> str:
    """'4 Desember 2026, 09.07 WIB' / '4 December 2026, 09:07 WIB': every time a donor reads."""
    if at is None:
        return ""
    locale = _locale_or_current(locale)
    pattern = _DATETIME_PATTERNS.get(locale[:2], _DATETIME_PATTERNS["en"])
    return babel_format_datetime(in_wib(at), pattern, locale=locale) + " WIB"


def format_wib_date(at: dt.datetime | dt.date | None, locale: str | None = None) -> str:
    """'4 Desember 2026' / '4 December 2026': the WIB day of an instant, or a calendar date as it is."""
    if at is None:
        return ""
    return babel_format_date(wib_date(at), _DATE_PATTERN, locale=_locale_or_current(locale))


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
    app.jinja_env.filters["wib"] = format_wib
    app.jinja_env.filters["wib_date"] = format_wib_date
    app.jinja_env.globals["current_locale"] = current_locale
