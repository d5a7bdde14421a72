"""Reconciliation: with every webhook lost, one run brings the ledger level with the provider.

Stripe is the real `stripe` library against the local fake (its list endpoints page as Stripe's
do); the sandbox keeps its events until they are acknowledged.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import g

from accounts.models import Role, User
from amanah.db import now_utc
from amanah.extensions import db
from donations import giving, reconciliation
from donations.cli import parse_since
from donations.gateway import GatewayError
from donations.models import (
    Donation,
    PaymentAnomaly,
    PaymentEvent,
    ReconciliationRun,
    Refund,
    SandboxObject,
)
from donations.providers import gateway_named, get_gateway, in_process_events
from donations.sandbox import SandboxGateway
from donations.stripe_gateway import StripeGateway
from tests.factories import login, make_user
from tests.factories.fake_stripe import FakeStripe, make_event, webhook
from tests.factories.giving import entries, make_campaign, pending

API_KEY = "sk_test_reconcile"
SECRET = "whsec_reconcile"


@pytest.fixture
def fake_stripe():
    fake = FakeStripe(API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_app(app, fake_stripe):
    app.config.update(STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                      STRIPE_API_BASE=fake_stripe.url)
    return app


def run(app) -> dict[str, ReconciliationRun]:
    with app.test_request_context():
        return {r.provider: r for r in reconciliation.reconcile()}


def amounts(kind: str) -> list[int]:
    return sorted(e.amount for e in entries(kind))


def status_of(donation_id: int) -> str:
    return db.session.get(Donation, donation_id).status


# ---- Stripe: every webhook dropped ----

def test_one_run_brings_the_ledger_to_what_stripe_did_with_every_webhook_lost(stripe_app, fake_stripe,
                                                                              client):
    with stripe_app.app_context():
        campaign = make_campaign()
        made = {name: pending(stripe_app, campaign, amount=amount) for name, amount in (
            ("paid", 5_000_000), ("refunded", 7_000_000), ("failed", 3_000_000), ("expired", 2_000_000),
            ("lost_dispute", 4_000_000), ("won_dispute", 6_000_000), ("open", 1_000_000))}
    intent = {}
    for name in ("paid", "refunded", "lost_dispute", "won_dispute"):
        intent[name] = fake_stripe.complete(made[name][1])["payment_intent"]
    fake_stripe.complete(made["failed"][1], pending=True)
    fake_stripe.settle_async(made["failed"][1], succeeded=False)
    fake_stripe.expire(made["expired"][1])
    # Made in Stripe's dashboard: no reservation here, only Stripe knows.
    refund = fake_stripe.create_refund({"payment_intent": intent["refunded"], "amount": "1500000"})
    fake_stripe.dispute(intent["lost_dispute"], status="lost")
    fake_stripe.dispute(intent["won_dispute"], status="won")
    fake_stripe.dispute(intent["paid"], status="warning_needs_response")  # an inquiry takes no money

    runs = run(stripe_app)

    stripe_run = runs["stripe"]
    assert stripe_run.finished_at is not None and stripe_run.unsettled == []
    assert stripe_run.applied == 4 + 2 + 1 + 2  # payments, failed+expired, the refund, two disputes
    with stripe_app.app_context():
        assert {name: status_of(d) for name, (d, _) in made.items()} == {
            "paid": "paid", "refunded": "paid", "failed": "failed", "expired": "expired",
            "lost_dispute": "paid", "won_dispute": "paid", "open": "pending"}
        # Every paid session once, each with its fee; every refund and chargeback once.
        paid = [s for s in fake_stripe.objects.values()
                if s["object"] == "checkout.session" and s["payment_status"] == "paid"]
        assert amounts("donation") == sorted(s["amount_total"] for s in paid)
        objects = fake_stripe.objects
        charges = [objects[objects[s["payment_intent"]]["latest_charge"]] for s in paid]
        fees = [objects[c["balance_transaction"]]["fee"] for c in charges]
        assert amounts("fee") == sorted(-f for f in fees)
        assert amounts("refund") == [-refund["amount"]]
        assert amounts("chargeback") == [-6_000_000, -4_000_000]
        assert amounts("chargeback_reversal") == [6_000_000]
        row = db.session.execute(sa.select(Refund)).scalar_one()
        assert (row.provider_id, row.status) == (refund["id"], "succeeded")

    # A second run, and the webhooks arriving after all, change nothing.
    again = run(stripe_app)["stripe"]
    assert (again.applied, again.unsettled) == (0, [])
    with stripe_app.app_context():
        before = len(entries())
    session = fake_stripe.objects[made["paid"][1]]
    for event in (make_event("checkout.session.completed", session),
                  make_event("charge.refunded", fake_stripe.objects[refund["charge"]])):
        body, headers = webhook(event, SECRET)
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status_code == 200 and response.json["status"] == "unchanged"
    with stripe_app.app_context():
        assert len(entries()) == before


def test_lists_are_read_page_by_page(stripe_app, fake_stripe):
    for n in range(105):
        fake_stripe.create_checkout_session({
            "mode": "payment", "success_url": "http://localhost/ok", "metadata": {"n": str(n)},
            "line_items": [{"quantity": "1", "price_data": {"currency": "idr", "unit_amount": "100000",
                                                             "product_data": {"name": "x"}}}]})
    with stripe_app.test_request_context():
        since = now_utc() - dt.timedelta(minutes=5)
        sessions = list(get_gateway().checkouts_since(since))
        assert len(sessions) == 105 and len({s["id"] for s in sessions}) == 105
        assert list(get_gateway().checkouts_since(now_utc() + dt.timedelta(minutes=5))) == []
    pages = fake_stripe.calls("GET", "/v1/checkout/sessions")
    # Two pages (100 + 5), then one for the empty window.
    assert len([p for p in pages if p["path"] == "/v1/checkout/sessions"]) == 3


def test_refunds_and_disputes_are_read_page_by_page(stripe_app, fake_stripe):
    with stripe_app.app_context():
        _, checkout_id = pending(stripe_app, make_campaign(), amount=50_000_000)
    intent = fake_stripe.complete(checkout_id)["payment_intent"]
    made = [fake_stripe.create_refund({"payment_intent": intent, "amount": "100000"})["id"]
            for _ in range(101)]
    disputed = [fake_stripe.dispute(intent, status="warning_needs_response")["id"] for _ in range(101)]
    with stripe_app.test_request_context():
        since = now_utc() - dt.timedelta(minutes=5)
        assert sorted(r["id"] for r in get_gateway().refunds_since(since)) == sorted(made)
        assert sorted(d["id"] for d in get_gateway().disputes_since(since)) == sorted(disputed)
    for path in ("/v1/refunds", "/v1/disputes"):
        pages = [c for c in fake_stripe.calls("GET", path) if c["path"] == path]
        assert len(pages) == 2, path  # 100, then 1


def test_one_run_books_refunds_beyond_the_first_page(stripe_app, fake_stripe):
    """Refunds made in Stripe's dashboard, every webhook lost: the second page is booked too."""
    with stripe_app.app_context():
        donation_id, checkout_id = pending(stripe_app, make_campaign(), amount=50_000_000)
    intent = fake_stripe.complete(checkout_id)["payment_intent"]
    for _ in range(102):
        fake_stripe.create_refund({"payment_intent": intent, "amount": "100000"})
    stripe_run = run(stripe_app)["stripe"]
    assert stripe_run.unsettled == [] and stripe_run.applied == 1 + 102
    with stripe_app.app_context():
        assert amounts("refund") == [-100_000] * 102
        assert db.session.get(Donation, donation_id).refunded == 102 * 100_000
    assert run(stripe_app)["stripe"].applied == 0


