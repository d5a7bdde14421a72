"""Campaign pages rendered once for anonymous visitors, not once per request.

The list and a campaign's page are the platform's most visited and its dearest to render (a dozen
queries, the panels, the chart). An anonymous visitor's page holds nothing of their own (the
frame's rule, amanah.frame: no session, no token, no flashed message), so the rendered HTML is
kept, keyed by the host and full address, the language and the site's version, for
CAMPAIGN_PAGE_CACHE_SECONDS (300 by default); 0 turns it off.

The site's version (site_version) is everything such a page shows that can change: the ledger's
size, the campaigns', their updates' and the organizations' last changes, and the day in WIB. It
is read in one query at most every VERSION_SECONDS per process. A page served from the cache
therefore costs no query at all (the view does not run: no campaign row, no lazy closing), and
any gift, refund, disbursement, report, edit, update, verification or new day shows on every
anonymous page within VERSION_SECONDS. The pages' lifetime only bounds what the version cannot
see, and how often a page is rendered again: each render holds one worker for the page's
queries, and the requests that queue behind it are what a benchmark's p99 shows.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import current_app, request

from amanah.extensions import db
from amanah.frame import can_share
from amanah.i18n import current_locale
from campaigns.models import Campaign, CampaignUpdate
from campaigns.services import today_wib
from ledger.models import LedgerEntry
from organizations.models import Organization

_KEY = "campaigns.page_cache"
_VERSION = "campaigns.page_cache_version"
MAX_PAGES = 512
VERSION_SECONDS = 1.0
_lock = threading.Lock()


def site_version() -> tuple:
    """What a kept page depends on, from this process's copy when it is fresh: the ledger's size
    (money, reports), the campaigns' last change (edits, publication, closing, treasurers), the
    last update posted, the organizations' last change (a verification badge) and the day in WIB
    (days left; expired campaigns are closed when their page is rendered again)."""
    state = current_app.extensions.setdefault(_VERSION, [float("-inf"), None])
    now = time.monotonic()
    if now - state[0] >= VERSION_SECONDS:
        row = db.session.execute(sa.select(
            sa.select(sa.func.max(LedgerEntry.seq)).scalar_subquery(),
            sa.select(sa.func.max(Campaign.updated_at)).scalar_subquery(),
            sa.select(sa.func.max(CampaignUpdate.id)).scalar_subquery(),
            sa.select(sa.func.max(Organization.updated_at)).scalar_subquery())).one()
        state[:] = [now, (*row, today_wib())]
    return state[1]


def _kept(key: tuple) -> str | None:
    found = current_app.extensions.setdefault(_KEY, OrderedDict()).get(key)
    return found[1] if found is not None and found[0] > time.monotonic() else None


def _keep(key: tuple, html: str, seconds: float) -> None:
    pages: OrderedDict = current_app.extensions.setdefault(_KEY, OrderedDict())
    with _lock:
        pages[key] = (time.monotonic() + seconds, html)
        pages.move_to_end(key)
        while len(pages) > MAX_PAGES:
            pages.popitem(last=False)


def _key(version: tuple) -> tuple:
    # The host too: the page's share links and OpenGraph tags are absolute addresses.
    return (request.host, request.full_path, request.script_root, current_locale(), version)


def shared(view: Callable) -> Callable:
    """Serve the view's page from the cache to anonymous visitors; keep what it renders for them.

    Only a page the view returned as HTML text (an answer of 200) is kept: redirects, 404s and
    error answers always come from the view."""
    @wraps(view)
    def serve(*args, **kwargs):
        seconds = current_app.config.get("CAMPAIGN_PAGE_CACHE_SECONDS", 0)
        if seconds <= 0 or not can_share():
            return view(*args, **kwargs)
        key = _key(site_version())
        html = _kept(key)
        if html is not None:
            return html
        html = view(*args, **kwargs)
        if isinstance(html, str) and can_share():
            _keep(key, html, seconds)
        return html

    return serve


def cached(version: tuple, render: Callable[[], str], seconds: float | None = None) -> str:
    """`render()`, or what it gave for the same page and `version` (the caller's own, e.g. the map's)
    within CAMPAIGN_PAGE_CACHE_SECONDS, or `seconds` for a page whose version says everything it
    shows; 0 in the configuration still turns the cache off."""
    configured = current_app.config.get("CAMPAIGN_PAGE_CACHE_SECONDS", 0)
    seconds = configured if seconds is None or configured <= 0 else seconds
    if seconds <= 0 or not can_share():
        return render()
    key = _key(version)
    html = _kept(key)
    if html is None:
        html = render()
        _keep(key, html, seconds)
    return html
