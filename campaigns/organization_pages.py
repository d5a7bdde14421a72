"""Organizations' public pages: who they are, whether an admin verified them, and every public
campaign they run with its money, added up per currency from the ledger's running totals."""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from flask import Blueprint, abort, render_template

from amanah.extensions import db
from campaigns.lifecycle import PUBLIC_STATUSES
from campaigns.models import Campaign
from campaigns.rendering import render_markdown
from campaigns.search import Card, Totals, totals_columns
from ledger.models import CampaignTotal
from organizations import services as org_services
from organizations.models import Organization

bp = Blueprint("organization_pages", __name__, url_prefix="/organizations")


def campaign_cards(org: Organization) -> list[Card]:
    """The organization's public campaigns, open ones first, newest first, each with its totals."""
    rows = db.session.execute(
        sa.select(Campaign, *totals_columns()).select_from(Campaign)
        .outerjoin(CampaignTotal, CampaignTotal.campaign == Campaign.public_id)
        .where(Campaign.organization_id == org.id, Campaign.status.in_([s.value for s in PUBLIC_STATUSES]))
        .order_by(Campaign.status.desc(), Campaign.published_at.desc())).all()
    return [Card(row[0], Totals(*row[1:])) for row in rows]


def combined(cards: list[Card]) -> dict[str, Totals]:
    """The campaigns' totals added up, one Totals per currency (amounts in different currencies
    are never added together)."""
    by_currency: dict[str, list[Totals]] = {}
    for card in cards:
        by_currency.setdefault(card.campaign.currency, []).append(card.totals)
    fields = [f.name for f in dataclasses.fields(Totals)]
    return {currency: Totals(**{f: sum(getattr(t, f) for t in totals) for f in fields})
            for currency, totals in sorted(by_currency.items())}


@bp.get("/")
def index():
    return render_template("organizations/index.html", organizations=org_services.directory())


@bp.get("/<slug>")
def show(slug: str):
    org = org_services.get_by_slug(slug)
    if org is None:
        abort(404)
    cards = campaign_cards(org)
    return render_template("organizations/show.html", org=org, cards=cards, sums=combined(cards),
                           description=render_markdown(org.description))
