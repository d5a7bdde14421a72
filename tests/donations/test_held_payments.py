"""A donation held for a check (the provider took another amount than the donation's) is booked by
its treasurer at the amount paid (giving.book_held_payment, POST /treasury/donations/<id>/book-held),
or refused when that cannot be done, with nothing written."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from accounts.models import Role, User
from amanah.extensions import db
from documents.models import Document
from donations import giving, sandbox
from donations.gateway import GatewayError
from donations.models import Donation, PaymentAnomaly
from donations.providers import get_gateway
from ledger.models import CampaignTotal
from tests.factories import login, make_user
from tests.factories.documents import make_campaign
from tests.factories.giving import entries, pending

EN = {"Accept-Language": "en"}


def held(app, campaign, *, amount=9_000_000, asked_more=100_000, cover_fee=False) -> int:
    """A donation the sandbox took `amount` (plus any covered fee) for, while it asked `asked_more` more."""
    donation_id, checkout_id = pending(app, campaign, amount=amount, cover_fee=cover_fee)
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        donation = db.session.get(Donation, donation_id)
        donation.total += asked_more
        donation.amount += asked_more
        db.session.commit()
        assert giving.handle_event(event) == "flagged"
    return donation_id


@pytest.fixture
def campaign(app):
    with app.app_context():
        treasurer = make_user("bendahara@example.test", Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        return {"id": campaign.id, "public_id": campaign.public_id, "treasurer": treasurer.id}


def _campaign(ids):
    from campaigns.models import Campaign
    return db.session.get(Campaign, ids["id"])


def test_booked_at_the_amount_paid_with_its_entries_and_receipt(app, campaign):
    with app.app_context():
        donation_id = held(app, _campaign(campaign))
        treasurer = db.session.get(User, campaign["treasurer"])
        assert entries() == []
        assert giving.book_held_payment(donation_id, treasurer) == "paid"
        donation = db.session.get(Donation, donation_id)
        assert (donation.status, donation.amount, donation.total) == ("paid", 9_000_000, 9_000_000)
        (gift, *fees) = entries()
        assert (gift.kind, gift.amount, gift.seq) == ("donation", 9_000_000, donation.ledger_seq)
        assert gift.payment == donation.payment_intent and all(f.kind == "fee" for f in fees)
        assert db.session.get(CampaignTotal, campaign["public_id"]).raised == 9_000_000
        (receipt,) = db.session.scalars(sa.select(Document).where(Document.donation_id == donation_id))
        assert receipt.kind == "receipt"
        # The anomaly stays: it is the record of why the payment was held.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentAnomaly)) == 1
        with pytest.raises(giving.BookingRefused):  # once only
            giving.book_held_payment(donation_id, treasurer)
        assert len(entries()) == 1 + len(fees)


def test_a_covered_fee_stays_within_what_was_paid(app, campaign):
    with app.app_context():
        donation_id = held(app, _campaign(campaign), cover_fee=True)
        before = db.session.get(Donation, donation_id)
        fee_covered, paid = before.fee_covered, before.total - 100_000
        assert fee_covered > 0
        giving.book_held_payment(donation_id, None)
        donation = db.session.get(Donation, donation_id)
        assert (donation.total, donation.fee_covered) == (paid, fee_covered)
        assert donation.amount == paid - fee_covered


def test_not_held_not_reported_or_no_longer_paid_is_refused_with_nothing_written(app, campaign):
    with app.app_context():
        paid_id = held(app, _campaign(campaign))
        giving.book_held_payment(paid_id, None)
        other_currency = held(app, _campaign(campaign), amount=2_000_000)
        db.session.execute(sa.delete(PaymentAnomaly).where(PaymentAnomaly.donation_id == other_currency))
        db.session.commit()  # as when the provider reported another currency: no amount to book
        unpaid = held(app, _campaign(campaign), amount=3_000_000)
        session = sandbox._get(db.session.get(Donation, unpaid).checkout_id)
        sandbox._put({**session, "payment_status": "unpaid"})  # since refunded in full, say
        db.session.commit()
        count = len(entries())
    with app.test_request_context():
        for donation_id, message in ((paid_id, "Only a donation held for a check"),
                                     (other_currency, "did not report an amount"),
                                     (unpaid, "no longer reports this payment as paid"),
                                     (10**6, "Only a donation held for a check")):
            with force_locale("en"), pytest.raises(giving.BookingRefused, match=message):
                giving.book_held_payment(donation_id, None)
        assert len(entries()) == count
        assert {db.session.get(Donation, i).status for i in (other_currency, unpaid)} == {"flagged"}


def test_the_treasurer_books_it_from_the_campaigns_donations(app, client, campaign, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client.environ_base["HTTP_REFERER"] = "https://localhost/"  # the app is served over HTTPS
    with app.app_context():
        donation_id = held(app, _campaign(campaign))
        login(client, db.session.get(User, campaign["treasurer"]))
    overview = client.get("/treasury/", headers=EN).get_data(as_text=True)
    assert "1 donation held for your check" in overview
    listing = client.get(f"/treasury/{campaign['public_id']}/donations", headers=EN).get_data(as_text=True)
    assert "Book IDR 90,000 as the gift" in listing
    assert client.post(f"/treasury/donations/{donation_id}/book-held").status_code == 400  # no CSRF token
    token = listing.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(f"/treasury/donations/{donation_id}/book-held", data={"csrf_token": token},
                           headers=EN)
    assert response.status_code == 303
    back = f"/treasury/{campaign['public_id']}/donations?q=%23{donation_id}#donation-{donation_id}"
    assert response.headers["Location"].endswith(back)
    after = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert f"Donation #{donation_id} is in the ledger as entry" in after and "at IDR 90,000" in after
    row = after.split(f'id="donation-{donation_id}"')[1].split("</tr>")[0]
    assert f'href="/donations/{donation_id}/refund"' in row and "book-held" not in row
    assert "held for your check" not in client.get("/treasury/", headers=EN).get_data(as_text=True)
    again = client.post(f"/treasury/donations/{donation_id}/book-held", data={"csrf_token": token},
                        headers=EN, follow_redirects=True)
    assert "Only a donation held for a check can be booked this way." in again.get_data(as_text=True)
    # Admins and auditors see who settled the hold, beside its anomaly.
    with client.session_transaction() as session:
        session.clear()
    with app.app_context():
        login(client, make_user(None, Role.AUDITOR))
        name = db.session.get(User, campaign["treasurer"]).display_name
    review = client.get("/payments/reconciliation", headers=EN).get_data(as_text=True)
    assert f"Booked at the amount paid by {name}," in review


def test_a_provider_that_cannot_be_asked_books_nothing(app, client, campaign, monkeypatch):
    with app.app_context():
        donation_id = held(app, _campaign(campaign))
        login(client, db.session.get(User, campaign["treasurer"]))
    listing = client.get(f"/treasury/{campaign['public_id']}/donations", headers=EN).get_data(as_text=True)
    token = listing.split('name="csrf_token" value="')[1].split('"')[0]

    def unreachable(self, checkout_id):
        raise GatewayError("sandbox: down")
    monkeypatch.setattr(sandbox.SandboxGateway, "fetch_checkout", unreachable)
    page = client.post(f"/treasury/donations/{donation_id}/book-held", data={"csrf_token": token},
                       headers=EN, follow_redirects=True).get_data(as_text=True)
    assert "could not be reached; nothing was booked" in page
    with app.app_context():
        assert db.session.get(Donation, donation_id).status == "flagged" and entries() == []


def test_nobody_else_books_it(app, client, campaign):
    with app.app_context():
        donation_id = held(app, _campaign(campaign))
        others = [make_user(None, Role.TREASURER).id, make_user(None).id, _campaign(campaign).organizer_id]
    url = f"/treasury/donations/{donation_id}/book-held"
    for user_id in [None, *others]:
        with client.session_transaction() as session:
            session.clear()
        if user_id is not None:
            with app.app_context():
                login(client, db.session.get(User, user_id))
        token = client.get("/", headers=EN).get_data(as_text=True).split('name="csrf_token" value="')
        data = {"csrf_token": token[1].split('"')[0]} if len(token) > 1 else {}
        assert client.post(url, data=data).status_code == 404, user_id
    with app.app_context():
        assert db.session.get(Donation, donation_id).status == "flagged"


def test_a_payment_refunded_since_or_reported_at_another_amount_is_not_booked(app, campaign):
    with app.test_request_context():
        refunded = held(app, _campaign(campaign))
        gateway = get_gateway()
        session = sandbox._get(db.session.get(Donation, refunded).checkout_id)
        gateway.create_refund(session["payment_intent"], 1_000_000, "k-held", {})  # part of it went back
        db.session.commit()
        elsewhere = held(app, _campaign(campaign), amount=3_000_000)
        session = sandbox._get(db.session.get(Donation, elsewhere).checkout_id)
        sandbox._put({**session, "amount_total": 1_234_500})  # neither what was held nor what was asked
        db.session.commit()
        count = len(entries())
        for donation_id, message in ((refunded, "has refunded this payment"),
                                     (elsewhere, "no longer reports this payment as paid")):
            with force_locale("en"), pytest.raises(giving.BookingRefused, match=message):
                giving.book_held_payment(donation_id, None)
        assert len(entries()) == count
        assert {db.session.get(Donation, i).status for i in (refunded, elsewhere)} == {"flagged"}


def test_a_payment_the_provider_returned_is_marked_so_and_cannot_be_booked(app, client, campaign):
    with app.app_context():
        donation_id = held(app, _campaign(campaign))
        login(client, db.session.get(User, campaign["treasurer"]))
    listing = client.get(f"/treasury/{campaign['public_id']}/donations", headers=EN).get_data(as_text=True)
    assert f'action="/treasury/donations/{donation_id}/returned"' in listing
    page = client.post(f"/treasury/donations/{donation_id}/returned", headers=EN, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert f"Donation #{donation_id} is marked as returned to the donor" in html
    assert f'id="donation-{donation_id}"' not in html and "held for your check" not in html
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation.hold_settled_by_id == campaign["treasurer"] and donation.hold_settled_at is not None
    with app.test_request_context():
        assert db.session.get(Donation, donation_id).status == "failed"
        with force_locale("en"), pytest.raises(giving.BookingRefused, match="Only a donation held"):
            giving.book_held_payment(donation_id, None)
        assert giving.mark_held_returned(donation_id, None) == "unchanged" and entries() == []
    with client.session_transaction() as session:
        session.clear()
    with app.app_context():
        login(client, make_user(None, Role.TREASURER))
    assert client.post(f"/treasury/donations/{donation_id}/returned").status_code == 404
