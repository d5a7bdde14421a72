"""Service points: the places where an organization serves (a posyandu, a reading garden, a
community clinic, a cooperative, a mosque's kitchen), and the campaigns that fund each."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amanah.db import now_utc
from amanah.extensions import db
from campaigns import categories, regions
from campaigns.models import Campaign
from maps.geo import BOUNDS
from organizations.models import Organization

NAME_MAX = 120
ADDRESS_MAX = 300
CITY_MAX = 80
HOURS_MAX = 200
CONTACT_MAX = 200


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


service_point_campaigns = sa.Table(
    "service_point_campaigns", db.metadata,
    sa.Column("service_point_id", sa.ForeignKey("service_points.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("campaign_id", sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


class ServicePoint(db.Model):
    __tablename__ = "service_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 index=True)
    category: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    address: Mapped[str] = mapped_column(sa.String(ADDRESS_MAX))
    city: Mapped[str] = mapped_column(sa.String(CITY_MAX))
    province: Mapped[str] = mapped_column(sa.String(2))  # BPS code
    # Degrees (WGS 84). Floats are right here: a position, not money; 1e-6 degrees is ~10 cm.
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    opening_hours: Mapped[str] = mapped_column(sa.String(HOURS_MAX))
    contact: Mapped[str] = mapped_column(sa.String(CONTACT_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    organization: Mapped[Organization] = relationship(lazy="joined")
    campaigns: Mapped[list[Campaign]] = relationship(secondary=service_point_campaigns,
                                                     order_by=Campaign.id)

    __table_args__ = (
        sa.CheckConstraint(_in("category", categories.CODES), name="category_known"),
        sa.CheckConstraint(_in("province", regions.CODES), name="province_known"),
        sa.CheckConstraint(f"latitude BETWEEN {BOUNDS.south} AND {BOUNDS.north}",
                           name="latitude_in_indonesia"),
        sa.CheckConstraint(f"longitude BETWEEN {BOUNDS.west} AND {BOUNDS.east}",
                           name="longitude_in_indonesia"),
        # "Nearest to me" reads the points of a few provinces at a time.
        sa.Index("ix_service_points_province_category", "province", "category"),
    )

    @property
    def category_label(self) -> str:
        return categories.label(self.category)

    @property
    def province_name(self) -> str:
        return regions.name(self.province)

    def __repr__(self) -> str:
        return f"<ServicePoint {self.id} {self.name!r}>"