def test_what_cannot_be_settled_is_reported_recorded_once_and_fails_the_command(stripe_app,
                                                                                fake_stripe):
    with stripe_app.app_context():
        donation_id, checkout_id = pending(stripe_app, make_campaign())
    fake_stripe.complete(checkout_id)
    # Someone else's payment on the same account, claiming our donation, then refunded.
    foreign = fake_stripe.create_checkout_session({
        "mode": "payment", "success_url": "http://localhost/ok",
        "metadata": {"donation_id": str(donation_id)},
        "payment_intent_data": {"metadata": {"donation_id": str(donation_id)}},
        "line_items": [{"quantity": "1", "price_data": {"currency": "idr", "unit_amount": "100000000",
                                                         "product_data": {"name": "x"}}}]})
    foreign_intent = fake_stripe.complete(foreign["id"])["payment_intent"]
    foreign_refund = fake_stripe.create_refund({"payment_intent": foreign_intent,
                                                "metadata": {"donation_id": str(donation_id)}})

    result = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile", "--since", "1d"])

    assert result.exit_code == 1
    assert f"UNSETTLED {foreign['id']}" in result.output
    assert f"UNSETTLED {foreign_refund['id']}" in result.output
    with stripe_app.app_context():
        assert status_of(donation_id) == "paid"
        assert amounts("donation") == [5_000_000] and entries("refund") == []
        (anomaly,) = db.session.execute(sa.select(PaymentAnomaly)).scalars()
        assert (anomaly.kind, anomaly.provider_object, anomaly.donation_id) == (
            "foreign_payment", foreign_refund["id"], donation_id)
    again = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile", "--since", "1d"])
    assert again.exit_code == 1
    with stripe_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentAnomaly)) == 1
        assert amounts("donation") == [5_000_000]


