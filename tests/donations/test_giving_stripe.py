"""Giving through Stripe: the real `stripe` library against the local fake of Stripe's API.

Webhooks are built and signed as Stripe does; the app must re-fetch what it acts on from the fake.
"""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns.models import Campaign
from donations.gateway import CheckoutRequest, GatewayError
from donations.models import Donation, PaymentEvent, Refund
from donations.providers import get_gateway
from ledger.models import CampaignTotal
from tests.factories import login, make_user
from tests.factories.fake_stripe import FakeStripe, make_event, webhook
from tests.factories.giving import entries, make_campaign

API_KEY = "sk_test_amanah_51H"
SECRET = "whsec_amanah_current"


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


def donate(client, public_id: str, amount: str = "50.000", **extra):
    form = {"preset": "custom", "custom_amount": amount, "name": "Budi", "email": "budi@example.org",
            "message": "Semoga bermanfaat", "confirmed": "1", **extra}
    return client.post(f"/campaigns/{public_id}/give", data=form)


def deliver(client, event: dict, secrets_=SECRET, timestamp: int | None = None):
    body, headers = webhook(event, secrets_, timestamp)
    content_type = headers.pop("Content-Type")
    return client.post("/webhooks/stripe", data=body, headers=headers, content_type=content_type)


def start(stripe_app, client, amount: str = "50.000", **extra) -> tuple[int, str, str]:
    """(donation id, checkout session id, campaign public id) of a donation made through the form."""
    with stripe_app.app_context():
        public_id = make_campaign().public_id
    response = donate(client, public_id, amount, **extra)
    assert response.status_code == 303, response.data
    with stripe_app.app_context():
        donation = db.session.execute(sa.select(Donation).order_by(Donation.id.desc())).scalars().first()
        return donation.id, donation.checkout_id, public_id


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_donate_form_creates_a_checkout_session_and_redirects(stripe_app, client, fake_stripe):
    donation_id, checkout_id, public_id = start(stripe_app, client, cover_fee="y")
    session = fake_stripe.objects[checkout_id]
    with stripe_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert (donation.status, donation.provider) == ("pending", "stripe")
        assert donation.total == donation.amount + donation.fee_covered > 5_000_000
        assert session["amount_total"] == donation.total and session["currency"] == "idr"
        secret_prefix = donation.donor_secret[:16]
    assert (session["mode"], session["submit_type"]) == ("payment", "donate")
    (item,) = session["line_items_data"]
    assert item["quantity"] == "1" and item["price_data"]["currency"] == "idr"
    assert item["price_data"]["unit_amount"] == str(session["amount_total"])
    assert item["price_data"]["product_data"]["name"] == "Air bersih untuk desa"
    assert session["metadata"] == {"donation_id": str(donation_id)}
    assert session["payment_intent_data"]["metadata"] == {"donation_id": str(donation_id)}
    assert session["client_reference_id"] == str(donation_id)
    assert session["customer_email"] == "budi@example.org"
    assert "/donations/view/" in session["success_url"]
    assert session["cancel_url"].endswith(f"/campaigns/{public_id}/give?cancelled=1")
    assert 59 * 60 <= session["expires_at"] - time.time() <= 61 * 60
    (create,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert create["idempotency_key"] == f"amanah-checkout-{donation_id}-{secret_prefix}"
    # the redirect goes to Stripe's hosted page for that session, nothing else
    response_location = f"https://checkout.stripe.com/c/pay/{checkout_id}"
    assert session["url"] == response_location


def test_checkout_idempotency_key_replays_and_refuses_other_params(stripe_app, fake_stripe):
    request = CheckoutRequest(
        donation_id=7, amount=5_000_000, currency="IDR", product_name="Air", customer_email="a@example.org",
        success_url="http://localhost/ok", cancel_url="http://localhost/cancel",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), idempotency_key="amanah-checkout-7-x",
        locale="id")
    with stripe_app.test_request_context():
        first = get_gateway().create_checkout(request)
        again = get_gateway().create_checkout(request)
        assert again == first
        assert sum(1 for o in fake_stripe.objects.values() if o["object"] == "checkout.session") == 1
        with pytest.raises(GatewayError):
            get_gateway().create_checkout(dt_replace(request, amount=6_000_000))


