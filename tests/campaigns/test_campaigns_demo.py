"""`flask demo` loads realistic campaigns in every category, and loading twice changes nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah import storage
from amanah.extensions import db
from campaigns import categories, images
from campaigns.models import Campaign, CampaignIndicator, CampaignTransition, CampaignUpdate
from ledger.models import LedgerEntry
from reports.models import ProgressReport


def _snapshot():
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)),
            db.session.scalar(sa.select(sa.func.count()).select_from(CampaignUpdate)),
            db.session.scalar(sa.select(sa.func.count()).select_from(CampaignTransition)),
            db.session.scalar(sa.select(sa.func.count()).select_from(User)),
            db.session.scalar(sa.select(sa.func.count()).select_from(CampaignIndicator)),
            db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)))


@pytest.mark.files("local")  # the demo in a bucket: tests/treasury/test_disbursements_api.py
def test_demo_campaigns(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        campaigns = list(db.session.scalars(sa.select(Campaign)))
        published = [c for c in campaigns if c.status == "published"]
        assert len(published) >= 12
        assert {c.category for c in published} == set(categories.CODES)
        assert len({c.region for c in published}) >= 6
        assert {c.status for c in campaigns} >= {"draft", "submitted", "published"}
        for campaign in published:
            assert campaign.story.count("\n\n") >= 2, campaign.title  # several paragraphs
            assert campaign.cover and storage.current().exists(images.cover_key(campaign.cover))
            assert campaign.currency == "IDR" and campaign.goal % 100 == 0
            assert [t.name for t in campaign.transitions] == ["create", "submit", "publish"]
        assert any("Posyandu" in c.title and "Sleman" in c.city for c in published)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignUpdate)) >= 3
        # Two campaigns show outcomes: indicators and a progress report anchored in the ledger,
        # with its demo evidence and the disbursements it accounts for.
        reports = list(db.session.scalars(sa.select(ProgressReport).order_by(ProgressReport.id)))
        assert len(reports) == 2
        posyandu = next(c for c in published if "Posyandu" in c.title)
        report = next(r for r in reports if r.campaign_id == posyandu.id)
        assert len(posyandu.indicators) == 2 and len(report.values) == 2
        assert len(report.evidence) == 1 and len(report.disbursements) == 2
        entry = db.session.get(LedgerEntry, report.ledger_seq)
        assert entry.kind == "report" and entry.amount == 0
        posyandu_id, report_title = posyandu.public_id, report.title
        indicator_name = posyandu.indicators[0].name
        before = _snapshot()
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert _snapshot() == before
    html = app.test_client().get("/campaigns/?q=posyandu").get_data(as_text=True)
    assert "Posyandu Melati" in html
    page = app.test_client().get(f"/campaigns/{posyandu_id}", follow_redirects=True).get_data(as_text=True)
    assert indicator_name in page and report_title in page


@pytest.mark.files("local")  # the demo in a bucket: tests/treasury/test_disbursements_api.py
def test_demo_works_with_stripe_keys_set_and_never_calls_stripe(app, runner):
    from donations.models import Donation
    # A Stripe and a Xendit that cannot be reached: any call to either would fail the command.
    app.config.update(STRIPE_SECRET_KEY="sk_test_unreachable", STRIPE_API_BASE="http://127.0.0.1:9",
                      STRIPE_MAX_NETWORK_RETRIES=0, XENDIT_SECRET_KEY="xnd_development_unreachable",
                      XENDIT_API_BASE="http://127.0.0.1:9")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["demo"])  # and a second time, as the README's steps may run it
    assert again.exit_code == 0, again.output
    with app.app_context():
        donations = list(db.session.scalars(sa.select(Donation)))
        assert donations and {d.provider for d in donations} == {"sandbox"}
        assert {d.status for d in donations} == {"paid"}
