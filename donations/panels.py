"""What giving adds to a campaign's page: the sandbox banner, the latest donations, and how the fees
donors chose to cover compare with the fees the provider actually took."""
from __future__ import annotations

from flask import g

from campaigns.panels import register_panel
from donations import dashboard
from donations.providers import is_sandbox


def sandbox_banner_visible(user, campaign) -> bool:
    # Only where one can give: a published campaign, while the sandbox stands in for Stripe.
    return campaign.status == "published" and is_sandbox()


def recent_donations_visible(user, campaign) -> bool:
    # Who gave is shown wherever the campaign itself is public.
    return campaign.is_public


def recent_donations_context(user, campaign) -> dict:
    return {"donations": dashboard.recent_donations(campaign)}


def _covered_fees(campaign) -> dict | None:
    # Asked by the visibility test and then by the context: one query per campaign and request.
    found = g.setdefault("_covered_fees", {})
    if campaign.id not in found:
        found[campaign.id] = dashboard.covered_fees(campaign)
    return found[campaign.id]


def covered_fees_visible(user, campaign) -> bool:
    # Wherever the campaign's finances are public, once a donor covered a fee.
    return campaign.is_public and _covered_fees(campaign) is not None


def covered_fees_context(user, campaign) -> dict:
    return {"covered": _covered_fees(campaign)}


def register(app) -> None:
    register_panel(app, "banner", "donations.sandbox_banner", "donations/_sandbox_banner.html",
                   visible=sandbox_banner_visible)
    register_panel(app, "side", "donations.recent", "donations/_recent_donations.html",
                   visible=recent_donations_visible, context=recent_donations_context)
    register_panel(app, "main", "donations.covered_fees", "donations/_covered_fees.html",
                   visible=covered_fees_visible, context=covered_fees_context)
