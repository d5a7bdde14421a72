"""Refunds, their confirmations and chargebacks at once, on PostgreSQL: no deadlock, no 500, no
refund booked twice or missed, never more taken back than a donation received.

Threads ask for refunds of 30% each of the same donations through the service a treasurer's form
calls, while others deliver Stripe's signed webhooks for every refund made so far over real HTTP
and a chargeback arrives for another donation of the same campaign.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from accounts.models import User
from amanah.extensions import db
from donations import giving
from donations.models import Donation, Refund
from ledger.models import LedgerEntry
from tests.factories import make_user
from tests.factories.fake_stripe import FakeStripe, make_event, webhook
from tests.factories.giving import make_campaign

pytestmark = pytest.mark.slow

API_KEY, SECRET = "sk_test_money", "whsec_money"
DONATIONS, REFUNDERS, AMOUNT = 2, 6, 5_000_000


@pytest.fixture
def stripe_server(live_server, databases):
    if databases.backend != "postgresql":
        pytest.skip("row locks and advisory locks interleave only on PostgreSQL")
    fake = FakeStripe(API_KEY).start()
    live_server.app.config.update(STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                                  STRIPE_API_BASE=fake.url)
    yield live_server, fake
    fake.stop()


def paid_donations(app, fake) -> tuple[list[int], list[str], int]:
    with app.test_request_context():
        campaign = make_campaign()
        ids, intents = [], []
        for n in range(DONATIONS + 2):  # one more disputed, one more that keeps the balance able to pay
            donation = giving.start_donation(campaign, amount=AMOUNT, donor_name=f"D{n}",
                                             donor_email=f"d{n}@example.org")
            db.session.commit()
            checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/no")
            db.session.commit()
            session = fake.complete(checkout.id)
            assert giving.handle_event(make_event("checkout.session.completed", session)) == "paid"
            ids.append(donation.id)
            intents.append(session["payment_intent"])
        treasurer = make_user(None, "treasurer")
        campaign.treasurer_id = treasurer.id
        db.session.commit()
        result = ids, intents, treasurer.id
        db.session.remove()
    return result


def test_concurrent_refunds_confirmations_and_chargebacks(stripe_server):
    server, fake = stripe_server
    app = server.app
    ids, intents, treasurer_id = paid_donations(app, fake)
    refunded_ids = ids[:DONATIONS]  # the last one is disputed
    start = threading.Barrier(REFUNDERS * DONATIONS + 3, timeout=120)
    outcomes, done = [], threading.Event()

    def refund(donation_id: int) -> str:
        start.wait()  # before taking a connection: the pool must not run dry at the barrier
        with app.test_request_context():
            actor = db.session.get(User, treasurer_id)
            donation = db.session.get(Donation, donation_id)
            try:
                giving.request_refund(donation, actor, AMOUNT * 30 // 100, "Dobel")
                db.session.commit()
                return "requested"
            except giving.RefundRefused:
                db.session.rollback()
                return "refused"
            finally:
                db.session.remove()

    def deliver_refunds() -> str:
        http = requests.Session()
        start.wait()
        seen = set()
        while True:
            finished = done.is_set()
            for refund_obj in [o for o in list(fake.objects.values()) if o["object"] == "refund"]:
                event = make_event("refund.created", refund_obj, event_id=f"evt_{refund_obj['id']}")
                if event["id"] in seen:
                    continue
                body, headers = webhook(event, SECRET)
                response = http.post(f"{server.url}/webhooks/stripe", data=body, headers=headers, timeout=60)
                outcomes.append(response.status_code)
                seen.add(event["id"])
            if finished:
                return "delivered"

    def dispute() -> str:
        start.wait()
        event = make_event("charge.dispute.funds_withdrawn", fake.dispute(intents[-1]))
        body, headers = webhook(event, SECRET)
        response = requests.post(f"{server.url}/webhooks/stripe", data=body, headers=headers, timeout=60)
        outcomes.append(response.status_code)
        return "disputed"

    with ThreadPoolExecutor(REFUNDERS * DONATIONS + 3) as pool:
        refunds = [pool.submit(refund, d) for d in refunded_ids for _ in range(REFUNDERS)]
        deliverers = [pool.submit(deliver_refunds) for _ in range(2)]
        disputer = pool.submit(dispute)
        try:
            results = [f.result() for f in refunds]  # any deadlock or other error is raised here
        finally:
            done.set()
        assert [f.result() for f in deliverers] == ["delivered"] * 2 and disputer.result() == "disputed"

    assert set(outcomes) == {200}, outcomes
    # 30% each: three fit in a donation, the other three are refused before the provider is asked
    assert results.count("requested") == 3 * DONATIONS and results.count("refused") == 3 * DONATIONS
    provider_refunds = [o for o in fake.objects.values() if o["object"] == "refund"]
    assert len(provider_refunds) == 3 * DONATIONS
    with app.app_context():
        booked = db.session.execute(sa.select(LedgerEntry.payment, LedgerEntry.amount)
                                    .where(LedgerEntry.kind == "refund")).all()
        assert sorted(p for p, _ in booked) == sorted(r["id"] for r in provider_refunds)  # each once
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)
                                 .where(Refund.status != "succeeded")) == 0
        for donation_id in refunded_ids:
            donation = db.session.get(Donation, donation_id)
            assert donation.refunded == 3 * (AMOUNT * 30 // 100) <= donation.total
        chargebacks = db.session.scalars(sa.select(LedgerEntry.amount)
                                         .where(LedgerEntry.kind == "chargeback")).all()
        assert chargebacks == [-AMOUNT]
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