def test_a_refund_whose_answer_was_lost_is_booked_from_the_provider(stripe_app, fake_stripe):
    with stripe_app.app_context():
        campaign = make_campaign()
        treasurer = db.session.get(User, campaign.treasurer_id)
        donation_id, checkout_id = pending(stripe_app, campaign)
    fake_stripe.complete(checkout_id)
    run(stripe_app)
    fake_stripe.lose_answers = 10
    with stripe_app.test_request_context(), pytest.raises(giving.RefundOutcomeUnknown):
        giving.request_refund(db.session.get(Donation, donation_id), treasurer, 2_000_000, "Salah")
    fake_stripe.lose_answers = 0
    with stripe_app.app_context():
        (row,) = db.session.execute(sa.select(Refund)).scalars()
        assert (row.status, row.provider_id) == ("requested", None)
    # Stripe's listing shows the refund it made under our reservation's name: booked.
    runs = run(stripe_app)
    assert runs["stripe"].applied == 1 and runs["stripe"].unsettled == []
    with stripe_app.app_context():
        row = db.session.execute(sa.select(Refund)).scalar_one()
        assert row.status == "succeeded" and row.provider_id.startswith("re_test_")
        assert amounts("refund") == [-2_000_000]


# ---- reservations the provider never made ----

def test_a_reservation_the_provider_never_made_is_released_after_the_grace(app, monkeypatch):
    with app.app_context():
        campaign = make_campaign()
        treasurer = db.session.get(User, campaign.treasurer_id)
        donation_id, checkout_id = pending(app, campaign)
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()
        giving.handle_event(event)

    def lost_before_reaching(*args, **kwargs):
        raise GatewayError("sandbox: connection reset", outcome_unknown=True)
    monkeypatch.setattr(SandboxGateway, "create_refund", lost_before_reaching)
    with app.test_request_context(), pytest.raises(giving.RefundOutcomeUnknown):
        giving.request_refund(db.session.get(Donation, donation_id), treasurer, 1_000_000, "Salah")
    monkeypatch.undo()
    assert run(app)["sandbox"].applied == 0  # still within the grace: it may be in flight
    with app.app_context():
        assert db.session.execute(sa.select(Refund.status)).scalar_one() == "requested"
        db.session.execute(sa.update(Refund).values(created_at=now_utc() - dt.timedelta(hours=1)))
        db.session.commit()
    sandbox_run = run(app)["sandbox"]
    assert (sandbox_run.applied, sandbox_run.unsettled) == (1, [])
    with app.app_context():
        assert db.session.execute(sa.select(Refund.status)).scalar_one() == "failed"
        assert entries("refund") == []


# ---- the sandbox cannot lose a confirmation ----

def _paid_but_unconfirmed(app) -> tuple[int, str]:
    """The sandbox committed "paid", then the worker died before confirming it."""
    with app.app_context():
        donation_id, checkout_id = pending(app, make_campaign())
    with app.test_request_context():
        get_gateway().pay(checkout_id)
        db.session.commit()
    return donation_id, checkout_id


def test_a_lost_sandbox_confirmation_is_redelivered_by_reconciliation(app):
    donation_id, _ = _paid_but_unconfirmed(app)
    with app.test_request_context():
        (event,) = gateway_named("sandbox").undelivered_events()
        assert event["type"] == "checkout.session.completed"
        assert status_of(donation_id) == "pending"
    first = run(app)["sandbox"]
    assert (first.applied, first.unsettled) == (1, [])
    with app.test_request_context():
        assert status_of(donation_id) == "paid" and len(entries("donation")) == 1
        assert gateway_named("sandbox").undelivered_events() == []
    assert run(app)["sandbox"].applied == 0


