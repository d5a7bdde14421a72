"""Nearest to me: the service points and open campaigns nearest a position, by great-circle
distance, reading the provinces nearest first, a few per query (1, 2, 4, ...), and stopping as
soon as no province left can hold anything nearer than what was found (so a visitor in Jakarta
never causes Papua's points to be read).

Campaigns have a town, not coordinates: a campaign is placed at its town when the bundled town
list knows it in the campaign's province, else at the province's largest town (`approximate`).
"""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.orm import lazyload, selectinload

from amanah.extensions import db
from campaigns import regions
from campaigns.lifecycle import Status
from campaigns.models import Campaign
from campaigns.services import today_wib
from maps import boundaries, geo
from maps.models import ServicePoint

LIMIT = 10


@dataclasses.dataclass(frozen=True)
class Found:
    item: object  # a ServicePoint or a Campaign
    km: float
    approximate: bool = False  # placed at its province's largest town, not at its own


def _province_order(lat: float, lon: float) -> list[tuple[float, str]]:
    return sorted((geo.distance_to_box_km(lat, lon, boundaries.extent(code)), code) for code in regions.CODES)


def _nearest(lat: float, lon: float, limit: int, read) -> tuple[list[Found], int]:
    """`read(codes)` gives the Founds of some provinces (one query); provinces are read nearest
    first in batches of 1, 2, 4, ... until none left can hold anything nearer than the `limit`th
    found. Returns the nearest `limit` and how many provinces were read."""
    order = _province_order(lat, lon)
    found: list[Found] = []
    start, batch = 0, 1
    while start < len(order):
        if len(found) >= limit and found[limit - 1].km <= order[start][0]:
            break
        found.extend(read([code for _bound, code in order[start:start + batch]]))
        found.sort(key=lambda f: f.km)
        start, batch = start + batch, batch * 2
    return found[:limit], min(start, len(order))


def nearest_points(lat: float, lon: float, category: str | None = None,
                   limit: int = LIMIT) -> tuple[list[Found], int]:
    def read(codes: list[str]) -> list[Found]:
        query = (sa.select(ServicePoint).where(ServicePoint.province.in_(codes))
                 .options(selectinload(ServicePoint.campaigns)))
        if category is not None:
            query = query.where(ServicePoint.category == category)
        return [Found(p, geo.distance_km(lat, lon, p.latitude, p.longitude))
                for p in db.session.scalars(query)]
    return _nearest(lat, lon, limit, read)


def campaign_position(campaign: Campaign) -> tuple[float, float, bool]:
    town = geo.town_in(campaign.city, campaign.region)
    approximate = town is None
    town = town or geo.province_reference(campaign.region)
    return town.lat, town.lon, approximate


def nearest_campaigns(lat: float, lon: float, category: str | None = None,
                      limit: int = LIMIT) -> tuple[list[Found], int]:
    def read(codes: list[str]) -> list[Found]:
        query = (sa.select(Campaign).where(Campaign.region.in_(codes),
                                           Campaign.status == Status.PUBLISHED.value,
                                           Campaign.deadline >= today_wib())
                 .options(lazyload(Campaign.organizer)))
        if category is not None:
            query = query.where(Campaign.category == category)
        found = []
        for campaign in db.session.scalars(query):
            c_lat, c_lon, approximate = campaign_position(campaign)
            found.append(Found(campaign, geo.distance_km(lat, lon, c_lat, c_lon), approximate))
        return found
    return _nearest(lat, lon, limit, read)