def dt_replace(request, **changes):
    import dataclasses
    return dataclasses.replace(request, **changes)


def test_wrong_api_key_fails_the_donation_with_a_clear_message(stripe_app, client, fake_stripe):
    stripe_app.config["STRIPE_SECRET_KEY"] = "sk_test_wrong"
    with stripe_app.app_context():
        public_id = make_campaign().public_id
    response = donate(client, public_id)
    assert response.status_code == 502
    assert b"could not be reached" in response.data or b"tidak dapat dihubungi" in response.data
    with stripe_app.app_context():
        assert [d.status for d in db.session.execute(sa.select(Donation)).scalars()] == ["failed"]
    assert fake_stripe.objects == {}


def test_completed_webhook_refetches_and_records_donation_and_fee(stripe_app, client, fake_stripe):
    donation_id, checkout_id, public_id = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    # The event's own copy is not trusted: it claims another amount, Stripe's object is what counts.
    event = make_event("checkout.session.completed", {**session, "amount_total": 1})
    response = deliver(client, event)
    assert response.status_code == 200 and response.json == {"status": "paid"}
    (fetch,) = fake_stripe.calls("GET", "/v1/checkout/sessions/")
    assert fetch["path"] == f"/v1/checkout/sessions/{checkout_id}"
    intent = fake_stripe.objects[session["payment_intent"]]
    charge = fake_stripe.objects[intent["latest_charge"]]
    fee = fake_stripe.objects[charge["balance_transaction"]]["fee"]
    with stripe_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.status == "paid" and donation.payment_intent == intent["id"]
        assert (donation.charge_id, donation.processor_fee) == (charge["id"], fee)
        donation_entry, fee_entry = entries()
        assert (donation_entry.kind, donation_entry.amount, donation_entry.payment) == (
            "donation", 5_000_000, intent["id"])
        assert (fee_entry.kind, fee_entry.amount, fee_entry.ref) == ("fee", -fee, donation_entry.seq)
        total = db.session.get(CampaignTotal, public_id)
        assert (total.raised, total.fees, total.donation_count) == (5_000_000, fee, 1)
    # Stripe redelivers: acknowledged, nothing written again
    assert deliver(client, event).json == {"status": "duplicate"}
    with stripe_app.app_context():
        assert len(entries()) == 2 and count(PaymentEvent) == 1


def test_expand_is_one_request_with_the_whole_chain(stripe_app, fake_stripe, client):
    _, checkout_id, _ = start(stripe_app, client)
    fake_stripe.complete(checkout_id)
    with stripe_app.test_request_context():
        session = get_gateway().fetch_checkout(checkout_id)
    txn = session["payment_intent"]["latest_charge"]["balance_transaction"]
    assert txn["object"] == "balance_transaction"
    assert len(fake_stripe.calls("GET")) == 1


@pytest.mark.parametrize("field, value", [("amount_total", 4_000_000), ("currency", "usd")])
def test_amount_or_currency_mismatch_is_flagged_not_paid(stripe_app, client, fake_stripe, field, value):
    donation_id, checkout_id, _ = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    fake_stripe.tamper(checkout_id, **{field: value})
    assert deliver(client, make_event("checkout.session.completed", session)).json == {"status": "flagged"}
    with stripe_app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.status == "flagged" and str(value).upper() in donation.flag_reason.upper()
        assert entries() == []


def test_async_payment_succeeds_later(stripe_app, client, fake_stripe):
    donation_id, checkout_id, _ = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id, pending=True)
    assert deliver(client, make_event("checkout.session.completed", session)).json == {"status": "unchanged"}
    with stripe_app.app_context():
        assert db.session.get(Donation, donation_id).status == "pending" and entries() == []
    session = fake_stripe.settle_async(checkout_id, succeeded=True)
    event = make_event("checkout.session.async_payment_succeeded", session)
    assert deliver(client, event).json == {"status": "paid"}
    with stripe_app.app_context():
        assert db.session.get(Donation, donation_id).status == "paid"
        assert [e.kind for e in entries()] == ["donation", "fee"]


