"""What campaigns put on the home page: featured and urgent campaigns, and the six categories.

Featured: the open campaigns the most donors have given to (the ledger's running totals), the
newest first among equals. Urgent: the open campaigns still short of their goal whose deadline is
nearest, leaving out those already featured. A campaign whose deadline has passed is neither, even
before it is closed (campaigns close lazily, when their list or page is read).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from amanah.extensions import db
from amanah.home import register_home_section
from campaigns import categories
from campaigns.lifecycle import Status
from campaigns.models import Campaign
from campaigns.search import Card, Totals, totals_columns
from campaigns.services import today_wib
from ledger.models import CampaignTotal

FEATURED = 3
URGENT = 3


def _open_campaigns():
    raised, refunded, chargebacks, fees, disbursed, count = totals_columns()
    net = raised - refunded - chargebacks
    query = (sa.select(Campaign, raised, refunded, chargebacks, fees, disbursed, count)
             .select_from(sa.outerjoin(Campaign, CampaignTotal, CampaignTotal.campaign == Campaign.public_id))
             .where(Campaign.status == Status.PUBLISHED.value, Campaign.deadline >= today_wib())
             .options(lazyload(Campaign.organizer)))  # a card does not name the organizer
    return query, net, count


def _cards(query) -> list[Card]:
    return [Card(row[0], Totals(*row[1:])) for row in db.session.execute(query)]


def featured_campaigns(limit: int = FEATURED) -> list[Card]:
    query, _net, count = _open_campaigns()
    return _cards(query.order_by(count.desc(), Campaign.published_at.desc(), Campaign.id.desc()).limit(limit))


def urgent_campaigns(limit: int = URGENT, exclude: tuple[int, ...] = ()) -> list[Card]:
    query, net, _count = _open_campaigns()
    query = query.where(net < Campaign.goal)
    if exclude:
        query = query.where(Campaign.id.not_in(exclude))
    return _cards(query.order_by(Campaign.deadline, Campaign.id).limit(limit))


def campaigns_context() -> dict | None:
    featured = featured_campaigns()
    urgent = urgent_campaigns(exclude=tuple(card.campaign.id for card in featured))
    if not featured and not urgent:
        return None
    return {"featured": featured, "urgent": urgent}


def categories_context() -> dict:
    return {"categories": [(code, label, str(categories.DESCRIPTIONS[code]))
                           for code, label in categories.choices()]}


def register(app) -> None:
    register_home_section(app, "campaigns.cards", "campaigns/_home_campaigns.html",
                          context=campaigns_context, order=20)
    register_home_section(app, "campaigns.categories", "campaigns/_home_categories.html",
                          context=categories_context, order=30)
