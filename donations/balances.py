"""What a campaign still holds: the money giving brought in, less what has left or is set aside.

Giving owns this figure because refunds reserve against it; treasury reads it before a
disbursement (treasury knows donations, never the other way round). Both take the ledger's append
lock before reading it, so a refund and a disbursement can never together spend money twice.
"""
from __future__ import annotations

import sqlalchemy as sa

from amanah.extensions import db
from campaigns.models import Campaign
from donations.models import Donation, Refund, RefundStatus
from ledger import balances


def available_balance(campaign: Campaign) -> int:
    """Donations minus refunds, chargebacks, fees and disbursements, read fresh from the database.

    Summed from the campaign's ledger entries, not read from its running totals: the totals row
    may be updated (it is derived data), and an edited one must not authorize a disbursement or a
    refund the campaign cannot cover. Under the append lock, as record() and request_refund()
    take it, no entry can be added between this read and the append."""
    held = balances.balance_from_entries(db.session, campaign.public_id, campaign.currency)
    return held - reserved_refunds(campaign)


def reserved_refunds(campaign: Campaign) -> int:
    """Refunds asked of the provider but not yet confirmed: not in the ledger yet, but no longer
    the campaign's to spend (a disbursement made meanwhile could leave the refund uncovered)."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount), 0))
        .join(Donation, Refund.donation_id == Donation.id)
        .where(Donation.campaign_id == campaign.id, Refund.status == RefundStatus.REQUESTED.value)) or 0
