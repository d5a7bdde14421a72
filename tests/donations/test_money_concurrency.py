"""Refunds, their confirmations and chargebacks at once, on PostgreSQL: no deadlock, no 500, no
refund booked twice or missed, never more taken back than a donation received.

Threads ask for refunds of 30% each of the same donations through the service a treasurer's form
calls, while others deliver Stripe's signed webhooks for every refund made so far over real HTTP
and a chargeback arrives for another donation of the same campaign.
"""
from __future__ import annotations

import threading
import time
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


def paid_donations(app, fake) -> tuple[list[int], list[str], list[dict], int]:
    with app.test_request_context():
        campaign = make_campaign()
        ids, intents, sessions = [], [], []
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
            sessions.append(session)
        treasurer = make_user(None, "treasurer")
        campaign.treasurer_id = treasurer.id
        db.session.commit()
        result = ids, intents, sessions, treasurer.id
        db.session.remove()
    return result


def test_concurrent_refunds_confirmations_and_chargebacks(stripe_server):
    server, fake = stripe_server
    app = server.app
    ids, intents, sessions, treasurer_id = paid_donations(app, fake)
    refunded_ids = ids[:DONATIONS]  # the last one is disputed; so is the first, beside its refunds
    others = 5  # two refund deliverers, two disputes, one confirmer
    start = threading.Barrier(REFUNDERS * DONATIONS + others, timeout=120)
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

    def dispute(intent: str, amount: int | None = None) -> str:
        start.wait()
        disputed = fake.dispute(intent)
        if amount is not None:
            fake.tamper(disputed["id"], amount=amount)
            disputed = fake.objects[disputed["id"]]
        event = make_event("charge.dispute.funds_withdrawn", disputed)
        body, headers = webhook(event, SECRET)
        response = requests.post(f"{server.url}/webhooks/stripe", data=body, headers=headers, timeout=60)
        outcomes.append(response.status_code)
        return "disputed"

    retried = []

    def confirm_again() -> str:
        """The refunded donations' payments confirmed again meanwhile (new event ids: Stripe's
        async_payment_succeeded after completed), through the batched confirmations. A batch's
        leader does not wait for a donation's row that a refund holds: that event is answered 503
        and Stripe delivers it again, as here, until it is answered."""
        http = requests.Session()
        start.wait()
        for n in range(3):
            for session in sessions[:DONATIONS]:
                event = make_event("checkout.session.async_payment_succeeded", session,
                                   event_id=f"evt_again_{n}_{session['id']}")
                for _ in range(50):
                    body, headers = webhook(event, SECRET)
                    response = http.post(f"{server.url}/webhooks/stripe", data=body, headers=headers,
                                         timeout=60)
                    if response.status_code != 503:
                        break
                    retried.append(response.json())
                    time.sleep(0.05)
                outcomes.append(response.status_code)
                assert response.json() == {"status": "unchanged"}, response.text
        return "confirmed"

    with ThreadPoolExecutor(REFUNDERS * DONATIONS + others) as pool:
        refunds = [pool.submit(refund, d) for d in refunded_ids for _ in range(REFUNDERS)]
        deliverers = [pool.submit(deliver_refunds) for _ in range(2)]
        disputers = [pool.submit(dispute, intents[-1]),
                     pool.submit(dispute, intents[0], AMOUNT * 10 // 100)]  # all the refunds leave
        confirmer = pool.submit(confirm_again)
        try:
            results = [f.result() for f in refunds]  # any deadlock or other error is raised here
        finally:
            done.set()
        assert [f.result() for f in deliverers] == ["delivered"] * 2
        assert [f.result() for f in disputers] == ["disputed"] * 2 and confirmer.result() == "confirmed"

    assert set(outcomes) == {200}, outcomes
    assert all(r == {"status": "retry"} for r in retried), retried  # 503s to retry, never a 500
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
        assert sorted(chargebacks) == [-AMOUNT, -(AMOUNT * 10 // 100)]
        # The first donation: three refunds and a chargeback, all it received, not a rupiah more.
        assert giving._taken_back(db.session.get(Donation, refunded_ids[0])) == AMOUNT
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.kind == "donation")) == DONATIONS + 2
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
