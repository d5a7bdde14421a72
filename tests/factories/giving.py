"""Builders shared by the tests (moved out of test_giving.py)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from amanah.db import now_utc
from amanah.extensions import db
from campaigns import categories, regions
from campaigns.models import Campaign
from donations import giving
from ledger.models import LedgerEntry
from tests.factories import make_user


def make_campaign(currency: str = "IDR") -> Campaign:
    organizer = make_user()
    campaign = Campaign(slug="air-bersih", title="Air bersih untuk desa", story="x" * 60, goal=10**10,
                        currency=currency, deadline=(now_utc() + dt.timedelta(days=30)).date(),
                        category=categories.CODES[0], region=regions.CODES[0], city="Bandung",
                        beneficiary="Warga desa", organizer_id=organizer.id, treasurer_id=organizer.id,
                        status="published", published_at=now_utc())
    db.session.add(campaign)
    db.session.commit()
    return campaign


def pending(app, campaign, amount=5_000_000, cover_fee=False, method="card") -> tuple[int, str]:
    with app.test_request_context():
        donation = giving.start_donation(campaign, amount=amount, donor_name="Siti",
                                         donor_email="Siti@Example.test", cover_fee=cover_fee, method=method)
        db.session.commit()
        checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
        db.session.commit()
        return donation.id, checkout.id


def entries(kind=None):
    query = sa.select(LedgerEntry).order_by(LedgerEntry.seq)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    return db.session.execute(query).scalars().all()
