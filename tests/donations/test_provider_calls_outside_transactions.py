"""No database transaction is open while a payment provider is asked anything (issue 14, item 13).

A transaction held across the network keeps row locks (PostgreSQL) or the one write lock (SQLite,
where every transaction begins with BEGIN IMMEDIATE) for as long as the provider takes to answer:
a webhook waited 3.2 s behind a 4 s Stripe answer. Every HTTP request the `stripe` and
`xendit-python` libraries send is watched here, through every flow that reaches a provider: the
donate form, the provider's webhooks and callbacks, refunds, the payment page and reconciliation.
Runs on both databases.
"""
from __future__ import annotations

import pytest
import stripe
import xendit.rest

from amanah.extensions import db
from donations.models import Donation
from tests.donations.test_giving_stripe import API_KEY as STRIPE_KEY
from tests.donations.test_giving_stripe import SECRET as STRIPE_SECRET
from tests.donations.test_giving_stripe import deliver as deliver_stripe
from tests.donations.test_giving_stripe import login_treasurer
from tests.donations.test_giving_xendit import API_KEY as XENDIT_KEY
from tests.donations.test_giving_xendit import TOKEN as XENDIT_TOKEN
from tests.donations.test_giving_xendit import deliver as deliver_xendit
from tests.factories.fake_stripe import FakeStripe, make_event
from tests.factories.fake_xendit import FakeXendit
from tests.factories.giving import make_campaign

DONATION = {"preset": "custom", "custom_amount": "50.000", "name": "Budi", "email": "budi@example.org",
            "confirmed": "1"}


@pytest.fixture
def watched(monkeypatch) -> list[tuple[str, bool]]:
    """(what was asked, whether a transaction was open then) for every request to a provider."""
    seen: list[tuple[str, bool]] = []
    stripe_request = stripe._http_client.HTTPClient.request_with_retries
    xendit_request = xendit.rest.RESTClientObject.request

    def stripe_watched(self, method, url, *args, **kwargs):
        seen.append((f"stripe {method.upper()} {url.split('/v1/', 1)[-1].split('?')[0]}",
                     db.session().in_transaction()))
        return stripe_request(self, method, url, *args, **kwargs)

    def xendit_watched(self, method, url, *args, **kwargs):
        seen.append((f"xendit {method} {url.split('/', 3)[-1].split('?')[0]}", db.session().in_transaction()))
        return xendit_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(stripe._http_client.HTTPClient, "request_with_retries", stripe_watched)
    monkeypatch.setattr(xendit.rest.RESTClientObject, "request", xendit_watched)
    return seen


@pytest.fixture
def providers(app):
    fake_stripe = FakeStripe(STRIPE_KEY).start()
    fake_xendit = FakeXendit(XENDIT_KEY, XENDIT_TOKEN).start()
    app.config.update(STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
                      STRIPE_API_BASE=fake_stripe.url, STRIPE_MAX_NETWORK_RETRIES=0,
                      XENDIT_SECRET_KEY=XENDIT_KEY, XENDIT_CALLBACK_TOKEN=XENDIT_TOKEN,
                      XENDIT_API_BASE=fake_xendit.url)
    yield fake_stripe, fake_xendit
    fake_xendit.stop()
    fake_stripe.stop()


def _latest_donation():
    from donations.models import Donation
    return db.session.scalars(db.select(Donation).order_by(Donation.id.desc())).first()


def test_no_transaction_is_open_during_any_provider_call(app, client, providers, watched, backend):
    fake_stripe, fake_xendit = providers
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id

    # Stripe: give, pay, the webhook, a refund through the form and its webhook, a dispute.
    assert client.post(f"/campaigns/{public_id}/give", data={**DONATION, "method": "card"}).status_code == 303
    with app.app_context():
        card = _latest_donation()
        card_id, card_checkout = card.id, card.checkout_id
    session = fake_stripe.complete(card_checkout)
    answer = deliver_stripe(client, make_event("checkout.session.completed", session))
    assert answer.json == {"status": "paid"}
    login_treasurer(app, client, public_id)
    refund = client.post(f"/donations/{card_id}/refund", data={"amount": "10.000", "reason": "Salah"})
    assert refund.status_code == 303
    made = fake_stripe.calls("POST", "/v1/refunds")
    assert len(made) == 1
    charge = fake_stripe.objects[fake_stripe.objects[session["payment_intent"]]["latest_charge"]]
    assert deliver_stripe(client, make_event("charge.refunded", charge)).json == {"status": "refunded 1"}
    dispute = fake_stripe.dispute(session["payment_intent"], status="lost")
    fake_stripe.tamper(dispute["id"], amount=charge["amount"] - charge["amount_refunded"])  # what is left
    assert deliver_stripe(client, make_event("charge.dispute.funds_withdrawn", dispute)).json == \
        {"status": "chargeback"}
    # Lost webhooks: a second donation paid at Stripe that only reconciliation hears about.
    assert client.post(f"/campaigns/{public_id}/give", data={**DONATION, "method": "card"}).status_code == 303
    with app.app_context():
        fake_stripe.complete(_latest_donation().checkout_id)

    # Xendit: give by QRIS, the payment page, its callback, a refund and its callback.
    assert client.post(f"/campaigns/{public_id}/give", data={**DONATION, "method": "qris"}).status_code == 303
    with app.app_context():
        qris = _latest_donation()
        qris_id, request_id = qris.id, qris.checkout_id
    assert client.get(f"/give/pay/{request_id}").status_code == 200
    assert deliver_xendit(client, fake_xendit, fake_xendit.pay(request_id)).json == {"status": "paid"}
    assert client.post(f"/donations/{qris_id}/refund", data={"amount": "10.000", "reason": "Salah"}
                       ).status_code == 303
    (refund_id,) = fake_xendit.refunds
    assert deliver_xendit(client, fake_xendit, fake_xendit.settle_refund(refund_id, "SUCCEEDED")).json == \
        {"status": "refunded 1"}

    # A virtual account paid short is held; the treasurer books it at what was paid, the provider
    # asked again (its payment request, its refunds) before the donation's row is locked.
    given = client.post(f"/campaigns/{public_id}/give", data={**DONATION, "method": "va_bca"})
    assert given.status_code == 303
    with app.app_context():
        va = _latest_donation()
        va_id, va_request = va.id, va.checkout_id
    assert deliver_xendit(client, fake_xendit, fake_xendit.pay(va_request, amount=40_000)).json == \
        {"status": "flagged"}
    assert client.post(f"/treasury/donations/{va_id}/book-held").status_code == 303
    with app.app_context():
        booked = db.session.get(Donation, va_id)
        assert (booked.status, booked.total) == ("paid", 4_000_000)

    # Reconciliation asks both providers everything, with every remaining webhook lost.
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output

    asked = {what for what, _ in watched}
    for what in ("stripe POST checkout/sessions", "stripe GET checkout/sessions/", "stripe POST refunds",
                 "stripe GET refunds", "stripe GET disputes", "xendit POST", "xendit GET"):
        assert any(a.startswith(what) for a in asked), (what, sorted(asked))
    held = [(n, what) for n, (what, open_) in enumerate(watched) if open_]
    assert held == [], f"{held} of {watched}"
