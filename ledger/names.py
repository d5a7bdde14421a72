"""Campaign names for the ledger's pages, from the package that owns campaigns.

The ledger knows a campaign only by its public id; its name and page belong to campaigns, which
sits above the ledger. Campaigns hands its lookup over at init_app time (as documents hands its
receipts to donations), so the ledger imports nothing of it and its core stays pure. Without a
lookup (the ledger on its own) the pages show ids, as before.

A name can change while the ledger does not, so the pages' caches and ETags include
`names_version()`: one aggregate read of the campaigns' last change.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import current_app

_LOOKUP = "ledger.campaign_names"


@dataclass(frozen=True)
class CampaignName:
    title: str
    url: str  # the campaign's own page


def register_campaign_names(app, lookup: Callable[[set[str]], dict[str, CampaignName]],
                            version: Callable[[], object]) -> None:
    """`lookup(public ids)` -> {public id: CampaignName}, in one query; `version()` changes
    whenever a name may have changed."""
    app.extensions[_LOOKUP] = (lookup, version)


def campaign_names(ids: Iterable[str | None]) -> dict[str, CampaignName]:
    registered = current_app.extensions.get(_LOOKUP)
    wanted = {i for i in ids if i}
    if registered is None or not wanted:
        return {}
    return registered[0](wanted)


def campaign_name(public_id: str | None) -> CampaignName | None:
    return campaign_names([public_id]).get(public_id) if public_id else None


def names_version() -> str:
    registered = current_app.extensions.get(_LOOKUP)
    return str(registered[1]()) if registered is not None else ""
