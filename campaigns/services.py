"""Business rules for campaigns: plain functions that take and return models or plain values.

Nothing here commits: the caller (a request, a CLI command, a test) commits once at its end.
Every rule that protects data is checked here, not only in forms, so every caller obeys it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from accounts.models import Role, User, UserRole
from accounts.permissions import Action, can
from amanah.db import now_utc
from amanah.errors import ValidationError
from amanah.extensions import db
from amanah.i18n import WIB, format_money
from amanah.money import ISO_EXPONENT, to_minor
from amanah.text import has_control_characters
from campaigns import categories, images, lifecycle, regions
from campaigns.lifecycle import IllegalTransition, Status, Transition
from campaigns.models import (
    BENEFICIARY_MAX,
    CITY_MAX,
    PUBLIC_ID_LENGTH,
    REASON_MAX,
    STORY_MAX,
    TITLE_MAX,
    UPDATE_BODY_MAX,
    UPDATE_TITLE_MAX,
    Campaign,
    CampaignRevision,
    CampaignTransition,
    CampaignUpdate,
    new_public_id,
    slugify,
)
from organizations.models import MemberRole, Organization

# Deadlines are days in Indonesian western time (WIB, UTC+7, no daylight saving): a campaign
# takes donations until the end of its deadline day there.
MAX_DAYS_AHEAD = 366
CAMPAIGN_CURRENCIES: tuple[str, ...] = tuple(ISO_EXPONENT)
# Sensible goals in major units; anything outside is a typing mistake, not a campaign.
GOAL_LIMITS = {"IDR": (100_000, 100_000_000_000), "JPY": (1_000, 2_000_000_000)}
DEFAULT_GOAL_LIMITS = (10, 10_000_000)
TITLE_MIN, STORY_MIN, CITY_MIN, BENEFICIARY_MIN = 5, 50, 2, 10
_PUBLIC_ID = re.compile(rf"^[a-z2-7]{{{PUBLIC_ID_LENGTH}}}$")


class PermissionDenied(Exception):
    """The actor may not do this to this campaign."""


@dataclasses.dataclass
class CampaignInput:
    title: str = ""
    story: str = ""
    goal: int | None = None  # minor units of `currency`
    currency: str = "IDR"
    deadline: dt.date | None = None
    category: str = ""
    region: str = ""
    city: str = ""
    beneficiary: str = ""
    treasurer_id: int | None = None
    cover: bytes | None = None  # an upload's raw bytes; None keeps the current cover
    organization_id: int | None = None  # None: the organizer's own campaign


def today_wib(now: dt.datetime | None = None) -> dt.date:
    return (now or now_utc()).astimezone(WIB).date()


def days_left(campaign: Campaign, now: dt.datetime | None = None) -> int:
    return max((campaign.deadline - today_wib(now)).days, 0)


def goal_limits(currency: str) -> tuple[int, int]:
    low, high = GOAL_LIMITS.get(currency, DEFAULT_GOAL_LIMITS)
    return to_minor(Decimal(low), currency), to_minor(Decimal(high), currency)


# --- reading ---------------------------------------------------------------------------------

def get_by_public_id(public_id: str) -> Campaign | None:
    if not _PUBLIC_ID.match(public_id or ""):
        return None
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))


def campaigns_of(organizer: User) -> list[Campaign]:
    return list(db.session.scalars(sa.select(Campaign).where(Campaign.organizer_id == organizer.id)
                                   .order_by(Campaign.created_at.desc(), Campaign.id.desc())))


def review_queue() -> list[Campaign]:
    """Submitted campaigns, the longest-waiting first."""
    return list(db.session.scalars(sa.select(Campaign).where(Campaign.status == Status.SUBMITTED)
                                   .order_by(Campaign.updated_at, Campaign.id)))


def treasurers() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.TREASURER.value, User.active.is_(True))
        .order_by(User.display_name, User.id)))


# --- validation ------------------------------------------------------------------------------

def checked_text(errors: dict, field: str, value: str, low: int, high: int, empty_message) -> str:
    """`value` stripped; a message in `errors[field]` when it is empty, too short, too long or holds
    control characters (also for treasury's treasurer changes)."""
    value = (value or "").strip()
    if not value:
        errors[field] = str(empty_message)
    elif has_control_characters(value):
        errors[field] = str(_l("The text contains characters that are not allowed."))
    elif len(value) < low:
        errors[field] = str(_l("Write at least %(num)d characters.", num=low))
    elif len(value) > high:
        errors[field] = str(_l("Write at most %(num)d characters.", num=high))
    return value


def _validate(data: CampaignInput, campaign: Campaign | None,
              organizer: User | None) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    clean: dict = {
        "title": checked_text(errors, "title", data.title, TITLE_MIN, TITLE_MAX, _l("Enter a title.")),
        "story": checked_text(errors, "story", data.story, STORY_MIN, STORY_MAX,
                              _l("Tell the campaign's story.")),
        "city": checked_text(errors, "city", data.city, CITY_MIN, CITY_MAX, _l("Enter the city or regency.")),
        "beneficiary": checked_text(errors, "beneficiary", data.beneficiary, BENEFICIARY_MIN, BENEFICIARY_MAX,
                                    _l("Describe who will benefit.")),
    }
    currency = data.currency
    if currency not in CAMPAIGN_CURRENCIES:
        errors["currency"] = str(_l("Choose one of the listed currencies."))
    elif campaign is not None and campaign.is_public and currency != campaign.currency:
        errors["currency"] = str(_l("The currency cannot change once a campaign is published."))
    clean["currency"] = currency

    if "currency" not in errors and (message := _goal_error(data.goal, currency)):
        errors["goal"] = message
    clean["goal"] = data.goal
    if message := _deadline_error(data.deadline):
        errors["deadline"] = message
    clean["deadline"] = data.deadline

    if data.category not in categories.CODES:
        errors["category"] = str(_l("Choose one of the categories."))
    clean["category"] = data.category
    if data.region not in regions.CODES:
        errors["region"] = str(_l("Choose one of Indonesia's provinces."))
    clean["region"] = data.region

    if campaign is not None and campaign.is_public:
        # The treasurer holds a public campaign's money: only an admin changes it (change_treasurer),
        # with a reason on the record. The edit form keeps the current one (None: not sent).
        if data.treasurer_id is not None and data.treasurer_id != campaign.treasurer_id:
            errors["treasurer_id"] = str(TREASURER_LOCKED)
    elif (message := treasurer_error(data.treasurer_id)) is not None:
        errors["treasurer_id"] = message
    else:
        clean["treasurer_id"] = data.treasurer_id

    _check_organization(data, campaign, organizer, clean, errors)
    if data.cover is not None:
        try:
            clean["cover_bytes"] = images.reencode(data.cover)
        except images.ImageError as exc:
            errors["cover"] = str(exc.args[0])
    return clean, errors


TREASURER_LOCKED = _l("Once a campaign is published, only an admin can change its treasurer.")
ORGANIZATION_LOCKED = _l("The organization cannot change once a campaign is published.")


def personal_campaigns_allowed() -> bool:
    return bool(current_app.config.get("PERSONAL_CAMPAIGNS", True))


def _check_organization(data: CampaignInput, campaign: Campaign | None, organizer: User | None,
                        clean: dict, errors: dict[str, str]) -> None:
    """Who runs the campaign: an organization its organizer organizes for, or (where allowed) the
    organizer in person. Donors give to that organization, so it is fixed once the campaign is public."""
    wanted = data.organization_id
    if campaign is not None and campaign.is_public:
        if wanted != campaign.organization_id:
            errors["organization_id"] = str(ORGANIZATION_LOCKED)
        return
    if wanted is None:
        if not personal_campaigns_allowed():
            errors["organization_id"] = str(_l("Choose the organization that runs this campaign."))
        clean["organization_id"] = None
        return
    org = db.session.get(Organization, wanted) if isinstance(wanted, int) and 0 < wanted < 2**31 else None
    if org is None or organizer is None or not org.has_member(organizer, MemberRole.ORGANIZER):
        errors["organization_id"] = str(_l("Choose one of the organizations you organize for."))
        return
    clean["organization_id"] = org.id
    treasurer = db.session.get(User, clean.get("treasurer_id") or data.treasurer_id or 0) \
        if "treasurer_id" not in errors else None
    if treasurer is not None and not org.has_member(treasurer, MemberRole.TREASURER):
        errors["treasurer_id"] = str(_l("Choose one of %(organization)s's treasurers.",
                                        organization=org.name))


def treasurer_error(treasurer_id) -> str | None:
    """None if `treasurer_id` names an active user holding the treasurer role."""
    known_id = (isinstance(treasurer_id, int) and not isinstance(treasurer_id, bool)
                and 0 < treasurer_id < 2**31)
    treasurer = db.session.get(User, treasurer_id) if known_id else None
    if treasurer is None or not treasurer.active or not treasurer.has_role(Role.TREASURER):
        return str(_l("Choose a treasurer from the list."))
    return None


def _goal_error(goal, currency: str) -> str | None:
    low, high = goal_limits(currency)
    if goal is None:
        return str(_l("Enter the goal."))
    if isinstance(goal, bool) or not isinstance(goal, int) or goal <= 0:
        return str(_l("The goal must be more than zero."))
    if goal < low:
        return str(_l("The goal must be at least %(amount)s.", amount=_fmt(low, currency)))
    if goal > high:
        return str(_l("The goal cannot be more than %(amount)s.", amount=_fmt(high, currency)))
    return None


def _deadline_error(deadline: dt.date | None) -> str | None:
    today = today_wib()
    if deadline is None:
        return str(_l("Enter the deadline."))
    if deadline <= today:
        return str(_l("The deadline must be a date in the future."))
    if (deadline - today).days > MAX_DAYS_AHEAD:
        return str(_l("The deadline can be at most one year away."))
    return None


def check_campaign(data: CampaignInput, campaign: Campaign | None = None,
                   organizer: User | None = None) -> dict[str, str]:
    """What is wrong with `data` (field -> message), without saving anything. `organizer` is who
    writes a new campaign (an existing one keeps its own)."""
    return _validate(data, campaign, campaign.organizer if campaign is not None else organizer)[1]


def _fmt(minor: int, currency: str) -> str:
    return format_money(minor, currency)


def _apply(campaign: Campaign, clean: dict) -> None:
    cover_bytes = clean.pop("cover_bytes", None)
    for key, value in clean.items():
        setattr(campaign, key, value)
    campaign.slug = slugify(campaign.title)
    if cover_bytes is not None:
        campaign.cover = images.store_cover(cover_bytes)


# --- changing campaigns ----------------------------------------------------------------------

def create_campaign(organizer: User, data: CampaignInput) -> Campaign:
    """A new draft owned by `organizer`; ValidationError (nothing saved) on bad input."""
    if not can(organizer, Action.CREATE_CAMPAIGN):
        raise PermissionDenied("only organizers create campaigns")
    clean, errors = _validate(data, None, organizer)
    if errors:
        raise ValidationError(errors)
    campaign = Campaign(public_id=new_public_id(), organizer_id=organizer.id, status=Status.DRAFT.value)
    _apply(campaign, clean)
    db.session.add(campaign)
    db.session.add(CampaignTransition(campaign=campaign, name="create", from_status=None,
                                      to_status=Status.DRAFT.value, actor_id=organizer.id))
    db.session.flush()
    return campaign


# What a public campaign's revisions record: what donors read before giving.
REVISED_FIELDS = ("title", "goal", "deadline", "city", "region", "category", "beneficiary", "story", "cover")


def _snapshot(campaign: Campaign) -> dict:
    """The revised fields as JSON values: dates as ISO strings, the goal in minor units."""
    values = {name: getattr(campaign, name) for name in REVISED_FIELDS}
    values["deadline"] = values["deadline"].isoformat() if values["deadline"] is not None else None
    return values


def update_campaign(campaign: Campaign, actor: User, data: CampaignInput) -> Campaign:
    """Change a campaign's fields; ValidationError (nothing changed) on bad input.

    An edit of a public campaign that changes anything also appends a CampaignRevision with each
    changed field's value before and after, in the same transaction.
    """
    # Lock the row and read it afresh: the status checked and the "before" recorded are the
    # campaign as it is now, not as this request first read it (PostgreSQL; SQLite writers queue).
    db.session.execute(sa.select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    db.session.refresh(campaign)
    if not can(actor, Action.EDIT_CAMPAIGN, campaign):
        raise PermissionDenied("only the organizer edits, and only a draft, rejected or published campaign")
    clean, errors = _validate(data, campaign, campaign.organizer)
    if errors:
        raise ValidationError(errors)
    before = _snapshot(campaign)
    _apply(campaign, clean)
    after = _snapshot(campaign)
    changes = {name: {"before": before[name], "after": after[name]}
               for name in REVISED_FIELDS if before[name] != after[name]}
    if campaign.is_public and changes:
        db.session.add(CampaignRevision(campaign_id=campaign.id, editor_id=actor.id, changes=changes))
    db.session.flush()
    return campaign


def revisions_of(campaign: Campaign) -> list[CampaignRevision]:
    """A campaign's recorded edits, the newest first."""
    return list(db.session.scalars(sa.select(CampaignRevision)
                                   .where(CampaignRevision.campaign_id == campaign.id)
                                   .order_by(CampaignRevision.id.desc())))


def revision_count(campaign: Campaign) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(CampaignRevision)
                             .where(CampaignRevision.campaign_id == campaign.id)) or 0


def _transition(campaign: Campaign, transition: Transition, actor: User | None,
                reason: str | None = None) -> Campaign:
    current = campaign.status
    target = lifecycle.target_of(transition, current)
    reason = (reason or "").strip() or None
    if lifecycle.RULES[transition].needs_reason and not reason:
        raise ValidationError({"reason": str(_l("Give a reason."))})
    if reason and (len(reason) > REASON_MAX or has_control_characters(reason)):
        raise ValidationError({"reason": str(_l("Write at most %(num)d characters.", num=REASON_MAX))})
    now = now_utc()
    values: dict = {"status": target.value, "updated_at": now}
    if target == Status.PUBLISHED:
        values["published_at"] = now
    if target == Status.CLOSED:
        values["closed_at"] = now
    if transition == Transition.REJECT:
        values["rejection_reason"] = reason
    # Compare-and-set: of two simultaneous requests, only one finds the campaign still `current`.
    result = db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id,
                                                          Campaign.status == current).values(**values))
    if result.rowcount != 1:
        db.session.refresh(campaign)
        raise lifecycle.illegal(transition, campaign.status)
    db.session.add(CampaignTransition(campaign_id=campaign.id, name=transition.value, from_status=current,
                                      to_status=target.value, actor_id=actor.id if actor else None,
                                      reason=reason, at=now))
    db.session.flush()
    db.session.refresh(campaign)
    return campaign


