"""Campaign pages rendered once per few seconds for anonymous visitors, not once per request.

The list and a campaign's page are the platform's most visited and its dearest to render (a dozen
queries, the panels, the chart). An anonymous visitor's page holds nothing of their own (the
frame's rule, amanah.frame: no session, no token, no flashed message), so the rendered HTML is
kept, keyed by the full address, the language, the provider the page advertises and a version
the caller gives (the campaign's ledger position and last edit, so money and edits show at once),
for CAMPAIGN_PAGE_CACHE_SECONDS; anything else (a new update, a verification) shows within that
time. 0 turns it off.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from flask import current_app, request

from amanah.frame import can_share
from amanah.i18n import current_locale

_KEY = "campaigns.page_cache"
MAX_PAGES = 512
_lock = threading.Lock()


def cached(version: tuple, render: Callable[[], str], seconds: float | None = None) -> str:
    """`render()`, or what it gave for the same page and version within CAMPAIGN_PAGE_CACHE_SECONDS
    (or `seconds`, for a page whose version says everything it shows; 0 in the configuration
    still turns the cache off)."""
    configured = current_app.config.get("CAMPAIGN_PAGE_CACHE_SECONDS", 0)
    seconds = configured if seconds is None or configured <= 0 else seconds
    if seconds <= 0 or not can_share():
        return render()
    key = (request.full_path, request.script_root, current_locale(), version)
    pages: OrderedDict = current_app.extensions.setdefault(_KEY, OrderedDict())
    now = time.monotonic()
    found = pages.get(key)
    if found is not None and found[0] > now:
        return found[1]
    html = render()
    with _lock:
        pages[key] = (now + seconds, html)
        pages.move_to_end(key)
        while len(pages) > MAX_PAGES:
            pages.popitem(last=False)
    return html
