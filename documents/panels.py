"""What documents add to a campaign's page: the links to its financial report and receipts ZIP."""
from __future__ import annotations

from accounts.permissions import Action, can
from campaigns.panels import register_panel


def documents_visible(user, campaign) -> bool:
    # The box opens with the report link: shown to whoever may read the report.
    return can(user, Action.VIEW_CAMPAIGN_REPORT, campaign)


def documents_context(user, campaign) -> dict:
    return {"can_bulk_download": can(user, Action.BULK_DOWNLOAD, campaign)}


def register(app) -> None:
    register_panel(app, "manage", "documents.campaign_documents", "documents/_campaign_documents.html",
                   visible=documents_visible, context=documents_context, order=20)