def submit(campaign: Campaign, actor: User) -> Campaign:
    if not can(actor, Action.SUBMIT_CAMPAIGN, campaign):
        raise PermissionDenied("only the organizer submits a campaign")
    if campaign.deadline <= today_wib():
        raise ValidationError({"deadline": str(_l("The deadline must be a date in the future."))})
    return _transition(campaign, Transition.SUBMIT, actor)


def publish(campaign: Campaign, actor: User) -> Campaign:
    if not can(actor, Action.REVIEW_CAMPAIGN, campaign):
        raise PermissionDenied("only another admin publishes a campaign")
    if campaign.status == Status.SUBMITTED and campaign.deadline <= today_wib():
        raise ValidationError({"deadline": str(_l("The deadline has passed: reject the campaign so that "
                                                  "the organizer can choose a new one."))})
    return _transition(campaign, Transition.PUBLISH, actor)


def reject(campaign: Campaign, actor: User, reason: str) -> Campaign:
    if not can(actor, Action.REVIEW_CAMPAIGN, campaign):
        raise PermissionDenied("only another admin rejects a campaign")
    return _transition(campaign, Transition.REJECT, actor, reason)


def close(campaign: Campaign, actor: User, reason: str | None = None) -> Campaign:
    if not can(actor, Action.CLOSE_CAMPAIGN, campaign):
        raise PermissionDenied("only the organizer or an admin closes a campaign")
    return _transition(campaign, Transition.CLOSE, actor, reason)


