"""What documents add to a campaign's page: the links to its financial report and receipts ZIP."""
from __future__ import annotations

from campaigns.panels import register_panel
from documents import bulk, statements


def documents_visible(user, campaign) -> bool:
    # The box opens with the report link: shown to whoever may read the report.
    return statements.can_see_report(user, campaign)


def documents_context(user, campaign) -> dict:
    return {"can_bulk_download": bulk.can_bulk_download(user, campaign)}


def register(app) -> None:
    register_panel(app, "manage", "documents.campaign_documents", "documents/_campaign_documents.html",
                   visible=documents_visible, context=documents_context, order=20)
