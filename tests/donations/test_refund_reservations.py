"""Refunds and disbursements draw on the same balance: a refund is reserved before the provider is
asked, under the ledger's lock, so the two can never spend the same money (a review found that
a refund could once take a campaign's balance below zero)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns.models import Campaign
from campaigns.services import today_wib
from donations import giving
from donations.gateway import GatewayError
from donations.models import Donation, Refund, RefundStatus
from donations.providers import get_gateway
from tests.factories import make_user
from tests.factories.giving import entries, make_campaign, pending
from tests.factories.treasury import picture
from treasury import disbursements

RP = 100


def paid_campaign(app, amount=5_000_000):
    """A campaign with one paid sandbox donation (its fee makes the balance a little less)."""
    with app.app_context():
        campaign = make_campaign()
        treasurer = make_user(None, "treasurer")
        campaign.treasurer_id = treasurer.id
        db.session.commit()
        campaign_id = campaign.id
        donation_id, checkout_id = pending(app, db.session.get(Campaign, campaign_id), amount=amount)
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()
        giving.handle_event(event)
    return campaign_id, donation_id


def spend(campaign, actor, amount, n=1):
    return disbursements.record(campaign, actor, disbursements.DisbursementInput(
        amount=amount, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
        purpose="Pembelian alat tulis", category="goods", evidence=picture(40 + n)))


@pytest.mark.files
def test_a_refund_cannot_take_money_already_disbursed(app):
    campaign_id, donation_id = paid_campaign(app)
    with app.test_request_context():
        campaign = db.session.get(Campaign, campaign_id)
        balance = disbursements.available_balance(campaign)
        assert 0 < balance < 5_000_000
        spend(campaign, campaign.treasurer, balance)
        db.session.commit()
        with pytest.raises(giving.RefundRefused) as refused:
            giving.request_refund(db.session.get(Donation, donation_id), campaign.treasurer, 1_000_000,
                                  "Salah")
        assert "Rp 0" in str(refused.value)
        db.session.rollback()
        assert db.session.scalars(sa.select(Refund)).all() == [] and entries("refund") == []


@pytest.mark.files
def test_a_requested_refund_is_set_aside_before_it_is_confirmed(app, monkeypatch):
    campaign_id, donation_id = paid_campaign(app)
    with app.test_request_context():
        campaign = db.session.get(Campaign, campaign_id)
        balance = disbursements.available_balance(campaign)
        # The provider has not confirmed yet: nothing in the ledger, but the money is reserved.
        monkeypatch.setattr(get_gateway(), "create_refund",
                            lambda intent, amount, key, metadata: {"id": "re_pending_1", "amount": amount})
        refund = giving.request_refund(db.session.get(Donation, donation_id), campaign.treasurer,
                                       2_000_000, "Donatur salah pilih kampanye")
        db.session.commit()
        assert (refund.status, refund.provider_id) == (RefundStatus.REQUESTED, "re_pending_1")
        assert entries("refund") == []
        assert disbursements.available_balance(campaign) == balance - 2_000_000
        with pytest.raises(disbursements.ValidationError):
            spend(campaign, campaign.treasurer, balance)  # would leave the refund uncovered
        db.session.rollback()
        spend(campaign, campaign.treasurer, balance - 2_000_000, n=2)
        db.session.commit()
        assert disbursements.available_balance(campaign) == 0


def test_a_provider_failure_releases_the_reservation(app, monkeypatch):
    campaign_id, donation_id = paid_campaign(app)

    def unreachable(*args):
        raise GatewayError("provider down")

    with app.test_request_context():
        campaign = db.session.get(Campaign, campaign_id)
        balance = disbursements.available_balance(campaign)
        monkeypatch.setattr(get_gateway(), "create_refund", unreachable)
        with pytest.raises(GatewayError):
            giving.request_refund(db.session.get(Donation, donation_id), campaign.treasurer, 1_000_000, "x")
        (row,) = db.session.scalars(sa.select(Refund)).all()
        assert row.status == RefundStatus.FAILED and disbursements.available_balance(campaign) == balance


def test_the_refund_event_can_arrive_before_the_provider_id_is_stored(app):
    """Stripe may deliver refund.created before request_refund stores the refund's id: the event
    finds the reservation through the refund's metadata, and no second refund row appears."""
    _campaign_id, donation_id = paid_campaign(app)
    with app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        reservation = Refund(donation=donation, amount=1_000_000, reason="x",
                             status=RefundStatus.REQUESTED.value)
        db.session.add(reservation)
        db.session.commit()
        data = {"id": "re_early_1", "object": "refund", "amount": 1_000_000, "status": "succeeded",
                "currency": "idr", "payment_intent": donation.payment_intent,
                "metadata": {"donation_id": str(donation_id), "amanah_refund": str(reservation.id)}}
        assert giving._apply_refunds(donation, [data]) == "refunded 1"
        db.session.commit()
        (row,) = db.session.scalars(sa.select(Refund)).all()
        assert (row.id, row.provider_id, row.status) == (reservation.id, "re_early_1", RefundStatus.SUCCEEDED)
        assert [e.amount for e in entries("refund")] == [-1_000_000]
