"""What treasury adds to a campaign's page: how the money was spent, the treasurer's box, and the
record of treasurer changes (the last one's date, the admins' link to make one, and all of them)."""
from __future__ import annotations

from accounts.permissions import Action, can
from campaigns.panels import register_panel
from treasury import disbursements, treasurers

# The campaign page lists the latest ones; the public ledger pages through any number.
CAMPAIGN_PAGE_DISBURSEMENTS = 25


def disbursements_context(user, campaign) -> dict:
    rows = disbursements.for_campaign(campaign, limit=CAMPAIGN_PAGE_DISBURSEMENTS + 1)
    return {"rows": rows[:CAMPAIGN_PAGE_DISBURSEMENTS], "more": len(rows) > CAMPAIGN_PAGE_DISBURSEMENTS,
            "see_withheld": can(user, Action.VIEW_WITHHELD_EVIDENCE, campaign),
            "can_correct": can(user, Action.RECORD_DISBURSEMENT, campaign)}


def treasury_box_visible(user, campaign) -> bool:
    return can(user, Action.RECORD_DISBURSEMENT, campaign)


def treasury_box_context(user, campaign) -> dict:
    return {"balance": disbursements.available_balance(campaign)}


def public(user, campaign) -> bool:
    return campaign.is_public


def treasurer_changed_context(user, campaign) -> dict | None:
    change = treasurers.last_treasurer_change(campaign)
    return {"change": change} if change is not None else None


def change_treasurer_visible(user, campaign) -> bool:
    return can(user, Action.CHANGE_TREASURER, campaign)


def treasurer_changes_visible(user, campaign) -> bool:
    # Part of the campaign's history: whoever may read that.
    return can(user, Action.VIEW_CAMPAIGN_HISTORY, campaign)


def treasurer_changes_context(user, campaign) -> dict | None:
    changes = treasurers.changes_of(campaign)
    return {"changes": changes} if changes else None


def register(app) -> None:
    register_panel(app, "main", "treasury.disbursements", "treasury/_list.html",
                   visible=public, context=disbursements_context, order=10)
    register_panel(app, "manage", "treasury.box", "treasury/_manage.html",
                   visible=treasury_box_visible, context=treasury_box_context, order=10)
    register_panel(app, "facts", "treasury.treasurer_changed", "treasury/_treasurer_changed.html",
                   visible=public, context=treasurer_changed_context, order=10)
    register_panel(app, "actions", "treasury.change_treasurer", "treasury/_change_treasurer_link.html",
                   visible=change_treasurer_visible, order=10)
    register_panel(app, "history", "treasury.treasurer_changes", "treasury/_treasurer_changes.html",
                   visible=treasurer_changes_visible, context=treasurer_changes_context, order=10)
