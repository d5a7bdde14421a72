"""The campaigns' names and pages, handed to the ledger's pages (ledger.names), which know only ids.

Both functions get `execute` from the ledger, which runs them on the connection its page reads
with; they only say what to select."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from campaigns.models import Campaign
from ledger.queries import CampaignName, register_campaign_names


def names_for(ids: set[str], execute) -> dict[str, CampaignName]:
    rows = execute(sa.select(Campaign.public_id, Campaign.slug, Campaign.title)
                   .where(Campaign.public_id.in_(sorted(ids))))
    return {r.public_id: CampaignName(r.title, url_for("campaigns.show", public_id=r.public_id, slug=r.slug))
            for r in rows}


def version(execute) -> str:
    """Changes whenever any campaign changes (a title among them): the ledger pages' caches follow."""
    last = execute(sa.select(sa.func.max(Campaign.updated_at))).scalar()
    return last.isoformat() if last else ""


def init_app(app) -> None:
    register_campaign_names(app, names_for, version)