def test_async_payment_fails(stripe_app, client, fake_stripe):
    donation_id, checkout_id, _ = start(stripe_app, client)
    fake_stripe.complete(checkout_id, pending=True)
    session = fake_stripe.settle_async(checkout_id, succeeded=False)
    assert deliver(client, make_event("checkout.session.async_payment_failed", session)).json == {
        "status": "failed"}
    with stripe_app.app_context():
        assert db.session.get(Donation, donation_id).status == "failed" and entries() == []


def test_expired_session_expires_the_donation(stripe_app, client, fake_stripe):
    donation_id, checkout_id, _ = start(stripe_app, client)
    session = fake_stripe.expire(checkout_id)
    assert deliver(client, make_event("checkout.session.expired", session)).json == {"status": "expired"}
    with stripe_app.app_context():
        assert db.session.get(Donation, donation_id).status == "expired" and entries() == []


def _paid(stripe_app, client, fake_stripe) -> tuple[int, str, str]:
    donation_id, checkout_id, public_id = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    assert deliver(client, make_event("checkout.session.completed", session)).json == {"status": "paid"}
    return donation_id, session["payment_intent"], public_id


def login_treasurer(app, client, public_id: str) -> None:
    with app.app_context():
        campaign = db.session.execute(sa.select(Campaign).where(Campaign.public_id == public_id)).scalar_one()
        treasurer = make_user(None, "treasurer")
        campaign.treasurer_id = treasurer.id
        db.session.commit()
        login(client, treasurer)


def test_ui_refunds_call_stripe_and_wait_for_the_webhook(stripe_app, client, fake_stripe):
    donation_id, intent_id, public_id = _paid(stripe_app, client, fake_stripe)
    login_treasurer(stripe_app, client, public_id)
    response = client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "Salah"})
    assert response.status_code == 303
    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    (refund_obj,) = [o for o in fake_stripe.objects.values() if o["object"] == "refund"]
    assert (refund_obj["amount"], refund_obj["payment_intent"]) == (2_000_000, intent_id)
    with stripe_app.app_context():
        (row,) = db.session.execute(sa.select(Refund)).scalars()
        assert (row.status, row.provider_id) == ("requested", refund_obj["id"])
        # the key names the reservation made before Stripe was asked, so a retry reuses it
        assert call["idempotency_key"] == f"amanah-refund-{row.id}"
        assert refund_obj["metadata"] == {"donation_id": str(donation_id), "amanah_refund": str(row.id)}
        assert entries("refund") == []  # not before Stripe confirms it
    charge = fake_stripe.objects[refund_obj["charge"]]
    assert deliver(client, make_event("charge.refunded", charge)).json == {"status": "refunded 1"}
    with stripe_app.app_context():
        assert [e.amount for e in entries("refund")] == [-2_000_000]
    # a second, partial refund confirmed by refund.created; its redelivery and an update change nothing
    client.post(f"/donations/{donation_id}/refund", data={"amount": "10.000", "reason": "Kelebihan"})
    second = fake_stripe.calls("POST", "/v1/refunds")[-1]
    assert second["idempotency_key"] != call["idempotency_key"]
    refund2 = [o for o in fake_stripe.objects.values() if o["object"] == "refund"][-1]
    event = make_event("refund.created", refund2)
    assert deliver(client, event).json == {"status": "refunded 1"}
    assert deliver(client, event).json == {"status": "duplicate"}
    assert deliver(client, make_event("refund.updated", refund2)).json == {"status": "unchanged"}
    # more than is left is refused before Stripe is asked
    client.post(f"/donations/{donation_id}/refund", data={"amount": "30.000", "reason": "x"})
    assert len(fake_stripe.calls("POST", "/v1/refunds")) == 2
    with stripe_app.app_context():
        assert [e.amount for e in entries("refund")] == [-2_000_000, -1_000_000]
        total = db.session.get(CampaignTotal, public_id)
        assert (total.raised, total.refunded) == (5_000_000, 3_000_000)
        assert {r.status for r in db.session.execute(sa.select(Refund)).scalars()} == {"succeeded"}


