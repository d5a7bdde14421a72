"""Where the money went, on the home page: the latest disbursements of public campaigns.

Only payments that stand (a disbursement reversed as recorded in error paid nobody). The evidence
follows the treasurer's choice as everywhere else: a public document is linked, a withheld one is
only named as withheld, with no link, even for staff who may open it elsewhere, because the home
page is the same for every visitor. A private person is not named here; their payment shows as
made to a private person (the campaign's own page lists it in full).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, lazyload

from amanah.extensions import db
from amanah.home import register_home_section
from campaigns.lifecycle import PUBLIC_STATUSES
from campaigns.models import Campaign
from treasury.models import Disbursement, DisbursementReversal

LATEST = 5


def latest_disbursements(limit: int = LATEST) -> list[Disbursement]:
    """The latest payments that stand, of public campaigns, the latest paid first (one query)."""
    reversed_ = sa.exists().where(DisbursementReversal.disbursement_id == Disbursement.id)
    return list(db.session.scalars(
        sa.select(Disbursement).join(Disbursement.campaign).options(
            contains_eager(Disbursement.campaign), lazyload(Disbursement.campaign, Campaign.organizer))
        .where(Campaign.status.in_([s.value for s in PUBLIC_STATUSES]), ~reversed_)
        .order_by(Disbursement.paid_on.desc(), Disbursement.id.desc()).limit(limit)))


def disbursements_context() -> dict | None:
    rows = latest_disbursements()
    return {"disbursements": rows} if rows else None


def register(app) -> None:
    register_home_section(app, "treasury.latest", "treasury/_home_disbursements.html",
                          context=disbursements_context, order=40)
