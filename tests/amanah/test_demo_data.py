"""`flask demo` looks like a platform in use: gifts spread over the campaigns with different totals,
no two campaigns with the same history, a closed campaign with its final update, a demo donor with
gifts of their own; and running it again changes nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah.extensions import db
from campaigns.demo_data import CAMPAIGNS, FINAL_UPDATES
from campaigns.models import Campaign, CampaignUpdate
from donations.demo import DEMO_DONOR_EMAIL
from donations.models import Donation
from ledger.models import CampaignTotal, LedgerEntry
from tests.factories import login
from treasury.models import Disbursement


def _counts():
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (Campaign, CampaignUpdate, Donation, LedgerEntry, Disbursement))


@pytest.mark.files("local")  # the demo in a bucket: tests/treasury/test_disbursements_api.py
def test_demo_data_looks_real_and_loading_it_twice_changes_nothing(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        demo_titles = {spec[5] for spec in CAMPAIGNS}
        public = list(db.session.scalars(sa.select(Campaign).where(
            Campaign.title.in_(demo_titles), Campaign.status.in_(["published", "closed"]))))
        assert len(public) >= 13
        totals = {c.public_id: db.session.get(CampaignTotal, c.public_id) for c in public}
        assert all(t is not None and t.donation_count >= 1 for t in totals.values())  # every one has gifts
        net = [t.raised - t.refunded - t.chargebacks for t in totals.values()]
        assert len(set(net)) == len(net)  # different totals
        assert len({t.donation_count for t in totals.values()}) >= 4
        histories = {}
        for campaign in public:
            entries = db.session.execute(sa.select(LedgerEntry.kind, LedgerEntry.amount).where(
                LedgerEntry.campaign == campaign.public_id).order_by(LedgerEntry.seq)).all()
            histories[campaign.public_id] = tuple(map(tuple, entries))
        assert len(set(histories.values())) == len(histories)  # no two alike
        assert any(kind == "refund" for history in histories.values() for kind, _amount in history)

        closed = [c for c in public if c.status == "closed"]
        assert len(closed) == 1 and closed[0].title in FINAL_UPDATES
        campaign = closed[0]
        final_title, _body, reason = FINAL_UPDATES[campaign.title]
        assert campaign.updates[0].title == final_title  # the newest update is the final one
        assert campaign.updates[0].created_at <= campaign.closed_at
        assert [t.name for t in campaign.transitions][-1] == "close"
        assert campaign.transitions[-1].reason == reason
        closed_totals = totals[campaign.public_id]
        assert closed_totals.raised - closed_totals.refunded >= campaign.goal  # reached its goal
        assert closed_totals.disbursed > 0 and closed_totals.balance < closed_totals.raised // 5

        donor = db.session.scalar(sa.select(User).where(User.email == DEMO_DONOR_EMAIL))
        gifts = list(db.session.scalars(sa.select(Donation).where(Donation.user_id == donor.id)))
        assert len(gifts) >= 3 and {d.status for d in gifts} == {"paid"}
        assert len({d.campaign_id for d in gifts}) == len(gifts)
        assert {d.donor_email for d in gifts} == {DEMO_DONOR_EMAIL}
        before = _counts()
        client = app.test_client()
        login(client, donor)
    mine = client.get("/donations/mine", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Timbangan dan alat ukur baru untuk Posyandu Melati" in mine and "Paket sembako dan obat" in mine

    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert _counts() == before
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output