def test_pending_refund_then_failed_writes_nothing(stripe_app, client, fake_stripe):
    donation_id, _, public_id = _paid(stripe_app, client, fake_stripe)
    fake_stripe.refund_status = "pending"
    login_treasurer(stripe_app, client, public_id)
    client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "Salah"})
    refund = [o for o in fake_stripe.objects.values() if o["object"] == "refund"][-1]
    assert deliver(client, make_event("refund.created", refund)).json == {"status": "unchanged"}
    failed = fake_stripe.set_status(refund["id"], "failed")
    assert deliver(client, make_event("refund.failed", failed)).json == {"status": "unchanged"}
    with stripe_app.app_context():
        assert entries("refund") == []
        assert db.session.execute(sa.select(Refund.status)).scalar_one() == "failed"


def test_a_refund_that_fails_after_succeeding_is_reversed_once(stripe_app, client, fake_stripe):
    donation_id, _, public_id = _paid(stripe_app, client, fake_stripe)
    login_treasurer(stripe_app, client, public_id)
    client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "Salah"})
    refund = [o for o in fake_stripe.objects.values() if o["object"] == "refund"][-1]
    assert deliver(client, make_event("refund.created", refund)).json == {"status": "refunded 1"}
    failed = fake_stripe.set_status(refund["id"], "failed")
    event = make_event("refund.failed", failed)
    assert deliver(client, event).json == {"status": "reversed 1"}
    assert deliver(client, event).json == {"status": "duplicate"}
    assert deliver(client, make_event("refund.updated", failed)).json == {"status": "unchanged"}
    charge = fake_stripe.objects[refund["charge"]]
    assert deliver(client, make_event("charge.refunded", charge)).json == {"status": "unchanged"}
    with stripe_app.app_context():
        (refund_entry,) = entries("refund")
        (reversal,) = entries("refund_reversal")
        assert (reversal.amount, reversal.ref) == (2_000_000, refund_entry.seq)
        assert reversal.payment == refund["id"]
        row = db.session.execute(sa.select(Refund)).scalar_one()
        assert (row.status, row.reversed_seq) == ("reversed", reversal.seq)
        total = db.session.get(CampaignTotal, public_id)
        assert (total.raised, total.refunded) == (5_000_000, 0)
        assert db.session.get(Donation, donation_id).refunded == 0
    # more than the 30.000 left before the reversal can be refunded now, since none of it left
    response = client.post(f"/donations/{donation_id}/refund", data={"amount": "40.000", "reason": "Batal"})
    assert response.status_code == 303
    again = [o for o in fake_stripe.objects.values() if o["object"] == "refund"][-1]
    assert again["amount"] == 4_000_000
    assert deliver(client, make_event("refund.created", again)).json == {"status": "refunded 1"}
    with stripe_app.app_context():
        assert db.session.get(CampaignTotal, public_id).refunded == 4_000_000


def test_dispute_withdrawn_then_reinstated(stripe_app, client, fake_stripe):
    _, intent_id, public_id = _paid(stripe_app, client, fake_stripe)
    dispute = fake_stripe.dispute(intent_id)
    assert deliver(client, make_event("charge.dispute.funds_withdrawn", dispute)).json == {
        "status": "chargeback"}
    with stripe_app.app_context():
        assert db.session.get(CampaignTotal, public_id).chargebacks == 5_000_000
    won = fake_stripe.set_status(dispute["id"], "won")
    reinstated = deliver(client, make_event("charge.dispute.funds_reinstated", won))
    assert reinstated.json == {"status": "reinstated"}
    with stripe_app.app_context():
        assert [e.kind for e in entries()][-2:] == ["chargeback", "chargeback_reversal"]
        assert db.session.get(CampaignTotal, public_id).chargebacks == 0