def test_one_run_brings_the_ledger_to_what_the_sandbox_did_with_every_event_lost(app):
    """The sandbox's payments, failures, refunds and disputes, none of their events delivered."""
    with app.app_context():
        campaign = make_campaign()
        made = {name: pending(app, campaign, amount=amount) for name, amount in (
            ("paid", 5_000_000), ("refunded", 7_000_000), ("failed", 3_000_000),
            ("lost_dispute", 4_000_000), ("won_dispute", 6_000_000), ("open", 1_000_000))}
    with app.test_request_context():
        sandbox = get_gateway()
        for name in ("paid", "refunded", "lost_dispute", "won_dispute"):
            sandbox.pay(made[name][1])
        sandbox.fail(made["failed"][1])
        db.session.commit()
        intent = {name: sandbox.fetch_checkout(made[name][1])["payment_intent"]["id"]
                  for name in ("refunded", "lost_dispute", "won_dispute")}
        refund = sandbox.create_refund(intent["refunded"], 2_500_000, "dashboard-1", {})
        sandbox.dispute(intent["lost_dispute"])
        sandbox.dispute(intent["won_dispute"], won=True)
        db.session.commit()
        sandbox.take_events()  # handed over, then the worker died: none of them was applied
        assert len(sandbox.undelivered_events()) == 4 + 1 + 1 + 1 + 2

    sandbox_run = run(app)["sandbox"]

    # Nine events; a won dispute's first event books both its entries, its second changes nothing.
    assert sandbox_run.unsettled == [] and sandbox_run.applied == 8
    with app.test_request_context():
        assert {name: status_of(d) for name, (d, _) in made.items()} == {
            "paid": "paid", "refunded": "paid", "failed": "failed", "lost_dispute": "paid",
            "won_dispute": "paid", "open": "pending"}
        assert amounts("donation") == [4_000_000, 5_000_000, 6_000_000, 7_000_000]
        assert amounts("refund") == [-refund["amount"]]
        assert amounts("chargeback") == [-6_000_000, -4_000_000]
        assert amounts("chargeback_reversal") == [6_000_000]
        assert gateway_named("sandbox").undelivered_events() == []
        before = len(entries())
    again = run(app)["sandbox"]
    assert (again.applied, again.unsettled) == (0, [])
    with app.app_context():
        assert len(entries()) == before


def test_a_second_click_on_the_sandbox_page_delivers_the_lost_confirmation(app, client):
    donation_id, checkout_id = _paid_but_unconfirmed(app)
    page = client.get(f"/give/sandbox/{checkout_id}")
    assert page.status_code == 200
    response = client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"})
    assert response.status_code == 303 and response.location == "http://localhost/ok"  # its success page
    with app.app_context():
        assert status_of(donation_id) == "paid" and len(entries("donation")) == 1
    # Nothing left to deliver: a third click is refused as before.
    assert client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"}).status_code == 409


def test_sandbox_events_are_kept_in_the_same_transaction_as_the_payment(app):
    with app.app_context():
        _, checkout_id = pending(app, make_campaign())
    with app.test_request_context():
        get_gateway().pay(checkout_id)
        db.session.rollback()  # the payment never happened: neither did its event
        assert gateway_named("sandbox").undelivered_events() == []
        assert db.session.get(SandboxObject, checkout_id).data["status"] == "open"


# ---- the page and the command line ----

