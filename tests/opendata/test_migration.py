"""The aggregates' migration fills them from a ledger that already has entries, as the appends do."""
from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from amanah.extensions import db
from ledger import storage
from opendata import aggregates
from tests.conftest import make_app
from tests.factories import make_user
from tests.factories.documents import make_campaign, paid_donation, refund

BEFORE_AGGREGATES = "348935ad8cb2"


def test_the_migration_backfills_what_the_appends_wrote(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path / "i")
    try:
        with app.app_context():
            upgrade()
            campaign, other = make_campaign(), make_campaign(currency="USD")
            other.category, other.region = "health", "94"
            db.session.commit()
            donor = make_user()
            first = paid_donation(app, campaign, user=donor)
            paid_donation(app, campaign, user=donor)  # the same account: one donor
            paid_donation(app, campaign)  # a guest
            paid_donation(app, other, amount=5_000)
            storage.append(db.session, kind="disbursement", campaign=campaign.public_id, amount=-1_000,
                           currency="IDR")
            storage.append(db.session, kind="donation", campaign="notacampaign", amount=7, currency="IDR")
            db.session.commit()
        refund(app, first, 10_000_000)
        with app.app_context():
            written = aggregates.stored_rows(db.session)
            db.session.rollback()
            everything = written[("*", "*", "*", "IDR")]
            assert (everything["gifts"], everything["donors"], everything["campaigns"]) == (4, 3, 2)
            assert everything["refunded"] == 10_000_000 and everything["disbursed"] == 1_000
            assert written[("*", "health", "94", "USD")]["raised"] == 5_000

            downgrade(revision=BEFORE_AGGREGATES)
            assert "opendata_aggregates" not in sa.inspect(db.engine).get_table_names()
            upgrade()
            assert aggregates.stored_rows(db.session) == written
            assert aggregates.stored_rows(db.session) == aggregates.recount(db.session).rows
            db.session.rollback()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