def test_signature_checks(stripe_app, client, fake_stripe):
    _, checkout_id, _ = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    event = make_event("checkout.session.completed", session)
    assert deliver(client, event, timestamp=int(time.time()) - 301).status_code == 400  # stale
    body, headers = webhook(event, SECRET)
    tampered = body.replace(b'"livemode":false', b'"livemode":true')
    assert client.post("/webhooks/stripe", data=tampered, headers=headers).status_code == 400
    assert deliver(client, event, secrets_="whsec_someone_else").status_code == 400
    with stripe_app.app_context():
        assert count(PaymentEvent) == 0 and entries() == []
    assert fake_stripe.calls("GET") == []  # refused before anything is fetched
    # Stripe signs with both secrets while one is rolled: two v1 values, one of them ours
    assert deliver(client, event, secrets_=["whsec_expiring", SECRET]).json == {"status": "paid"}


def test_configured_secret_rotation_accepts_old_and_new(stripe_app, client, fake_stripe):
    stripe_app.config["STRIPE_WEBHOOK_SECRET"] = f"whsec_new, {SECRET}"
    old = deliver(client, make_event("customer.created", {"id": "cus_1", "object": "customer"}))
    new = deliver(client, make_event("customer.created", {"id": "cus_1", "object": "customer"}),
                  secrets_="whsec_new")
    assert (old.json, new.json) == ({"status": "ignored"}, {"status": "ignored"})
    stranger = deliver(client, make_event("customer.created", {"id": "cus_1"}), secrets_="whsec_x")
    assert stranger.status_code == 400


@pytest.mark.parametrize("mutate", [
    lambda e: {k: v for k, v in e.items() if k != "id"},
    lambda e: {**e, "id": 12},
    lambda e: {**e, "data": {"object": {"object": "checkout.session"}}},
    lambda e: {**e, "data": []},
    lambda e: [e],
])
def test_event_without_id_or_object_is_refused_and_nothing_written(stripe_app, client, fake_stripe, mutate):
    _, checkout_id, _ = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    body = json.dumps(mutate(make_event("checkout.session.completed", session))).encode()
    from tests.factories.fake_stripe import sign
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, SECRET)},
                           content_type="application/json")
    assert response.status_code == 400 and "error" in response.json
    with stripe_app.app_context():
        assert count(PaymentEvent) == 0 and entries() == []
    assert fake_stripe.calls("GET") == []


def test_malformed_json_is_refused(stripe_app, client):
    from tests.factories.fake_stripe import sign
    body = b'{"id": "evt_1", "type": "checkout.session.completed", '
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, SECRET)},
                           content_type="application/json")
    assert response.status_code == 400 and response.json == {"error": "malformed JSON"}
    with stripe_app.app_context():
        assert count(PaymentEvent) == 0


def test_unreachable_stripe_defers_the_event(stripe_app, client, fake_stripe):
    _, checkout_id, _ = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    stripe_app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # discard port: nothing listens
    stripe_app.config["STRIPE_MAX_NETWORK_RETRIES"] = 0
    assert deliver(client, make_event("checkout.session.completed", session)).status_code == 503
    with stripe_app.app_context():
        assert count(PaymentEvent) == 0 and entries() == []


def test_csp_allows_stripe_checkout_only_when_stripe_is_configured(databases, tmp_path):
    from tests.conftest import make_app
    with_stripe = make_app(databases.url, tmp_path / "a", STRIPE_SECRET_KEY=API_KEY)
    without = make_app(databases.url, tmp_path / "b")
    csp = with_stripe.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert "form-action 'self' https://checkout.stripe.com" in csp
    csp = without.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert "form-action 'self'" in csp and "stripe" not in csp
    for app in (with_stripe, without):
        with app.app_context():
            db.engine.dispose()


def test_other_users_cannot_refund_through_stripe(stripe_app, client, fake_stripe):
    donation_id, _, _ = _paid(stripe_app, client, fake_stripe)
    with stripe_app.app_context():
        login(client, make_user(None, "treasurer"))
    response = client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "x"})
    assert response.status_code == 404
    assert fake_stripe.calls("POST", "/v1/refunds") == []


