"""Per-province figures for the map: money raised and disbursed, active campaigns, donations.

`province_figures` is the one place the map asks; it reads the ledger's running totals per
campaign (ledger_campaign_totals, kept in the same transaction as each append) joined with the
public campaigns, in one grouped query: never a sum over the ledger's entries. Aggregates kept per
province elsewhere can replace its body without the map changing.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from amanah.extensions import db
from campaigns import regions
from campaigns.lifecycle import Status
from campaigns.models import Campaign
from campaigns.services import today_wib
from ledger.models import CampaignTotal
from opendata.services import province_totals

# The currency the map colours by; amounts in other currencies are listed beside it, not converted.
MAP_CURRENCY = "IDR"

MEASURES = {
    "raised": _l("Money raised"),
    "disbursed": _l("Money disbursed"),
    "active": _l("Active campaigns"),
    "donations": _l("Donations"),
    "donors": _l("Donors"),
}
MONEY_MEASURES = ("raised", "disbursed")
SORTS = ("province", *MEASURES)
CLASSES = 5  # shades of the map, besides "nothing yet"


@dataclasses.dataclass
class ProvinceFigures:
    code: str
    raised: dict[str, int] = dataclasses.field(default_factory=dict)  # currency -> minor units
    disbursed: dict[str, int] = dataclasses.field(default_factory=dict)
    active: int = 0  # published campaigns still before their deadline
    donations: int = 0  # donations received (each gift once, refunded or not)
    donors: int = 0  # distinct donors (opendata's aggregates: an account or an e-mail address once)
    campaigns: int = 0  # public campaigns, open or closed

    @property
    def name(self) -> str:
        return regions.name(self.code)

    def value(self, measure: str) -> int:
        """The number the map colours and the table sorts by."""
        if measure in MONEY_MEASURES:
            return getattr(self, measure).get(MAP_CURRENCY, 0)
        return getattr(self, measure)


def province_figures(category: str | None = None) -> dict[str, ProvinceFigures]:
    """Figures of every one of the 38 provinces (zeros where nothing is public yet), for the public
    campaigns of `category` (all when None)."""
    t = CampaignTotal
    net = sa.func.coalesce(t.raised - t.refunded - t.chargebacks, 0)
    open_now = sa.and_(Campaign.status == Status.PUBLISHED.value, Campaign.deadline >= today_wib())
    query = (sa.select(Campaign.region, Campaign.currency, sa.func.count(),
                       sa.func.sum(sa.case((open_now, 1), else_=0)),
                       sa.func.sum(net), sa.func.sum(sa.func.coalesce(t.disbursed, 0)),
                       sa.func.sum(sa.func.coalesce(t.donation_count, 0)))
             .select_from(sa.outerjoin(Campaign, t, t.campaign == Campaign.public_id))
             .where(Campaign.status.in_((Status.PUBLISHED.value, Status.CLOSED.value)))
             .group_by(Campaign.region, Campaign.currency))
    if category is not None:
        query = query.where(Campaign.category == category)
    figures = {code: ProvinceFigures(code) for code in regions.CODES}
    # Distinct donors cannot be summed from campaigns' totals (one donor gives to several): the open
    # data's all-time rows per province count each once, kept in each append's transaction.
    for code, totals in province_totals(category, MAP_CURRENCY).items():
        figures[code].donors = totals.donors
    for region, currency, count, active, raised, disbursed, donations in db.session.execute(query):
        f = figures[region]
        f.campaigns += count
        f.active += int(active or 0)
        f.donations += int(donations or 0)
        if raised:
            f.raised[currency] = int(raised)
        if disbursed:
            f.disbursed[currency] = int(disbursed)
    return figures


@dataclasses.dataclass(frozen=True)
class Shade:
    level: int  # 0: nothing yet; 1..CLASSES: lightest to darkest
    low: int
    high: int


def shades(values: Iterable[int]) -> list[Shade]:
    """Up to CLASSES ranges splitting the non-zero values into groups of about equal size
    (quantiles): with money spread as unevenly as it is, equal steps would paint one province
    dark and the rest alike."""
    ordered = sorted(v for v in values if v > 0)
    if not ordered:
        return []
    found: list[Shade] = []
    n = len(ordered)
    for level in range(1, CLASSES + 1):
        group = ordered[(level - 1) * n // CLASSES: level * n // CLASSES]
        if not group:
            continue
        low, high = group[0], group[-1]
        if found and low <= found[-1].high:
            if high <= found[-1].high:
                continue
            low = found[-1].high + 1
        found.append(Shade(len(found) + 1, low, high))
    # Fewer groups than shades (few provinces with money yet): spread them so the most is darkest.
    return [dataclasses.replace(s, level=math.ceil(s.level * CLASSES / len(found))) for s in found]


def level_of(value: int, ranges: list[Shade]) -> int:
    if value <= 0:
        return 0
    return next((s.level for s in ranges if value <= s.high), ranges[-1].level if ranges else 0)
