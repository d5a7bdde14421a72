"""What packages above campaigns add to a campaign's API record and Atom feed, without campaigns
importing them (as campaigns.panels does for the page): progress reports, for one."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import current_app

_API = "campaign_api_details"
_FEED = "campaign_feed_items"


@dataclasses.dataclass(frozen=True)
class FeedItem:
    key: str  # unique within the campaign's feed, e.g. "report-3": the entry's id ends with it
    title: str
    at: dt.datetime
    url: str  # absolute
    html: str  # sanitized HTML


def register_api_detail(app, key: str, build: Callable[[Any], Any]) -> None:
    """`build(campaign)` fills `key` in the single campaign's API record."""
    app.extensions.setdefault(_API, []).append((key, build))


def api_details(campaign) -> dict:
    return {key: build(campaign) for key, build in current_app.extensions.get(_API, [])}


def register_feed_items(app, items: Callable[[Any], list[FeedItem]]) -> None:
    app.extensions.setdefault(_FEED, []).append(items)


def feed_items(campaign) -> list[FeedItem]:
    return [item for items in current_app.extensions.get(_FEED, []) for item in items(campaign)]