def test_refund_event_before_the_payment_event_confirms_the_payment_first(stripe_app, client, fake_stripe):
    donation_id, checkout_id, public_id = start(stripe_app, client)
    session = fake_stripe.complete(checkout_id)
    refund = fake_stripe.create_refund({"payment_intent": session["payment_intent"], "amount": "1000000"})
    charge = fake_stripe.objects[refund["charge"]]
    assert deliver(client, make_event("charge.refunded", charge)).json == {"status": "refunded 1"}
    # the payment intent was looked up to find the donation, then its session re-fetched
    assert fake_stripe.calls("GET", f"/v1/payment_intents/{session['payment_intent']}")
    assert deliver(client, make_event("checkout.session.completed", session)).json == {"status": "unchanged"}
    with stripe_app.app_context():
        assert db.session.get(Donation, donation_id).status == "paid"
        assert [e.kind for e in entries()] == ["donation", "fee", "refund"]
        assert db.session.get(CampaignTotal, public_id).refunded == 1_000_000


def test_the_fake_is_strict_like_stripe(fake_stripe):
    """The fake refuses what Stripe refuses, so a mistake in the gateway cannot pass the tests."""
    import requests
    import stripe
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url}, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: colour"):
        client.v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": "https://example.org/ok", "colour": "red",
            "line_items": [{"quantity": 1, "price_data": {"currency": "idr", "unit_amount": 100,
                                                           "product_data": {"name": "x"}}}]})
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.refunds.list(params={"expand": ["data.nonsense"]})
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_test_other", base_addresses={"api": fake_stripe.url}).v1.refunds.list()
    headers = {"Authorization": f"Bearer {API_KEY}", "Stripe-Version": "2025-01-27.acacia"}
    as_json = requests.post(f"{fake_stripe.url}/v1/refunds", json={"charge": "ch_1"}, headers=headers,
                            timeout=5)
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()["error"]["message"]
    with pytest.raises(stripe.InvalidRequestError, match=r"No such checkout\.session"):
        client.v1.checkout.sessions.retrieve("cs_test_missing")


# ---- a provider object belongs to a donation only by the payment it was paid with ----

def _pay_elsewhere(fake_stripe, amount: int, metadata: dict) -> dict:
    """A payment made on the same Stripe account outside Amanah (another integration, the
    dashboard), whose metadata says whatever its maker wrote."""
    import stripe
    other = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url})
    session = other.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://elsewhere.example/ok",
        "line_items": [{"quantity": 1, "price_data": {"currency": "idr", "unit_amount": amount,
                                                      "product_data": {"name": "Other"}}}],
        "payment_intent_data": {"metadata": metadata}})
    return fake_stripe.complete(session.id)


def _anomalies():
    from donations.models import PaymentAnomaly
    return [(a.kind, a.donation_id, a.amount) for a in
            db.session.execute(sa.select(PaymentAnomaly).order_by(PaymentAnomaly.id)).scalars()]


def test_a_refund_of_someone_elses_payment_naming_our_donation_is_not_booked(stripe_app, client,
                                                                             fake_stripe):
    import stripe
    donation_id, intent_id, public_id = _paid(stripe_app, client, fake_stripe)
    foreign = _pay_elsewhere(fake_stripe, 100_000_000, {"donation_id": str(donation_id)})
    other = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url})
    refund = other.v1.refunds.create(params={"payment_intent": foreign["payment_intent"]})
    charge = fake_stripe.objects[refund.charge]
    event = make_event("charge.refunded", charge)
    response = deliver(client, event)
    assert response.status_code == 200 and response.json == {"status": "not ours"}
    assert deliver(client, make_event("refund.created", fake_stripe.objects[refund.id])).json == {
        "status": "not ours"}
    dispute = fake_stripe.dispute(foreign["payment_intent"])
    assert deliver(client, make_event("charge.dispute.funds_withdrawn", dispute)).json == {
        "status": "not ours"}
    assert deliver(client, event).json == {"status": "duplicate"}
    with stripe_app.app_context():
        assert entries("refund") == [] and entries("chargeback") == []
        total = db.session.get(CampaignTotal, public_id)
        assert (total.raised, total.refunded, total.chargebacks) == (5_000_000, 0, 0)
        assert db.session.get(Donation, donation_id).payment_intent == intent_id
        # recorded once per provider object, for admins and auditors, with no ledger entry
        assert _anomalies() == [("foreign_payment", donation_id, None)] * 3


