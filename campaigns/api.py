"""Read-only JSON API. Money in integer minor units of the campaign's currency; drafts never appear."""
from __future__ import annotations

from flask import Blueprint, abort, request, url_for

from amanah.errors import error_response
from amanah.extensions import db
from campaigns import contributions, indicators, organization_pages, search, services
from campaigns.models import Campaign
from campaigns.rendering import render_markdown
from organizations import services as org_services
from organizations.models import Organization

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/v1/campaigns")
organizations_bp = Blueprint("organizations_api", __name__, url_prefix="/api/v1/organizations")


def organization_ref(org: Organization | None) -> dict | None:
    if org is None:
        return None
    return {"slug": org.slug, "name": org.name, "type": org.type, "verified": org.is_verified,
            "url": url_for("organization_pages.show", slug=org.slug, _external=True)}


def _totals_json(totals: search.Totals) -> dict:
    return {"raised": totals.raised, "refunded": totals.refunded, "chargebacks": totals.chargebacks,
            "fees": totals.fees, "disbursed": totals.disbursed, "net_raised": totals.net_raised,
            "balance": totals.balance, "donation_count": totals.donation_count}


@organizations_bp.get("/<slug>")
def get_organization(slug: str):
    org = org_services.get_by_slug(slug)
    if org is None:
        abort(404)
    cards = organization_pages.campaign_cards(org)
    return {
        **organization_ref(org),
        "verified_at": org.verified_at.isoformat() if org.verified_at else None,
        "legal_basis": org.legal_basis, "npwp": org.npwp, "address": org.address, "contact": org.contact,
        "description_html": str(render_markdown(org.description)),
        "totals": {currency: _totals_json(t) for currency, t in organization_pages.combined(cards).items()},
        # Each campaign with what it promised and what it reported: the organization is held to
        # account for all of them in one answer.
        "campaigns": [campaign_json(card.campaign, card.totals, outcomes=True) for card in cards],
    }


def outcomes_json(campaign: Campaign) -> dict:
    """Its outcome indicators (latest reported values) and its progress reports."""
    return {
        "indicators": [{
            "name": p.indicator.name, "unit": p.indicator.unit, "kind": p.indicator.kind,
            "direction": p.indicator.direction, "baseline": p.indicator.baseline,
            "target": p.indicator.target, "due": p.indicator.due.isoformat(), "latest": p.latest}
            for p in indicators.progress_of(campaign)],
        **contributions.api_details(campaign),
    }


def campaign_json(campaign: Campaign, totals: search.Totals, detail: bool = False,
                  outcomes: bool = False) -> dict:
    data = {
        "public_id": campaign.public_id,
        "slug": campaign.slug,
        "title": campaign.title,
        "url": url_for("campaigns.show", public_id=campaign.public_id, slug=campaign.slug, _external=True),
        "status": campaign.status,
        "category": campaign.category,
        "region": campaign.region,
        "region_name": campaign.region_name,
        "city": campaign.city,
        "currency": campaign.currency,
        "goal": campaign.goal,
        "deadline": campaign.deadline.isoformat(),
        "published_at": campaign.published_at.isoformat() if campaign.published_at else None,
        "closed_at": campaign.closed_at.isoformat() if campaign.closed_at else None,
        "organizer": campaign.organizer.display_name,
        "organization": organization_ref(campaign.organization),
        "totals": _totals_json(totals),
    }
    if detail:
        data["beneficiary"] = campaign.beneficiary
        data["story_html"] = str(render_markdown(campaign.story))
        data["feed_url"] = url_for("campaigns.feed", public_id=campaign.public_id, _external=True)
    if detail or outcomes:
        data.update(outcomes_json(campaign))
    return data


@bp.get("")
def list_campaigns():
    if services.close_expired():
        db.session.commit()
    try:
        filters = search.parse_filters(request.args, per_page=20, max_per_page=50)
    except search.FilterError as exc:
        return error_response(400, exc.message, field=exc.field)
    page = search.search(filters)
    return {
        "items": [campaign_json(card.campaign, card.totals) for card in page.items],
        "page": filters.page,
        "per_page": filters.per_page,
        "pages": page.pages,
        "total": page.total,
    }


@bp.get("/<public_id>")
def get_campaign(public_id: str):
    campaign = services.get_by_public_id(public_id)
    if campaign is None or not campaign.is_public:
        abort(404)
    if services.close_if_expired(campaign):
        db.session.commit()
    return campaign_json(campaign, search.totals_for(campaign), detail=True)