def test_the_page_shows_runs_and_anomalies_to_admins_and_auditors_only(stripe_app, fake_stripe, client):
    with stripe_app.app_context():
        _, checkout_id = pending(stripe_app, make_campaign())
    fake_stripe.complete(checkout_id)
    intent = fake_stripe.objects[checkout_id]["payment_intent"]
    overdrawn = fake_stripe.create_refund({"payment_intent": intent})
    run(stripe_app)
    with stripe_app.app_context():
        # Booked once; a tampered copy claiming more than was received is an anomaly.
        fake_stripe.tamper(overdrawn["id"], id="re_test_tampered", amount=9_000_000)
        fake_stripe.objects["re_test_tampered"] = fake_stripe.objects[overdrawn["id"]]
        people = [make_user(None, Role.ADMIN), make_user(None, Role.AUDITOR), make_user(None, Role.TREASURER)]
    run(stripe_app)
    assert client.get("/payments/reconciliation").status_code in (302, 303)  # anonymous: sign in first
    for n, person in enumerate(people):
        with client.session_transaction() as session:
            session.clear()
        with stripe_app.app_context():
            login(client, db.session.merge(person))
        page = client.get("/payments/reconciliation", headers={"Accept-Language": "en"})
        if n == 2:
            assert page.status_code == 403  # a treasurer refunds, but reviewing providers is not theirs
            continue
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "re_test_tampered" in text and "more than the donation received" in text
        assert "stripe" in text and "sandbox" in text
        # What the last run could not settle is listed with it, as the command printed it.
        runs = text.split('id="runs"')[1].split('id="anomalies"')[0]
        unsettled = runs.split('<ul class="unsettled">')[1].split("</ul>")[0]
        assert ("<code>re_test_tampered</code>: Refund <code>succeeded</code> at the provider, not booked "
                "here (<code>refused 1</code>)." in unsettled)
        # ... and in Indonesian, with the amounts of the anomaly in rupiah as Indonesians write them.
        page = client.get("/payments/reconciliation?lang=id", headers={"Accept-Language": "id"})
        text = page.get_data(as_text=True)
        assert ("<code>re_test_tampered</code>: Pengembalian dana <code>succeeded</code> di penyedia, tidak "
                "dicatat di sini (<code>refused 1</code>)." in text)
        assert ("Rp 90.000 akan menarik kembali lebih dari Rp 50.000 yang diterima (Rp 50.000 sudah ditarik "
                "kembali)." in text)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01", dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)),  # midnight WIB
    ("2026-12-01T08:00:00+07:00", dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)),
])
def test_since_takes_dates_as_wib_and_times_with_their_offset(text, expected):
    assert parse_since(text) == expected


def test_since_takes_durations_and_refuses_the_rest(app):
    assert abs(parse_since("2d") - (now_utc() - dt.timedelta(days=2))) < dt.timedelta(seconds=5)
    for bad in ("yesterday", "2026-13-01", "2026-12-01T08:00:00", "5w"):
        result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--since", bad])
        assert result.exit_code == 2 and "--since" in result.output


def test_a_clean_run_exits_zero(app):
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "sandbox:" in result.output and "0 unsettled" in result.output


def test_a_provider_that_cannot_be_asked_is_unsettled(stripe_app, fake_stripe):
    fake_stripe.stop()
    stripe_app.config["STRIPE_MAX_NETWORK_RETRIES"] = 0
    result = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 1 and "UNSETTLED stripe: the provider could not be asked" in result.output
    with stripe_app.app_context():  # with its facts, for the page (donations.diagnostics)
        (stripe_run,) = db.session.scalars(sa.select(ReconciliationRun)
                                           .where(ReconciliationRun.provider == "stripe"))
        (item,) = stripe_run.unsettled
        assert item["facts"]["code"] == "provider_unreachable" and item["facts"]["detail"]


def test_events_are_applied_through_the_provider_of_the_donation(stripe_app, fake_stripe):
    """A sandbox donation made by `flask demo` where Stripe is configured is refunded by the sandbox."""
    with stripe_app.test_request_context():
        g._payment_gateway = SandboxGateway()  # as flask demo does
        campaign = make_campaign()
        donation = giving.start_donation(campaign, amount=5_000_000, donor_name="Siti",
                                         donor_email="siti@example.test")
        db.session.commit()
        checkout = giving.begin_checkout(donation, "http://localhost/ok", "http://localhost/cancel")
        event = get_gateway().pay(checkout.id)
        db.session.commit()
        giving.handle_event(event)
        donation_id, treasurer_id = donation.id, campaign.treasurer_id
    with stripe_app.test_request_context():
        assert isinstance(get_gateway(), StripeGateway)
        donation = db.session.get(Donation, donation_id)
        assert donation.provider == "sandbox"
        treasurer = db.session.get(User, treasurer_id)
        giving.request_refund(donation, treasurer, 1_000_000, "Salah")
        db.session.commit()
        for gateway, refund_event in in_process_events():
            assert giving.handle_event(refund_event, gateway) == "refunded 1"
    assert fake_stripe.calls("POST", "/v1/refunds") == []
    with stripe_app.app_context():
        assert amounts("refund") == [-1_000_000]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 2
