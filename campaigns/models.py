"""Campaigns, the record of their lifecycle, and the updates their organizers post."""
from __future__ import annotations

import base64
import datetime as dt
import enum
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from accounts.models import User
from amanah.db import now_utc
from amanah.extensions import db
from amanah.money import ISO_EXPONENT, MAX_MINOR
from amanah.text import ascii_slug
from campaigns import categories, regions
from campaigns.lifecycle import EDITABLE_STATUSES, Status, Transition
from organizations.models import Organization

PUBLIC_ID_LENGTH = 12
TITLE_MAX = 120
SLUG_MAX = 80
CITY_MAX = 80
STORY_MAX = 20_000
BENEFICIARY_MAX = 2_000
REASON_MAX = 2_000
UPDATE_TITLE_MAX = 120
UPDATE_BODY_MAX = 10_000
INDICATOR_NAME_MAX = 120
INDICATOR_UNIT_MAX = 40


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def new_public_id() -> str:
    """12 lowercase base32 characters (60 random bits): short enough to read, never guessed."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:PUBLIC_ID_LENGTH]


# Words that are routes under /campaigns/<public_id>/ and so cannot be slugs.
RESERVED_SLUGS = frozenset({"edit", "submit", "close", "review", "updates", "treasurer", "changes"})


def slugify(text: str) -> str:
    slug = ascii_slug(text, SLUG_MAX) or "kampanye"
    return f"{slug}-kampanye" if slug in RESERVED_SLUGS else slug


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Used in URLs and in ledger entries; set once at creation and never changed.
    public_id: Mapped[str] = mapped_column(sa.String(PUBLIC_ID_LENGTH), unique=True, default=new_public_id)
    slug: Mapped[str] = mapped_column(sa.String(SLUG_MAX))
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX))
    story: Mapped[str] = mapped_column(sa.Text)  # Markdown source; rendered and sanitized on display
    goal: Mapped[int] = mapped_column(sa.BigInteger)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(sa.String(3))
    deadline: Mapped[dt.date] = mapped_column()  # last day of fundraising, Indonesian western time
    category: Mapped[str] = mapped_column(sa.String(16))
    region: Mapped[str] = mapped_column(sa.String(2))  # BPS province code
    city: Mapped[str] = mapped_column(sa.String(CITY_MAX))
    beneficiary: Mapped[str] = mapped_column(sa.Text)
    cover: Mapped[str | None] = mapped_column(sa.String(80))  # <sha256>.webp under instance/uploads/covers
    organizer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    treasurer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    # The organization that runs it; None for a person's own campaign (where configuration allows).
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=Status.DRAFT.value)
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    published_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()

    organizer: Mapped[User] = relationship(foreign_keys=[organizer_id], lazy="joined")
    treasurer: Mapped[User] = relationship(foreign_keys=[treasurer_id])
    organization: Mapped[Organization | None] = relationship(lazy="joined")
    transitions: Mapped[list[CampaignTransition]] = relationship(
        back_populates="campaign", order_by="CampaignTransition.id")
    updates: Mapped[list[CampaignUpdate]] = relationship(
        back_populates="campaign", order_by="CampaignUpdate.id.desc()")
    revisions: Mapped[list[CampaignRevision]] = relationship(
        back_populates="campaign", order_by="CampaignRevision.id.desc()", lazy="select")
    indicators: Mapped[list[CampaignIndicator]] = relationship(
        back_populates="campaign", order_by="CampaignIndicator.id", cascade="save-update, merge, delete")

    __table_args__ = (
        sa.CheckConstraint(f"length(public_id) = {PUBLIC_ID_LENGTH}", name="public_id_length"),
        sa.CheckConstraint(f"goal > 0 AND goal <= {MAX_MINOR}", name="goal_positive"),
        sa.CheckConstraint(_in("currency", ISO_EXPONENT), name="currency_known"),
        sa.CheckConstraint(_in("category", categories.CODES), name="category_known"),
        sa.CheckConstraint(_in("region", regions.CODES), name="region_known"),
        sa.CheckConstraint(_in("status", Status), name="status_known"),
        sa.CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL",
                           name="rejected_has_reason"),
        sa.CheckConstraint("status NOT IN ('published', 'closed') OR published_at IS NOT NULL",
                           name="published_has_date"),
        sa.CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_has_date"),
        sa.Index("ix_campaigns_status_deadline", "status", "deadline"),
        sa.Index("ix_campaigns_status_published_at", "status", "published_at"),
        sa.Index("ix_campaigns_region_status", "region", "status"),  # the map's "nearest to me"
        # On PostgreSQL also SEARCH_INDEX, over search_document() (see there).
    )

    @validates("public_id")
    def _public_id_is_immutable(self, _key, value):
        if self.public_id is not None and value != self.public_id:
            raise ValueError("a campaign's public id never changes")
        return value

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def is_public(self) -> bool:
        return self.status in (Status.PUBLISHED, Status.CLOSED)

    @property
    def is_editable(self) -> bool:
        """The organizer may still change the campaign's fields (accounts.permissions asks)."""
        return self.status in EDITABLE_STATUSES

    @property
    def category_label(self) -> str:
        return categories.label(self.category)

    @property
    def region_name(self) -> str:
        return regions.name(self.region)

    def __repr__(self) -> str:
        return f"<Campaign {self.public_id} {self.status}>"