def test_events_about_payments_that_are_not_ours_are_acknowledged_not_retried(stripe_app, client,
                                                                             fake_stripe, caplog):
    import logging

    import stripe
    foreign = _pay_elsewhere(fake_stripe, 2_500_000, {})  # `stripe trigger charge.refunded`
    other = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url})
    refund = other.v1.refunds.create(params={"payment_intent": foreign["payment_intent"]})
    event = make_event("charge.refunded", fake_stripe.objects[refund.charge])
    with caplog.at_level(logging.INFO, logger="donations.giving"):
        response = deliver(client, event)
        assert response.status_code == 200 and response.json == {"status": "not ours"}
        assert deliver(client, event).json == {"status": "duplicate"}  # Stripe delivering it again
    with stripe_app.app_context():
        assert _anomalies() == [] and count(PaymentEvent) == 1
    logged = [r for r in caplog.records if r.getMessage().startswith("not one of our payments")]
    assert len(logged) == 1 and refund.charge in logged[0].getMessage()


@pytest.mark.parametrize(("fields", "kind"), [({"amount": 5_000_100}, "overdrawn"),
                                              ({"currency": "usd"}, "currency")])
def test_a_refund_the_donation_cannot_carry_is_an_anomaly_not_an_entry(stripe_app, client, fake_stripe,
                                                                       fields, kind):
    donation_id, _, public_id = _paid(stripe_app, client, fake_stripe)
    login_treasurer(stripe_app, client, public_id)
    client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "Salah"})
    refund = [o for o in fake_stripe.objects.values() if o["object"] == "refund"][-1]
    fake_stripe.tamper(refund["id"], **fields)
    response = deliver(client, make_event("refund.created", fake_stripe.objects[refund["id"]]))
    assert response.status_code == 200 and response.json == {"status": "refused 1"}
    with stripe_app.app_context():
        assert entries("refund") == []
        assert db.session.get(CampaignTotal, public_id).refunded == 0
        assert [(k, d) for k, d, _ in _anomalies()] == [(kind, donation_id)]


def test_refunds_and_chargebacks_together_never_exceed_what_was_received(stripe_app, client, fake_stripe):
    donation_id, intent_id, public_id = _paid(stripe_app, client, fake_stripe)
    login_treasurer(stripe_app, client, public_id)
    client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "Salah"})
    refund = [o for o in fake_stripe.objects.values() if o["object"] == "refund"][-1]
    assert deliver(client, make_event("refund.created", refund)).json == {"status": "refunded 1"}
    dispute = fake_stripe.dispute(intent_id)  # the whole 50.000, although 20.000 came back already
    assert deliver(client, make_event("charge.dispute.funds_withdrawn", dispute)).json == {
        "status": "refused"}
    with stripe_app.app_context():
        total = db.session.get(CampaignTotal, public_id)
        assert (total.refunded, total.chargebacks) == (2_000_000, 0)
        assert [(k, d, a) for k, d, a in _anomalies()] == [("overdrawn", donation_id, 5_000_000)]


# ---- a provider call whose outcome is unknown leaves the refund pending, never failed ----

def _refund_rows():
    return [(r.status, r.provider_id is not None, r.ledger_seq is not None)
            for r in db.session.execute(sa.select(Refund).order_by(Refund.id)).scalars()]


