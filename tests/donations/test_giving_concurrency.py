"""Stripe's deliveries arrive at once, out of order and more than once: each payment counts once.

200 signed webhook deliveries (140 payments, 60 duplicates: redeliveries of an event and other
events about an already-paid session) are shuffled and posted from 8 threads to the app served
over real HTTP; every confirmation re-fetches its session from the fake Stripe. Confirmations
that wait for the append lock together are applied together (donations/confirmations.py): on
PostgreSQL batches of more than one happen, and in every batch ledger order is the order in
which the events were recorded, receipts numbered in that order.
"""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from amanah.extensions import db
from documents.models import Document
from donations import giving
from donations.models import Donation, PaymentEvent, PendingConfirmation
from ledger.models import CampaignTotal, LedgerEntry
from tests.factories.fake_stripe import FakeStripe, make_event, webhook
from tests.factories.giving import make_campaign

pytestmark = pytest.mark.slow

PAYMENTS, DUPLICATES, THREADS = 140, 60, 8
API_KEY, SECRET = "sk_test_concurrency", "whsec_concurrency"


@pytest.fixture
def stripe_server(live_server):
    fake = FakeStripe(API_KEY).start()
    live_server.app.config.update(STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                                  STRIPE_API_BASE=fake.url)
    yield live_server, fake
    fake.stop()


def pending_sessions(app, fake: FakeStripe) -> tuple[str, list[dict]]:
    """A published campaign and PAYMENTS donations whose sessions the donors have paid at Stripe."""
    sessions = []
    with app.test_request_context():
        campaign = make_campaign()
        for n in range(PAYMENTS):
            donation = giving.start_donation(campaign, amount=1_000_000 + n * 100, donor_name=f"Donor {n}",
                                             donor_email=f"d{n}@example.org")
            db.session.commit()
            checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
            db.session.commit()
            sessions.append(fake.complete(checkout.id))
        public_id = campaign.public_id
        db.session.remove()
    return public_id, sessions


def deliveries(sessions: list[dict]) -> list[tuple[bytes, dict]]:
    events = [make_event("checkout.session.completed", s) for s in sessions]
    rng = random.Random(6)
    again = [rng.choice(events) for _ in range(DUPLICATES * 2 // 3)]  # the same event, redelivered
    others = [make_event("checkout.session.async_payment_succeeded", rng.choice(sessions))
              for _ in range(DUPLICATES - len(again))]  # another event about a paid session
    batch = [webhook(e, SECRET) for e in events + again + others]
    rng.shuffle(batch)
    return batch


class BatchLog(logging.Handler):
    """The size of every confirmation batch, whichever of the server's threads led it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.sizes = []

    def emit(self, record):
        if record.getMessage().startswith("confirmation batch"):
            self.sizes.append(record.args[0])


@pytest.fixture
def batch_log():
    logger = logging.getLogger("donations.confirmations")
    handler, level = BatchLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_concurrent_webhooks_record_each_payment_once(stripe_server, batch_log, backend):
    server, fake = stripe_server
    public_id, sessions = pending_sessions(server.app, fake)
    batch = deliveries(sessions)
    assert len(batch) == PAYMENTS + DUPLICATES
    local = threading.local()

    def post(delivery):
        body, headers = delivery
        if not hasattr(local, "http"):
            local.http = requests.Session()
        response = local.http.post(f"{server.url}/webhooks/stripe", data=body, headers=headers, timeout=60)
        return response.status_code, response.json().get("status")

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(post, batch))

    assert {code for code, _ in results} == {200}, results
    statuses = [status for _, status in results]
    assert statuses.count("paid") == PAYMENTS
    assert statuses.count("duplicate") + statuses.count("unchanged") == DUPLICATES
    assert len(fake.calls("GET", "/v1/checkout/sessions/")) >= PAYMENTS

    app = server.app
    with app.app_context():
        donations = db.session.execute(sa.select(Donation)).scalars().all()
        assert [d.status for d in donations] == ["paid"] * PAYMENTS
        assert len({d.ledger_seq for d in donations}) == PAYMENTS
        expected_fees = sum(fake.fee(d.total, "idr") for d in donations)
        assert sum(d.processor_fee for d in donations) == expected_fees
        raised = sum(d.total for d in donations)
        sums = dict(db.session.execute(sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.amount))
                                       .group_by(LedgerEntry.kind)).all())
        assert sums == {"donation": raised, "fee": -expected_fees}
        counts = dict(db.session.execute(sa.select(LedgerEntry.kind, sa.func.count())
                                         .group_by(LedgerEntry.kind)).all())
        assert counts == {"donation": PAYMENTS, "fee": PAYMENTS}
        total = db.session.get(CampaignTotal, public_id)
        assert (total.raised, total.fees, total.donation_count, total.entry_count) == (
            raised, expected_fees, PAYMENTS, 2 * PAYMENTS)
        distinct_events = PAYMENTS + DUPLICATES - DUPLICATES * 2 // 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == distinct_events
        # Arrival order: each batch (its rows share their finished_at) is appended in the order its
        # events were recorded, one batch after the other; the receipts' numbers follow the ledger.
        table = PendingConfirmation.__table__
        recorded = db.session.execute(sa.select(table.c.finished_at, table.c.object)
                                      .where(table.c.outcome == "paid")
                                      .order_by(table.c.finished_at, table.c.id)).all()
        by_id = {d.id: d for d in donations}
        seqs = [by_id[int(o["metadata"]["donation_id"])].ledger_seq for _, o in recorded]
        assert len(seqs) == PAYMENTS and seqs == sorted(seqs)
        assert len({at for at, _ in recorded}) <= sum(1 for n in batch_log.sizes if n)
        numbers = db.session.execute(
            sa.select(Document.number).join(Donation, Document.donation_id == Donation.id)
            .where(Document.kind == "receipt").order_by(Donation.ledger_seq)).scalars().all()
        assert len(numbers) == PAYMENTS and numbers == sorted(numbers)
        db.session.remove()
    assert sum(batch_log.sizes) == len(batch)  # every delivery of a checkout event was in one batch
    if backend == "postgresql":  # SQLite's writers queue on its one lock; they batch only by chance
        assert max(batch_log.sizes) > 1, batch_log.sizes
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert f"{2 * PAYMENTS} entries" in result.output
