"""Giving through the sandbox provider: the same confirmation service Stripe's webhooks use."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah.db import now_utc
from amanah.extensions import db
from campaigns.models import Campaign
from donations import fees, giving
from donations.models import Dispute, Donation, PaymentEvent, Refund
from donations.providers import get_gateway
from ledger.entry import donor_commitment
from ledger.models import CampaignTotal
from tests.factories import make_user
from tests.factories.giving import entries, make_campaign, pending

WEBHOOK_SECRET = "whsec_test_secret"








def sign(payload: bytes, secrets_: list[str], timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"]
    for secret in secrets_:
        mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        parts.append(f"v1={mac}")
    return ",".join(parts)


def test_fee_estimate_covers_the_fee_in_whole_rupiah(app):
    with app.app_context():
        fee = fees.fee_to_cover(5_000_000, "IDR")
        total = 5_000_000 + fee
        assert fee % 100 == 0
        # what the processor keeps (3.4% + Rp 2.000) leaves at least the gift
        assert total - (-(-total * 340 // 10_000) + 200_000) >= 5_000_000


def test_sandbox_pay_confirms_once_with_donation_and_fee_entries(app, client):
    with app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(app, campaign, cover_fee=True)
    page = client.get(f"/give/sandbox/{checkout_id}")
    assert page.status_code == 200 and b"Sandbox" in page.data
    response = client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"})
    assert response.status_code == 303 and response.location == "http://localhost/ok"
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.status == "paid" and donation.fee_covered > 0
        donation_entry, fee_entry = entries()
        assert donation_entry.kind == "donation" and donation_entry.amount == donation.total
        assert fee_entry.kind == "fee" and fee_entry.amount == -donation.processor_fee < 0
        leaf = json.loads(donation_entry.leaf)
        assert leaf["donor"] == donor_commitment(donation.donor_secret)
        assert b"Siti" not in donation_entry.leaf and b"example" not in donation_entry.leaf
        total = db.session.get(CampaignTotal, campaign.public_id)
        assert (total.raised, total.donation_count) == (donation.total, 1)
    # paying again is refused: the checkout is closed
    assert client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"}).status_code == 409


def test_redelivered_event_changes_nothing(app):
    with app.app_context():
        campaign = make_campaign()
        _, checkout_id = pending(app, campaign)
    with app.test_request_context():
        gateway = get_gateway()
        event = gateway.pay(checkout_id)
        db.session.commit()
        assert giving.handle_event(event) == "paid"
        assert giving.handle_event(event) == "duplicate"
        # a different event about the same payment: one-way status, no second entry
        assert giving.handle_event({**event, "id": "evt_other"}) == "unchanged"
        assert len(entries("donation")) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 2


def test_sandbox_fail_marks_failed_without_entries(app, client):
    with app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(app, campaign)
    response = client.post(f"/give/sandbox/{checkout_id}", data={"choice": "fail"})
    assert response.status_code == 303 and response.location == "http://localhost/cancel"
    with app.app_context():
        assert db.session.get(Donation, donation_id).status == "failed"
        assert entries() == []


def test_amount_mismatch_is_flagged_not_paid(app):
    with app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(app, campaign)
    with app.test_request_context():
        gateway = get_gateway()
        event = gateway.pay(checkout_id)
        db.session.get(Donation, donation_id).total += 100  # our record disagrees with the provider's
        db.session.get(Donation, donation_id).amount += 100
        db.session.commit()
        assert giving.handle_event(event) == "flagged"
        assert db.session.get(Donation, donation_id).status == "flagged"
        assert entries() == []


def test_partial_refunds_and_won_dispute_in_any_order(app):
    with app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(app, campaign)
    with app.test_request_context():
        gateway = get_gateway()
        paid_event = gateway.pay(checkout_id)
        db.session.commit()
        intent = gateway.fetch_checkout(checkout_id)["payment_intent"]["id"]
        gateway.take_events()
        # the refund's event arrives before the payment's: the donation is confirmed first
        gateway.create_refund(intent, 1_000_000, "k1", {})
        db.session.commit()
        (refund_event,) = gateway.take_events()
        assert giving.handle_event(refund_event) == "refunded 1"
        assert giving.handle_event(paid_event) == "unchanged"
        gateway.create_refund(intent, 500_000, "k2", {})
        db.session.commit()
        (second,) = gateway.take_events()
        assert giving.handle_event(second) == "refunded 1"
        assert giving.handle_event({**second, "id": "evt_again"}) == "unchanged"
        donation_seq = db.session.get(Donation, donation_id).ledger_seq
        refunds = entries("refund")
        assert [r.amount for r in refunds] == [-1_000_000, -500_000]
        assert {r.ref for r in refunds} == {donation_seq}
        gateway.dispute(intent, won=True)
        db.session.commit()
        withdrawn, reinstated = gateway.take_events()
        assert giving.handle_event(reinstated) == "reinstated"  # reinstatement first: both recorded
        assert giving.handle_event(withdrawn) == "unchanged"
        assert [e.kind for e in entries()][-2:] == ["chargeback", "chargeback_reversal"]
        total = db.session.get(CampaignTotal, campaign.public_id)
        assert (total.raised, total.refunded, total.chargebacks) == (5_000_000, 1_500_000, 0)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 1


@pytest.fixture
def webhook_app(app):
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    return app


def test_webhook_rejects_bad_signatures_and_writes_nothing(webhook_app, client, caplog):
    body = json.dumps({"id": "evt_1", "type": "checkout.session.completed",
                       "data": {"object": {"id": "cs_x"}}}).encode()
    cases = [
        {},
        {"Stripe-Signature": sign(body, ["whsec_wrong"])},
        {"Stripe-Signature": sign(body, [WEBHOOK_SECRET], int(time.time()) - 301)},
        {"Stripe-Signature": sign(body + b" ", [WEBHOOK_SECRET])},
        {"Stripe-Signature": "garbage"},
    ]
    for headers in cases:
        response = client.post("/webhooks/stripe", data=body, headers=headers,
                               content_type="application/json")
        assert response.status_code == 400, headers
    assert "webhook refused" in caplog.text
    with webhook_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 0


def test_webhook_tampered_body_is_rejected(webhook_app, client):
    body = json.dumps({"id": "evt_1", "type": "x.y", "data": {"object": {}}}).encode()
    header = sign(body, [WEBHOOK_SECRET])
    response = client.post("/webhooks/stripe", data=body.replace(b"x.y", b"x.z"),
                           headers={"Stripe-Signature": header}, content_type="application/json")
    assert response.status_code == 400


def test_webhook_unknown_type_ignored_and_rotated_secrets_accepted(webhook_app, client):
    body = json.dumps({"id": "evt_1", "type": "customer.created", "data": {"object": {}}}).encode()
    header = sign(body, ["whsec_old", WEBHOOK_SECRET])
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header},
                           content_type="application/json")
    assert response.status_code == 200 and response.json == {"status": "ignored"}


def test_a_stripe_webhook_cannot_move_a_sandbox_donation(webhook_app, client):
    """Events go to the provider a donation was made with: a (validly signed) Stripe event naming
    a sandbox checkout is not Stripe's to settle, and without Stripe's key it is deferred, not applied."""
    with webhook_app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(webhook_app, campaign)
    with webhook_app.test_request_context():
        get_gateway().pay(checkout_id)
        db.session.commit()
    body = json.dumps({"id": "evt_paid", "type": "checkout.session.completed",
                       "data": {"object": {"id": checkout_id}}}).encode()
    response = client.post("/webhooks/stripe", data=body, content_type="application/json",
                           headers={"Stripe-Signature": sign(body, [WEBHOOK_SECRET])})
    assert response.status_code == 503 and response.json == {"status": "retry"}
    with webhook_app.app_context():
        assert db.session.get(Donation, donation_id).status == "pending"
        assert entries("donation") == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEvent)) == 0


def test_guest_link_shows_only_a_signed_donation(app, client):
    from donations.dashboard import guest_token
    with app.app_context():
        campaign = make_campaign()
        donation_id, _ = pending(app, campaign)
        token = guest_token(db.session.get(Donation, donation_id))
    assert client.get(f"/donations/view/{token}").status_code == 200
    assert client.get(f"/donations/view/{token}x").status_code == 404
    assert client.get(f"/donations/view/{donation_id}").status_code == 404


def _count_donations() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Donation))


@pytest.mark.parametrize("data, field", [
    ({"preset": "custom", "custom_amount": "", "name": "A", "email": "a@example.org"}, b"custom_amount"),
    ({"preset": "custom", "custom_amount": "abc", "name": "A", "email": "a@example.org"}, b"custom_amount"),
    ({"preset": "custom", "custom_amount": "-5000", "name": "A", "email": "a@example.org"}, b"custom_amount"),
    ({"preset": "custom", "custom_amount": "5.000,50", "name": "A", "email": "a@example.org"},
     b"custom_amount"),
    ({"preset": "custom", "custom_amount": "500", "name": "A", "email": "a@example.org"}, b"custom_amount"),
    ({"preset": "custom", "custom_amount": "99.000.000.000", "name": "A", "email": "a@example.org"},
     b"custom_amount"),
    ({"preset": "123", "name": "A", "email": "a@example.org"}, b"preset"),
    ({"preset": "5000000", "name": "", "email": "a@example.org"}, b"name"),
    ({"preset": "5000000", "name": "A", "email": "not-an-email"}, b"email"),
    ({"preset": "5000000", "name": "A", "email": "a@example.org", "message": "x" * 501}, b"message"),
    ({"preset": "5000000", "name": "A", "email": ""}, b"email"),
    ({"preset": "5000000", "name": "   ", "email": "  "}, b"name"),
    ({"preset": "5000000", "name": "A" * 121, "email": "a@example.org"}, b"name"),
    ({"preset": "5000000", "name": "A", "email": "a" * 250 + "@example.org"}, b"email"),
    ({"preset": "", "name": "A", "email": "a@example.org"}, b"preset"),
    ({"preset": "abc", "name": "A", "email": "a@example.org"}, b"preset"),
    ({"preset": "custom", "custom_amount": "1e6", "name": "A", "email": "a@example.org"}, b"custom_amount"),
    ({"preset": "custom", "custom_amount": "9" * 40, "name": "A", "email": "a@example.org"},
     b"custom_amount"),
    ({"preset": "custom", "custom_amount": "0", "name": "A", "email": "a@example.org"}, b"custom_amount"),
])
def test_bad_donate_input_is_explained_and_leaves_no_row(app, client, data, field):
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id
    response = client.post(f"/campaigns/{public_id}/give", data={**data, "confirmed": "1"},
                           headers={"Accept-Language": "en"})
    assert response.status_code in (200, 422)
    assert b"field-error" in response.data and field in response.data
    with app.app_context():
        assert _count_donations() == 0


def test_guest_donates_through_confirm_step_and_sandbox(app, client):
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id
    form = {"preset": "custom", "custom_amount": "50.000", "name": "Budi", "email": "budi@example.org",
            "cover_fee": "y", "message": "Semoga bermanfaat"}
    confirm = client.post(f"/campaigns/{public_id}/give", data=form)
    assert confirm.status_code == 200 and b'name="confirmed" value="1"' in confirm.data
    with app.app_context():
        assert _count_donations() == 0  # nothing is created before the donor confirms
        fee = fees.fee_to_cover(5_000_000, "IDR")
        from amanah.money import format_money
        assert format_money(5_000_000 + fee, "IDR").encode() in confirm.data
    response = client.post(f"/campaigns/{public_id}/give", data={**form, "confirmed": "1"})
    assert response.status_code == 303 and "/give/sandbox/cs_sbx_" in response.location
    with app.app_context():
        donation = db.session.execute(sa.select(Donation)).scalar_one()
        assert (donation.status, donation.amount, donation.fee_covered) == ("pending", 5_000_000, fee)
    paid = client.post(response.location, data={"choice": "pay"})
    assert paid.status_code == 303 and "/donations/view/" in paid.location
    assert client.get(paid.location).status_code == 200
    with app.app_context():
        assert db.session.execute(sa.select(Donation)).scalar_one().status == "paid"


def _translated(app, language, text, **kwargs):
    from flask_babel import force_locale, gettext
    with app.test_request_context(), force_locale(language):
        return gettext(text, **kwargs)


def test_give_form_shows_every_error_in_the_page_language_next_to_its_field(app, client):
    with app.app_context():
        public_id = make_campaign().public_id
    response = client.post(f"/campaigns/{public_id}/give",
                           data={"preset": "custom", "custom_amount": "abc", "name": "A" * 121,
                                 "email": "not-an-email", "message": "x" * 501},
                           headers={"Accept-Language": "id"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'lang="id"' in page
    assert "Invalid email address" not in page and "Field cannot be longer" not in page
    expected = {
        "email": _translated(app, "id", "Enter a valid e-mail address, like nama@contoh.id."),
        "custom_amount": _translated(app, "id", "Enter the amount in digits, e.g. 1.500.000."),
        "name": _translated(app, "id", "Use at most %(n)d characters.", n=120),
        "message": _translated(app, "id", "Use at most %(n)d characters.", n=500),
    }
    for field, message in expected.items():
        # the error is there, tied to its field, and the field is marked invalid
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in page, field
        tag = re.search(rf'<(?:input|textarea)[^>]*\bid="{field}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in tag and f'aria-describedby="{field}-error"' in tag, field
    with app.app_context():
        assert _count_donations() == 0


def test_change_on_the_confirm_step_keeps_what_was_entered_and_buttons_are_styled(app, client):
    with app.app_context():
        public_id = make_campaign().public_id
    form = {"preset": "custom", "custom_amount": "75.000", "name": "Budi", "email": "budi@example.org",
            "anonymous": "y", "message": "Semoga bermanfaat"}
    confirm = client.post(f"/campaigns/{public_id}/give", data=form)
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert '<button type="submit" class="primary">' in page and 'name="change" value="1"' in page
    back = client.post(f"/campaigns/{public_id}/give", data={**form, "confirmed": "1", "change": "1"})
    assert back.status_code == 200
    page = back.get_data(as_text=True)
    assert 'name="confirmed" value="1"' not in page  # the donor is back on the form, nothing started
    assert re.search(r'<input[^>]*id="custom_amount"[^>]*value="75.000"', page)
    assert re.search(r'<input[^>]*checked[^>]*value="custom"|<input[^>]*value="custom"[^>]*checked', page)
    assert re.search(r'<input[^>]*checked[^>]*id="anonymous"|<input[^>]*id="anonymous"[^>]*checked', page)
    assert "Semoga bermanfaat</textarea>" in page and 'value="budi@example.org"' in page
    assert '<button type="submit" class="primary">' in page
    # the amount box's label sits above it, not run on after the last preset's "Other amount"
    assert re.search(r'<div class="field">\s*<label for="custom_amount">', page)
    with app.app_context():
        assert _count_donations() == 0


@pytest.mark.parametrize("choice", ["pay", "fail"])
def test_the_donor_is_told_how_the_payment_ended(app, client, choice):
    with app.app_context():
        campaign = make_campaign()
        public_id, slug = campaign.public_id, campaign.slug
    form = {"preset": "5000000", "name": "Budi", "email": "budi@example.org", "confirmed": "1"}
    checkout = client.post(f"/campaigns/{public_id}/give", data=form)
    back = client.post(checkout.location, data={"choice": choice})
    page = client.get(back.location, headers={"Accept-Language": "id"}).get_data(as_text=True)
    if choice == "pay":
        thanks = "Thank you! Your donation is confirmed and recorded in the public ledger."
        assert _translated(app, "id", thanks) in page
        assert f'href="/campaigns/{public_id}/{slug}">' in page  # and can go back to the campaign
    else:  # back on the donate form, which says why
        assert f"/campaigns/{public_id}/give" in back.location
        assert _translated(app, "id", "The payment was not completed; nothing was charged. "
                                      "You can try again below.") in page


@pytest.mark.parametrize("choice", ["fail", "cancel"])
def test_a_failed_or_cancelled_payment_returns_to_the_form_as_it_was_filled_in(app, client, choice):
    with app.app_context():
        public_id = make_campaign().public_id
    form = {"preset": "custom", "custom_amount": "75.000", "name": "Sari Wulan", "email": "sari@example.org",
            "message": "Semoga lancar", "cover_fee": "y", "confirmed": "1"}
    checkout = client.post(f"/campaigns/{public_id}/give", data=form)
    assert checkout.status_code == 303
    if choice == "fail":
        back = client.post(checkout.location, data={"choice": "fail"}).location
    else:  # the donor closes the provider's page with its "back" link: the cancel URL
        back = f"/campaigns/{public_id}/give?cancelled=1"
    page = client.get(back).get_data(as_text=True)
    assert re.search(r'<input[^>]*id="custom_amount"[^>]*value="75.000"', page)
    assert re.search(r'<input[^>]*checked[^>]*value="custom"|<input[^>]*value="custom"[^>]*checked', page)
    assert re.search(r'<input[^>]*checked[^>]*id="cover_fee"|<input[^>]*id="cover_fee"[^>]*checked', page)
    assert not re.search(r'<input[^>]*checked[^>]*id="anonymous"|<input[^>]*id="anonymous"[^>]*checked', page)
    assert "Semoga lancar</textarea>" in page
    assert 'value="sari@example.org"' in page and 'value="Sari Wulan"' in page
    # Another visitor (another session) coming back to the same address gets an empty form.
    other = app.test_client().get(back).get_data(as_text=True)
    assert "sari@example.org" not in other and "Semoga lancar" not in other
    # A plain visit to the form, without the provider's return, starts afresh too.
    assert "sari@example.org" not in client.get(f"/campaigns/{public_id}/give").get_data(as_text=True)


@pytest.mark.parametrize("status", ["draft", "closed", None])
def test_posting_to_an_unknown_or_unpublished_campaign_is_404_and_leaves_no_row(app, client, status):
    with app.app_context():
        campaign = make_campaign()
        if status:
            # dates first: reading an expired attribute autoflushes what was already assigned
            campaign.closed_at = now_utc() if status == "closed" else None
            campaign.published_at = None if status == "draft" else campaign.published_at
            campaign.status = status
            db.session.commit()
        public_id = campaign.public_id if status else "nosuchcampaign"
    form = {"preset": "5000000", "name": "A", "email": "a@example.org", "confirmed": "1"}
    assert client.post(f"/campaigns/{public_id}/give", data=form).status_code == 404
    with app.app_context():
        assert _count_donations() == 0


@pytest.mark.parametrize("data", [{"amount": "abc", "reason": "x"}, {"amount": "0", "reason": "x"},
                                  {"amount": "", "reason": "x"}, {"amount": "10.000", "reason": "  "},
                                  {"amount": "10.000,5", "reason": "x"}, {"amount": "abc", "reason": ""}])
def test_bad_refund_input_is_explained_and_writes_nothing(app, client, data):
    from tests.factories import login
    with app.app_context():
        campaign = make_campaign()
        admin_id = make_user(None, "admin").id
        donation_id, checkout_id = pending(app, campaign)
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()
        giving.handle_event(event)
    with app.app_context():
        login(client, db.session.get(User, admin_id))
    response = client.post(f"/donations/{donation_id}/refund", data=data, headers={"Accept-Language": "en"})
    # explained next to the field at fault, with what was entered kept
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    field = "reason" if data["reason"].strip() == "" else "amount"
    assert f'<p class="field-error" id="{field}-error">' in page
    marked = rf'<(?:input|textarea) id="{field}"[^>]*aria-invalid="true" aria-describedby="{field}-error"'
    assert re.search(marked, page)
    assert f'value="{data["amount"]}"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0
        assert entries("refund") == []


def test_unpublished_campaign_has_no_donate_form(app, client):
    with app.app_context():
        campaign = make_campaign()
        campaign.status = "closed"
        campaign.closed_at = now_utc()
        db.session.commit()
        public_id = campaign.public_id
    assert client.get(f"/campaigns/{public_id}/give").status_code == 404
    assert client.get("/campaigns/nosuchcampaign/give").status_code == 404


def test_dashboard_lists_only_own_donations_and_partial_shows_names(app, client):
    from flask import render_template

    from donations.dashboard import recent_donations
    from tests.factories import login
    with app.app_context():
        campaign_id = make_campaign().id
        owner, other = make_user(), make_user()
        owner_id, other_id = owner.id, other.id
        mine_id, checkout_id = pending(app, db.session.get(Campaign, campaign_id), amount=7_000_000)
        theirs_id, _ = pending(app, db.session.get(Campaign, campaign_id), amount=9_000_000)
        db.session.get(Donation, mine_id).user_id = owner_id
        db.session.get(Donation, theirs_id).user_id = other_id
        db.session.get(Donation, mine_id).message = "Semangat!"
        db.session.commit()
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()
        giving.handle_event(event)
    with app.app_context():
        login(client, db.session.get(User, owner_id))
    page = client.get("/donations/mine")
    assert page.status_code == 200 and b"70.000" in page.data and b"90.000" not in page.data
    assert b"/ledger/entries/0" in page.data
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert f'href="/campaigns/{campaign.public_id}/{campaign.slug}"' in page.text  # back to the campaign
    assert "<td>dibayar</td>" in page.text and "<td>paid</td>" not in page.text  # statuses are translated
    with app.test_request_context(headers={"Accept-Language": "en"}):
        campaign = db.session.get(Campaign, campaign_id)
        html = render_template("donations/_recent_donations.html", donations=recent_donations(campaign))
        assert "Siti" in html and "Semangat!" in html and "90.000" not in html  # pending is not shown
        db.session.get(Donation, mine_id).anonymous = True
        html = render_template("donations/_recent_donations.html", donations=recent_donations(campaign))
        assert "Siti" not in html and "Anonymous" in html


def test_dashboard_needs_login(client):
    assert client.get("/donations/mine").status_code == 302


def test_demo_donations_are_idempotent_and_verify(app, runner):
    from donations.demo import REFUNDED_CAMPAIGN, load_demo_donations, plan_for
    with app.app_context():
        campaign = make_campaign()
        campaign.title = REFUNDED_CAMPAIGN  # a demo campaign, the one whose first gift is half refunded
        make_campaign().title = "Bukan kampanye demo"  # never given to by the demo
        db.session.commit()
        assert load_demo_donations()
        db.session.commit()
        assert load_demo_donations() == []
        kinds = [e.kind for e in entries()]
        assert kinds.count("donation") == len(plan_for(REFUNDED_CAMPAIGN)) >= 1
        assert kinds.count("refund") == 1 and "fee" in kinds
        assert {e.campaign for e in entries()} == {campaign.public_id}
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("who, allowed", [("treasurer", True), ("admin", True), ("other_treasurer", False),
                                          ("donor", False)])
def test_refund_by_treasurer_or_admin_only(app, client, who, allowed):
    from tests.factories import login
    with app.app_context():
        campaign = make_campaign()
        treasurer = make_user(None, "treasurer")
        campaign.treasurer_id = treasurer.id
        users = {"treasurer": treasurer, "admin": make_user(None, "admin"),
                 "other_treasurer": make_user(None, "treasurer"), "donor": make_user()}
        db.session.commit()
        actor_id = users[who].id
        donation_id, checkout_id = pending(app, db.session.get(Campaign, campaign.id))
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()
        giving.handle_event(event)
    with app.app_context():
        login(client, db.session.get(User, actor_id))
    response = client.post(f"/donations/{donation_id}/refund", data={"amount": "20.000", "reason": "Salah"})
    assert response.status_code == (303 if allowed else 404)
    with app.app_context():
        refunds = entries("refund")
        assert [r.amount for r in refunds] == ([-2_000_000] if allowed else [])
    if allowed:  # more than is left is refused, nothing written
        client.post(f"/donations/{donation_id}/refund", data={"amount": "40.000", "reason": "x"})
        with app.app_context():
            assert len(entries("refund")) == 1


def test_thank_you_mail_goes_out_after_the_commit_with_entry_and_link(app, client, smtp_server):
    with app.app_context():
        campaign = make_campaign()
        donation_id, checkout_id = pending(app, campaign)
    assert client.post(f"/give/sandbox/{checkout_id}", data={"choice": "pay"}).status_code == 303
    (message,) = smtp_server.messages
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        body = message.get_content()
        assert message["To"] == "siti@example.test"
        assert f"#{donation.ledger_seq}" in body and donation.donor_secret in body
        assert "/donations/view/" in body


def test_no_thank_you_mail_when_the_confirmation_rolls_back(app, smtp_server, monkeypatch):
    with app.app_context():
        campaign = make_campaign()
        _, checkout_id = pending(app, campaign)
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        db.session.commit()
        monkeypatch.setattr(db.session, "commit", lambda: (_ for _ in ()).throw(RuntimeError("db down")))
        with pytest.raises(RuntimeError):
            giving.handle_event(event)
    assert smtp_server.messages == []