def test_a_lost_answer_leaves_the_refund_pending_until_the_webhook_books_it(stripe_app, client,
                                                                            fake_stripe):
    donation_id, _, public_id = _paid(stripe_app, client, fake_stripe)
    login_treasurer(stripe_app, client, public_id)
    fake_stripe.lose_answers = 10  # the first try and each of the library's retries
    response = client.post(f"/donations/{donation_id}/refund", data={"amount": "20,000", "reason": "Salah"},
                           headers={"Accept-Language": "en"})
    fake_stripe.lose_answers = 0
    assert response.status_code == 303
    page = client.get(response.location, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "did not answer clearly" in page
    (refund,) = [o for o in fake_stripe.objects.values() if o["object"] == "refund"]  # made, all the same
    with stripe_app.app_context():
        assert _refund_rows() == [("requested", False, False)]  # still set aside, not failed
    assert deliver(client, make_event("charge.refunded", fake_stripe.objects[refund["charge"]])).json == {
        "status": "refunded 1"}
    with stripe_app.app_context():
        assert _refund_rows() == [("succeeded", True, True)]
        assert [e.amount for e in entries("refund")] == [-2_000_000]


def test_an_answer_lost_after_the_webhook_booked_the_refund_changes_nothing(stripe_app, client,
                                                                            fake_stripe, monkeypatch):
    from donations import giving
    from donations.stripe_gateway import StripeGateway
    donation_id, _, _ = _paid(stripe_app, client, fake_stripe)
    create = StripeGateway.create_refund

    def webhook_first_then_lost_answer(self, *args, **kwargs):
        refund = create(self, *args, **kwargs)
        assert giving.handle_event(make_event("refund.created", refund)) == "refunded 1"
        raise GatewayError("Stripe: APIError", outcome_unknown=True)

    monkeypatch.setattr(StripeGateway, "create_refund", webhook_first_then_lost_answer)
    with stripe_app.test_request_context():
        donation = db.session.get(Donation, donation_id)
        with pytest.raises(giving.RefundOutcomeUnknown):
            giving.request_refund(donation, make_user(), 2_000_000, "Salah")
        db.session.rollback()
        assert _refund_rows() == [("succeeded", True, True)]


def test_a_refund_given_up_as_failed_is_booked_when_the_provider_says_it_was_made(stripe_app, client,
                                                                                  fake_stripe,
                                                                                  monkeypatch):
    from donations import giving
    from donations.stripe_gateway import StripeGateway
    donation_id, _, public_id = _paid(stripe_app, client, fake_stripe)
    create, made = StripeGateway.create_refund, []

    def made_but_reported_refused(self, *args, **kwargs):
        made.append(create(self, *args, **kwargs))
        raise GatewayError("Stripe: card_error")  # a definite "no" that turns out wrong

    monkeypatch.setattr(StripeGateway, "create_refund", made_but_reported_refused)
    with stripe_app.test_request_context():
        with pytest.raises(GatewayError):
            giving.request_refund(db.session.get(Donation, donation_id), make_user(), 2_000_000, "Salah")
        db.session.rollback()
        assert _refund_rows() == [("failed", False, False)]
    assert deliver(client, make_event("refund.updated", made[0])).json == {"status": "refunded 1"}
    with stripe_app.app_context():
        assert _refund_rows() == [("succeeded", True, True)]
        assert db.session.get(CampaignTotal, public_id).refunded == 2_000_000


def test_no_transaction_is_open_while_the_provider_is_asked_for_a_refund(stripe_app, client, fake_stripe,
                                                                          monkeypatch):
    from donations import giving
    from donations.stripe_gateway import StripeGateway
    donation_id, _, _ = _paid(stripe_app, client, fake_stripe)
    create, seen = StripeGateway.create_refund, []

    def watched(self, *args, **kwargs):
        seen.append(db.session().in_transaction())
        return create(self, *args, **kwargs)

    monkeypatch.setattr(StripeGateway, "create_refund", watched)
    with stripe_app.test_request_context():
        giving.request_refund(db.session.get(Donation, donation_id), make_user(), 2_000_000, "Salah")
        db.session.commit()
    assert seen == [False]


@pytest.mark.parametrize(("error", "unknown"), [
    ("APIConnectionError", True), ("APIError", True), ("IdempotencyError", True),
    ("InvalidRequestError", False), ("CardError", False), ("RateLimitError", False)])
def test_which_stripe_errors_leave_the_outcome_unknown(error, unknown):
    import stripe

    from donations.stripe_gateway import _stripe_outcome_unknown
    status = {"APIError": 500, "IdempotencyError": 409, "RateLimitError": 429}.get(error, 400)
    cls = getattr(stripe, error)
    if error in ("CardError", "InvalidRequestError"):
        exc = cls("boom", None, *([None] if error == "CardError" else []), http_status=status)
    else:
        exc = cls("boom", http_status=None if error == "APIConnectionError" else status)
    assert _stripe_outcome_unknown(exc) is unknown