def close_if_expired(campaign: Campaign, now: dt.datetime | None = None) -> bool:
    """Close a published campaign whose deadline has passed, as the system. True if it did."""
    if campaign.status != Status.PUBLISHED or campaign.deadline >= today_wib(now):
        return False
    try:
        _transition(campaign, Transition.EXPIRE, None)
    except IllegalTransition:
        return False  # someone else closed it meanwhile
    return True


def close_expired(now: dt.datetime | None = None) -> list[Campaign]:
    due = db.session.scalars(sa.select(Campaign).where(Campaign.status == Status.PUBLISHED,
                                                       Campaign.deadline < today_wib(now))
                             .order_by(Campaign.id))
    return [c for c in list(due) if close_if_expired(c, now)]


def post_update(campaign: Campaign, author: User, title: str, body: str) -> CampaignUpdate:
    if not can(author, Action.POST_CAMPAIGN_UPDATE, campaign):
        raise PermissionDenied("only the organizer posts updates, on a public campaign")
    errors: dict[str, str] = {}
    title = checked_text(errors, "title", title, 3, UPDATE_TITLE_MAX, _l("Enter a title."))
    body = checked_text(errors, "body", body, 10, UPDATE_BODY_MAX, _l("Write the update."))
    if errors:
        raise ValidationError(errors)
    update = CampaignUpdate(campaign_id=campaign.id, author_id=author.id, title=title, body=body)
    db.session.add(update)
    db.session.flush()
    return update
