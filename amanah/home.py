"""The home page's sections, each drawn by the package that owns its data.

amanah/ imports no domain package, so campaigns (featured and urgent campaigns, the categories),
the ledger (the platform's totals) and treasury (where the money went) each register a section at
init_app time, as they register panels on a campaign's page (campaigns/panels.py). A section is a
template and a function that returns its variables (None: nothing to show, the section is left
out).

The sections show the same thing to every visitor in a language, so they are rendered together
once per locale and kept for CACHE_SECONDS: the home page runs its few queries at most that often,
however many visitors arrive. A gift or a disbursement shows there within that time (its own
campaign page shows it at once).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, render_template, request
from markupsafe import Markup

from amanah.i18n import current_locale

CACHE_SECONDS = 30.0
_SECTIONS = "amanah.home_sections"
_CACHE = "amanah.home_cache"
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class HomeSection:
    name: str
    template: str
    context: Callable[[], Mapping[str, Any] | None]
    order: int


def register_home_section(app, name: str, template: str, *,
                          context: Callable[[], Mapping[str, Any] | None], order: int) -> None:
    """Add a section to `app`'s home page; sections are drawn by `order`, lowest first."""
    sections = app.extensions.setdefault(_SECTIONS, [])
    if any(s.name == name for s in sections):
        raise ValueError(f"a home section named {name!r} is already registered")
    sections.append(HomeSection(name, template, context, order))
    sections.sort(key=lambda s: s.order)


def sections(app=None) -> list[HomeSection]:
    return list((app or current_app).extensions.get(_SECTIONS, []))


def _render() -> Markup:
    parts = []
    for section in sections():
        context = section.context()
        if context is not None:
            parts.append(render_template(section.template, **context))
    # Safe: templates' output, escaped by Jinja's autoescape as it was rendered.
    return Markup("\n".join(parts))  # noqa: S704


def render_sections(clock: Callable[[], float] = time.monotonic) -> Markup:
    """Every section, rendered for this request's locale; from the cache when it is fresh."""
    cache = current_app.extensions.setdefault(_CACHE, {})
    key = (current_locale(), request.script_root)
    now = clock()
    cached = cache.get(key)
    if cached is not None and now < cached[0]:
        return cached[1]
    html = _render()
    with _lock:
        cache[key] = (now + CACHE_SECONDS, html)
    return html


def init_app(app) -> None:
    # templates/main/home.html draws them: `{{ home_sections() }}`.
    app.jinja_env.globals["home_sections"] = render_sections


def clear_cache(app=None) -> None:
    """Forget the rendered sections (tests; or after loading data that should show at once)."""
    (app or current_app).extensions.pop(_CACHE, None)
