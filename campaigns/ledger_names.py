"""The campaigns' names and pages, handed to the ledger's pages (ledger.names), which know only ids."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from amanah.extensions import db
from campaigns.models import Campaign
from ledger.queries import CampaignName, register_campaign_names


def names_for(ids: set[str]) -> dict[str, CampaignName]:
    rows = db.session.execute(sa.select(Campaign.public_id, Campaign.slug, Campaign.title)
                              .where(Campaign.public_id.in_(sorted(ids))))
    return {r.public_id: CampaignName(r.title, url_for("campaigns.show", public_id=r.public_id, slug=r.slug))
            for r in rows}


def version() -> str:
    """Changes whenever any campaign changes (a title among them): the ledger pages' caches follow."""
    last = db.session.scalar(sa.select(sa.func.max(Campaign.updated_at)))
    return last.isoformat() if last else ""


def init_app(app) -> None:
    register_campaign_names(app, names_for, version)
