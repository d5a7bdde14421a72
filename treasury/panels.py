"""What treasury adds to a campaign's page: how the money was spent, and the treasurer's box."""
from __future__ import annotations

from campaigns.panels import register_panel
from treasury import disbursements

# The campaign page lists the latest ones; the public ledger pages through any number.
CAMPAIGN_PAGE_DISBURSEMENTS = 25


def disbursements_visible(user, campaign) -> bool:
    return campaign.is_public


def disbursements_context(user, campaign) -> dict:
    rows = disbursements.for_campaign(campaign, limit=CAMPAIGN_PAGE_DISBURSEMENTS + 1)
    return {"rows": rows[:CAMPAIGN_PAGE_DISBURSEMENTS], "more": len(rows) > CAMPAIGN_PAGE_DISBURSEMENTS,
            "see_withheld": disbursements.can_see_withheld(user, campaign),
            "can_correct": disbursements.can_record(user, campaign)}


def treasury_box_visible(user, campaign) -> bool:
    return disbursements.can_record(user, campaign)


def treasury_box_context(user, campaign) -> dict:
    return {"balance": disbursements.available_balance(campaign)}


def register(app) -> None:
    register_panel(app, "main", "treasury.disbursements", "treasury/_list.html",
                   visible=disbursements_visible, context=disbursements_context, order=10)
    register_panel(app, "manage", "treasury.box", "treasury/_manage.html",
                   visible=treasury_box_visible, context=treasury_box_context, order=10)
