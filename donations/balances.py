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
from ledger.models import CampaignTotal


def available_balance(campaign: Campaign) -> int:
    """Donations minus refunds, chargebacks, fees and disbursements, read fresh from the database
    (never from an ORM object loaded earlier in the session)."""
    t = CampaignTotal.__table__.c
    row = db.session.execute(
        sa.select(t.raised, t.refunded, t.chargebacks, t.fees, t.disbursed, t.currency)
        .where(t.campaign == campaign.public_id)).first()
    if row is None or row.currency != campaign.currency:
        return 0
    return row.raised - row.refunded - row.chargebacks - row.fees - row.disbursed - reserved_refunds(campaign)


def reserved_refunds(campaign: Campaign) -> int:
    """Refunds asked of the provider but not yet confirmed: not in the ledger yet, but no longer
    the campaign's to spend (a disbursement made meanwhile could leave the refund uncovered)."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount), 0))
        .join(Donation, Refund.donation_id == Donation.id)
        .where(Donation.campaign_id == campaign.id, Refund.status == RefundStatus.REQUESTED.value)) or 0
