"""Treasurer changes: an admin hands a public campaign's money to another treasurer, on the record.

Before publication the organizer picks the treasurer in the campaign form (campaigns/services.py);
once the campaign is public, the treasurer holds its money and only this module changes them.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from accounts.models import User
from accounts.permissions import Action, can
from amanah.db import now_utc
from amanah.extensions import db
from campaigns import services as campaign_services
from campaigns.models import REASON_MAX, Campaign
from campaigns.services import PermissionDenied, ValidationError
from treasury.models import CampaignTreasurerChange


def change_treasurer(campaign: Campaign, actor: User, treasurer_id, reason: str) -> CampaignTreasurerChange:
    """Hand a public campaign's money to another treasurer, recording who, when, from, to and why.

    PermissionDenied unless `actor` may (Action.CHANGE_TREASURER); ValidationError (nothing changed,
    nothing recorded) for a choice that is not an active treasurer, the current treasurer, or a
    reason that is empty, too long or holds control characters.
    """
    if not can(actor, Action.CHANGE_TREASURER, campaign):
        raise PermissionDenied("only another admin changes a public campaign's treasurer")
    errors: dict[str, str] = {}
    if (message := campaign_services.treasurer_error(treasurer_id)) is not None:
        errors["treasurer_id"] = message
    elif treasurer_id == campaign.treasurer_id:
        errors["treasurer_id"] = str(_l("This person is already the campaign's treasurer."))
    reason = campaign_services.checked_text(errors, "reason", reason, 1, REASON_MAX, _l("Give a reason."))
    if errors:
        raise ValidationError(errors)
    previous, now = campaign.treasurer_id, now_utc()
    # Compare-and-set: of two simultaneous changes, only the first finds the treasurer it replaces.
    result = db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id,
                                                          Campaign.treasurer_id == previous)
                                .values(treasurer_id=treasurer_id, updated_at=now))
    if result.rowcount != 1:
        db.session.refresh(campaign)
        raise ValidationError({"treasurer_id": str(_l("Someone changed the treasurer meanwhile: "
                                                      "check the current one and try again."))})
    change = CampaignTreasurerChange(campaign_id=campaign.id, from_user_id=previous, to_user_id=treasurer_id,
                                     changed_by_id=actor.id, reason=reason, at=now)
    db.session.add(change)
    db.session.flush()
    db.session.refresh(campaign)
    return change


def changes_of(campaign: Campaign) -> list[CampaignTreasurerChange]:
    """Every change of the campaign's treasurer, the oldest first."""
    return list(db.session.scalars(sa.select(CampaignTreasurerChange)
                                   .where(CampaignTreasurerChange.campaign_id == campaign.id)
                                   .order_by(CampaignTreasurerChange.id)))


def last_treasurer_change(campaign: Campaign) -> CampaignTreasurerChange | None:
    return db.session.scalar(sa.select(CampaignTreasurerChange)
                             .where(CampaignTreasurerChange.campaign_id == campaign.id)
                             .order_by(CampaignTreasurerChange.id.desc()).limit(1))
