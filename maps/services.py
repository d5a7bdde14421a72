"""Service points: what an organization may register, change and remove, and what the map shows.

Views parse and call these; tests call them directly. Functions that change something add to the
session and flush; the caller commits. Permission (Action.MANAGE_SERVICE_POINTS on the
organization) is the view's to check; these only ever touch the organization they are given.
"""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from amanah.db import now_utc
from amanah.errors import UserError, ValidationError
from amanah.extensions import db
from amanah.text import has_control_characters, one_line
from campaigns import categories, regions
from campaigns.lifecycle import Status
from campaigns.models import Campaign
from maps import boundaries, geo
from maps.models import (
    ADDRESS_MAX,
    CITY_MAX,
    CONTACT_MAX,
    HOURS_MAX,
    NAME_MAX,
    ServicePoint,
)
from organizations.models import Organization

# A point may name the organization's campaigns that are being, or were, raised for.
# How far (degrees, ~28 km) outside a province's outline box a point may lie: the outlines are
# simplified and leave off the smallest islands, whose points are still in their province.
PROVINCE_MARGIN = 0.25
FUNDING_STATUSES = (Status.DRAFT.value, Status.SUBMITTED.value, Status.PUBLISHED.value, Status.CLOSED.value)


@dataclasses.dataclass
class ServicePointInput:
    name: str = ""
    category: str = ""
    address: str = ""
    city: str = ""
    province: str = ""
    latitude: str = ""
    longitude: str = ""
    opening_hours: str = ""
    contact: str = ""
    campaign_ids: list[int] = dataclasses.field(default_factory=list)


def funding_choices(org: Organization) -> list[Campaign]:
    """The organization's campaigns a point may name as funding it."""
    return list(db.session.scalars(
        sa.select(Campaign).where(Campaign.organization_id == org.id, Campaign.status.in_(FUNDING_STATUSES))
        .order_by(Campaign.id.desc())))


def _check(org: Organization, data: ServicePointInput) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    clean: dict = {}

    def text(field: str, value: str, high: int, required) -> None:
        value = one_line(value)
        if not value and required:
            errors[field] = str(required)
        elif len(value) > high:
            errors[field] = str(_l("At most %(n)d characters.", n=high))
        elif has_control_characters(value):
            errors[field] = str(_l("Remove the control characters from this text."))
        clean[field] = value

    text("name", data.name, NAME_MAX, _l("Name the place, e.g. Posyandu Melati."))
    text("address", data.address, ADDRESS_MAX, _l("Enter the address."))
    text("city", data.city, CITY_MAX, _l("Enter the city or regency."))
    text("opening_hours", data.opening_hours, HOURS_MAX, _l("Say when it is open, e.g. Mon-Fri 08:00-14:00."))
    text("contact", data.contact, CONTACT_MAX, _l("Enter a phone number or e-mail address."))
    if data.category not in categories.CODES:
        errors["category"] = str(_l("Choose one of the six categories."))
    clean["category"] = data.category
    if data.province not in regions.CODES:
        errors["province"] = str(_l("Choose the province."))
    clean["province"] = data.province
    for field in ("latitude", "longitude"):
        try:
            low, high = ((geo.BOUNDS.south, geo.BOUNDS.north) if field == "latitude"
                         else (geo.BOUNDS.west, geo.BOUNDS.east))
            clean[field] = geo.parse_degrees(getattr(data, field), field, low, high)
        except UserError as exc:
            errors[field] = str(exc.message)
    if "province" not in errors and "latitude" in clean and "longitude" in clean \
            and not boundaries.extent(clean["province"]).grown(PROVINCE_MARGIN).contains(
                clean["latitude"], clean["longitude"]):
        errors["province"] = str(_l("The coordinates lie outside %(province)s: check them, or the province.",
                                    province=regions.name(clean["province"])))
    allowed = {c.id: c for c in funding_choices(org)}
    wanted = list(dict.fromkeys(data.campaign_ids))
    if any(i not in allowed for i in wanted):
        errors["campaigns"] = str(_l("Choose only this organization's own campaigns."))
    clean["campaigns"] = [allowed[i] for i in wanted if i in allowed]
    return clean, errors


def _apply(point: ServicePoint, clean: dict) -> None:
    for field, value in clean.items():
        setattr(point, field, value)
    point.updated_at = now_utc()  # also when only its campaigns changed (the map's cache key)


def create_point(org: Organization, data: ServicePointInput) -> ServicePoint:
    clean, errors = _check(org, data)
    if errors:
        raise ValidationError(errors)
    point = ServicePoint(organization=org)
    _apply(point, clean)
    db.session.add(point)
    db.session.flush()
    return point


def update_point(point: ServicePoint, data: ServicePointInput) -> ServicePoint:
    clean, errors = _check(point.organization, data)
    if errors:
        raise ValidationError(errors)
    _apply(point, clean)
    db.session.flush()
    return point


def delete_point(point: ServicePoint) -> None:
    db.session.delete(point)
    db.session.flush()


def point_of(org: Organization, point_id: int) -> ServicePoint | None:
    """The point `point_id` if it is `org`'s (None for another organization's: the same answer as
    for no point at all)."""
    return db.session.scalar(sa.select(ServicePoint).where(ServicePoint.id == point_id,
                                                           ServicePoint.organization_id == org.id))


def points_of(org: Organization) -> list[ServicePoint]:
    return list(db.session.scalars(sa.select(ServicePoint).where(ServicePoint.organization_id == org.id)
                                   .options(selectinload(ServicePoint.campaigns))
                                   .order_by(ServicePoint.name, ServicePoint.id)))


def public_campaigns(point: ServicePoint) -> list[Campaign]:
    """What the public sees of a point's funding: its published and closed campaigns only."""
    return [c for c in point.campaigns if c.is_public]


def map_points(category: str | None = None) -> list[ServicePoint]:
    query = (sa.select(ServicePoint).options(selectinload(ServicePoint.campaigns))
             .order_by(ServicePoint.province, ServicePoint.name, ServicePoint.id))
    if category is not None:
        query = query.where(ServicePoint.category == category)
    return list(db.session.scalars(query))


def points_version() -> tuple:
    """Changes whenever a point is added, changed or removed (part of the map page's cache key)."""
    row = db.session.execute(sa.select(sa.func.count(), sa.func.max(ServicePoint.updated_at),
                                       sa.func.max(ServicePoint.id))).one()
    return tuple(row)