class CampaignTransition(db.Model):
    """One step of a campaign's lifecycle: who, when, from, to, why. Never edited."""

    __tablename__ = "campaign_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(16))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))  # None when the campaign was created
    to_status: Mapped[str] = mapped_column(sa.String(16))
    # None when the system did it (a deadline passed).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    campaign: Mapped[Campaign] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(_in("name", ["create", *Transition]), name="name_known"),
        sa.CheckConstraint(_in("to_status", Status), name="to_status_known"),
    )


class CampaignRevision(db.Model):
    """One edit of a public campaign by its organizer: who, when, and what each changed field said
    before and after ({field: {"before": ..., "after": ...}}; dates as ISO strings, the goal in
    minor units, the cover as its file name). Donors gave on what the campaign said; this keeps it.

    Append-only: database triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
    """

    __tablename__ = "campaign_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    editor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    changes: Mapped[dict] = mapped_column(sa.JSON)

    campaign: Mapped[Campaign] = relationship(back_populates="revisions")
    editor: Mapped[User] = relationship(lazy="joined")


class IndicatorKind(enum.StrEnum):
    COUNT = "count"  # whole numbers: toddlers weighed, wells built, students passing
    PERCENT = "percent"  # 0 to 100, up to two decimals: share of children immunized
    MEASURE = "measure"  # any amount with up to two decimals in its unit: km of road, litres


class IndicatorDirection(enum.StrEnum):
    INCREASE = "increase"  # more is better (wells built)
    DECREASE = "decrease"  # less is better (stunted toddlers)


class CampaignIndicator(db.Model):
    """An outcome the organizer promises to measure: from a baseline to a target by a due date.

    Values are integer hundredths of the unit (never floats), whatever the kind: 84 toddlers is
    8400, 72.5% is 7250. Once the campaign is public an indicator is never changed or removed, only
    added to (each addition is recorded as a CampaignRevision), so what donors read stays on record.
    """

    __tablename__ = "campaign_indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(INDICATOR_NAME_MAX))
    unit: Mapped[str] = mapped_column(sa.String(INDICATOR_UNIT_MAX))
    kind: Mapped[str] = mapped_column(sa.String(10))
    direction: Mapped[str] = mapped_column(sa.String(10))
    baseline: Mapped[int] = mapped_column(sa.BigInteger)  # hundredths of the unit
    target: Mapped[int] = mapped_column(sa.BigInteger)
    due: Mapped[dt.date]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    campaign: Mapped[Campaign] = relationship(back_populates="indicators")

    __table_args__ = (
        sa.CheckConstraint(_in("kind", IndicatorKind), name="kind_known"),
        sa.CheckConstraint(_in("direction", IndicatorDirection), name="direction_known"),
        sa.CheckConstraint("(direction = 'increase' AND target > baseline) OR "
                           "(direction = 'decrease' AND target < baseline)", name="target_beyond_baseline"),
    )

    def snapshot(self) -> dict:
        """As a campaign revision records it."""
        return {"name": self.name, "unit": self.unit, "kind": self.kind, "direction": self.direction,
                "baseline": self.baseline, "target": self.target, "due": self.due.isoformat()}


class CampaignUpdate(db.Model):
    """A "Kabar terbaru" post: Markdown from the organizer, shown on the page and in the feed."""

    __tablename__ = "campaign_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(sa.String(UPDATE_TITLE_MAX))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    campaign: Mapped[Campaign] = relationship(back_populates="updates")
    author: Mapped[User] = relationship(lazy="joined")


# PostgreSQL's full-text search matches a query against this text of a campaign (the title twice,
# so that it weighs more). Migration 2b9e6f0c4d71 indexes exactly this expression with GIN, so a
# search is an index lookup rather than parsing every story; SQLite has no to_tsvector and searches
# with LIKE. The index is left out of the metadata because SQLite cannot hold it and Alembic cannot
# compare it there: amanah.db.include_name keeps autogenerate from reporting it.
SEARCH_CONFIG = "indonesian"
SEARCH_INDEX = "ix_campaigns_search_document"
SEARCH_COLUMNS = ("title", "title", "city", "beneficiary", "story")


def search_document():
    """to_tsvector(config, title || ' ' || title || ' ' || ...): the indexed expression, built from
    literals (a bound parameter would stop PostgreSQL from matching it to the index)."""
    text = None
    for name in SEARCH_COLUMNS:
        column = getattr(Campaign, name)
        text = column if text is None else text.op("||")(sa.literal_column("' '")).op("||")(column)
    return sa.func.to_tsvector(sa.literal_column(f"'{SEARCH_CONFIG}'::regconfig"), text)
