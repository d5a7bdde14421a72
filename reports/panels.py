"""What reports add to a campaign's page: the timeline of reports with their evidence, and the
button to post one; and the values its indicators show (campaigns.indicators asks for them)."""
from __future__ import annotations

from accounts.permissions import Action, can
from campaigns import indicators
from campaigns.panels import register_panel
from reports import services


def public(user, campaign) -> bool:
    return campaign.is_public


def timeline_context(user, campaign) -> dict:
    return {"reports": services.reports_of(campaign)}


def may_post(user, campaign) -> bool:
    return can(user, Action.POST_PROGRESS_REPORT, campaign)


def register(app) -> None:
    register_panel(app, "main", "reports.timeline", "reports/_timeline.html",
                   visible=public, context=timeline_context, order=5)
    register_panel(app, "actions", "reports.post", "reports/_post_link.html", visible=may_post, order=5)
    indicators.register_values_source(app, services.latest_values)
