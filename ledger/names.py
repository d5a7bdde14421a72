"""Campaign names for the ledger's pages, from the package that owns campaigns.

The ledger knows a campaign only by its public id; its name and page belong to campaigns, which
sits above the ledger. Campaigns hands its lookup over at init_app time (as documents hands its
receipts to donations), so the ledger imports nothing of it and its core stays pure. Without a
lookup (the ledger on its own) the pages show ids, as before.

Names are kept per process, with a version (the campaigns' last change) that the pages' caches and
ETags include. The version is read again at most every VERSION_SECONDS, so a cached ledger page
costs no extra query and a renamed campaign shows under its new name within seconds. Queries run
on the ledger's own reader (ledger.queries), in the connection the page uses anyway.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import current_app

_LOOKUP = "ledger.campaign_names"
_CACHE = "ledger.campaign_names_cache"
VERSION_SECONDS = 5.0
MAX_NAMES = 4096
_lock = threading.Lock()

# execute(statement) -> rows, on the reader the ledger's queries use.
Execute = Callable[[object], Iterable]


@dataclass(frozen=True)
class CampaignName:
    title: str
    url: str  # the campaign's own page


@dataclass
class _Cache:
    version: str = ""
    read_at: float = float("-inf")
    names: OrderedDict = None  # public id -> CampaignName | None, for `version`

    def __post_init__(self):
        self.names = OrderedDict()


def register_campaign_names(app, lookup: Callable[[set[str], Execute], dict[str, CampaignName]],
                            version: Callable[[Execute], str]) -> None:
    """`lookup(public ids, execute)` -> {public id: CampaignName}, in one query; `version(execute)`
    changes whenever a name may have changed."""
    app.extensions[_LOOKUP] = (lookup, version)


def _cache() -> _Cache:
    return current_app.extensions.setdefault(_CACHE, _Cache())


def names_version(execute: Execute) -> str:
    registered = current_app.extensions.get(_LOOKUP)
    if registered is None:
        return ""
    cache = _cache()
    if time.monotonic() - cache.read_at >= VERSION_SECONDS:
        version = str(registered[1](execute))
        with _lock:
            if version != cache.version:
                cache.names.clear()
                cache.version = version
            cache.read_at = time.monotonic()
    return cache.version


def campaign_names(ids: Iterable[str | None], execute: Execute) -> dict[str, CampaignName]:
    registered = current_app.extensions.get(_LOOKUP)
    wanted = {i for i in ids if i}
    if registered is None or not wanted:
        return {}
    cache = _cache()
    with _lock:
        known = {i: cache.names[i] for i in wanted if i in cache.names}
    missing = wanted - set(known)
    if missing:
        found = registered[0](missing, execute)
        with _lock:
            for public_id in missing:
                known[public_id] = cache.names[public_id] = found.get(public_id)
            while len(cache.names) > MAX_NAMES:
                cache.names.popitem(last=False)
    return {i: name for i, name in known.items() if name is not None}
