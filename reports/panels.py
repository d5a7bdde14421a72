"""What reports add to a campaign's page: the timeline of reports with their evidence, and the
button to post one; and the values its indicators show (campaigns.indicators asks for them)."""
from __future__ import annotations

from flask import url_for

from accounts.permissions import Action, can
from campaigns import contributions, indicators
from campaigns.panels import register_panel
from campaigns.rendering import render_markdown
from reports import services


def public(user, campaign) -> bool:
    return campaign.is_public


def timeline_context(user, campaign) -> dict:
    return {"reports": services.reports_of(campaign), "overdue": services.overdue_since(campaign)}


def may_post(user, campaign) -> bool:
    return can(user, Action.POST_PROGRESS_REPORT, campaign)


def api_reports(campaign) -> list[dict]:
    return [{"number": r.number, "title": r.title, "at": r.created_at.isoformat(), "final": r.final,
             "corrects": r.corrects.number if r.corrects is not None else None,
             "url": url_for("reports.show", public_id=campaign.public_id, number=r.number, _external=True),
             "document_url": url_for("reports.document", public_id=campaign.public_id, number=r.number,
                                     _external=True),
             "sha256": r.sha256, "ledger_seq": r.ledger_seq, "evidence": sorted(e.sha256 for e in r.evidence)}
            for r in services.reports_of(campaign)] if campaign.is_public else []


def feed_items(campaign) -> list[contributions.FeedItem]:
    return [contributions.FeedItem(
        f"report-{r.number}", f"#{r.number} {r.title}", r.created_at,
        url_for("reports.show", public_id=campaign.public_id, number=r.number, _external=True),
        str(render_markdown(r.narrative))) for r in services.reports_of(campaign)]


def final_report_due(user, campaign) -> bool:
    """A closed campaign asks those who may report for its final report, until there is one."""
    return (campaign.status == "closed" and may_post(user, campaign)
            and not services.has_final_report(campaign))


def register(app) -> None:
    register_panel(app, "main", "reports.final_prompt", "reports/_final_prompt.html",
                   visible=final_report_due, order=4)
    register_panel(app, "main", "reports.timeline", "reports/_timeline.html",
                   visible=public, context=timeline_context, order=5)
    register_panel(app, "actions", "reports.post", "reports/_post_link.html", visible=may_post, order=5)
    indicators.register_values_source(app, services.latest_values)
    contributions.register_api_detail(app, "reports", api_reports)
    contributions.register_feed_items(app, feed_items)
