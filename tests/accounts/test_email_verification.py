"""E-mail verification, and guest gifts joining the account only once the address is proven."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from accounts import passwords, verification
from accounts import services as accounts
from accounts.models import User
from amanah.extensions import db
from documents import receipts
from documents.statements import default_range
from donations.models import Donation
from tests.conftest import make_app, one_rolled_back_transaction
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation, pdf_text

PASSWORD = "lima kata acak sekali"
EN = {"Accept-Language": "en"}


def register(client, email="siti@example.test"):
    return client.post("/account/register", headers=EN, data={
        "display_name": "Siti Rahayu", "email": email, "password": PASSWORD, "confirm": PASSWORD})


def user_named(email) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def verify_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/account/email/verify/[\w.\-]+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def owner_of(donation_id):
    return db.session.get(Donation, donation_id).user_id


def test_registration_mails_a_link_and_only_opening_it_attaches_guest_gifts(fast_hashing, app, client,
                                                                           smtp_server):
    with app.app_context():
        campaign = make_campaign()
        gift = paid_donation(app, campaign)  # a guest gift from siti@example.test
        serial = receipts.receipt_of(gift).serial
        someone_else = make_user("budi@example.test").id
    assert register(client, "Siti@Example.test").status_code == 303
    [message] = [m for m in smtp_server.messages if "/account/email/verify/" in m.get_content()]
    assert message["To"] == "siti@example.test"
    link = verify_link(message)
    with app.app_context():
        user = user_named("siti@example.test")
        assert not user.email_verified and owner_of(gift) is None  # an address typed proves nothing
    mine = client.get("/donations/mine", headers=EN).get_data(as_text=True)
    assert serial not in mine and "is not confirmed yet" in mine  # the banner with its button
    assert client.get(f"/receipts/{serial}.pdf").status_code == 404

    page = client.get(link, headers=EN)
    assert page.status_code == 200 and "Confirm siti@example.test" in page.get_data(as_text=True)
    with app.app_context():
        assert owner_of(gift) is None  # a GET (a mail scanner fetching the link) verifies nothing
    response = client.post(link)
    assert response.status_code == 303 and response.location == "/donations/mine"
    with app.app_context():
        user = user_named("siti@example.test")
        assert user.email_verified and owner_of(gift) == user.id
    mine = client.get("/donations/mine", headers=EN).get_data(as_text=True)
    assert f"/receipts/{serial}.pdf" in mine and "is not confirmed yet" not in mine
    assert client.get(f"/receipts/{serial}.pdf").status_code == 200
    with app.app_context():
        start, end = default_range()
    statement = client.get(f"/donations/mine/statement.pdf?from={start}&to={end}")
    assert serial in pdf_text(statement.data)
    # Another signed-in user still sees none of it.
    other = app.test_client()
    with app.app_context():
        login(other, db.session.get(User, someone_else))
    assert other.get(f"/receipts/{serial}.pdf").status_code == 404
    assert serial not in other.get("/donations/mine").get_data(as_text=True)


def test_an_unverified_account_is_never_given_a_guest_gift(fast_hashing, app):
    with app.test_request_context():
        campaign = make_campaign()
        before = paid_donation(app, campaign)
        user = accounts.register_user("siti@example.test", "Siti", PASSWORD)
        db.session.commit()
        after = paid_donation(app, campaign)  # a guest gift while the account is unverified
        assert owner_of(before) is None and owner_of(after) is None
        verification.verify(verification.make_token(user))
        db.session.commit()
        assert owner_of(before) == owner_of(after) == user.id
        later = paid_donation(app, campaign)  # a guest gift with the now verified address
        assert owner_of(later) == user.id


def test_another_accounts_gift_stays_where_it_is(fast_hashing, app):
    with app.test_request_context():
        campaign = make_campaign()
        budi = make_user("budi@example.test")
        theirs = paid_donation(app, campaign, user=budi)  # donor_email siti@..., but Budi's own gift
        user = accounts.register_user("siti@example.test", "Siti", PASSWORD)
        verification.verify(verification.make_token(user))
        db.session.commit()
        assert owner_of(theirs) == budi.id


def test_a_changed_address_must_be_verified_again_and_old_links_die(fast_hashing, app):
    with app.test_request_context():
        campaign = make_campaign()
        user = accounts.register_user("siti@example.test", "Siti", PASSWORD)
        old_link = verification.make_token(user)
        verification.verify(old_link)
        db.session.commit()
        first = paid_donation(app, campaign)  # siti@example.test, verified: joins
        accounts.change_email(user, PASSWORD, "sari@example.test")
        db.session.commit()
        assert not user.email_verified
        assert owner_of(first) == user.id  # what was proven stays proven
        db.session.add(Donation(campaign=campaign, donor_name="Sari", donor_email="sari@example.test",
                                amount=1_000_000, total=1_000_000, currency="IDR", provider="sandbox",
                                donor_secret="0" * 64))
        db.session.commit()
        sari_gift = db.session.scalar(
            sa.select(Donation.id).where(Donation.donor_email == "sari@example.test"))
        with pytest.raises(verification.VerificationError):
            verification.verify(old_link)  # mailed to the old address: proves nothing about the new one
        assert owner_of(sari_gift) is None
        verification.verify(verification.make_token(user))
        db.session.commit()
        assert owner_of(sari_gift) == user.id


def test_expired_and_tampered_links_are_refused_in_the_pages_language(fast_hashing, app, client, monkeypatch):
    with app.app_context():
        user = make_user("siti@example.test", password_hash=passwords.hash_password(PASSWORD))
        with app.test_request_context():
            token = verification.make_token(user)
    bad = client.get(f"/account/email/verify/{token}x", headers=EN)
    assert bad.status_code == 400 and "not valid" in bad.get_data(as_text=True)
    assert client.post(f"/account/email/verify/{token}x").status_code == 400
    monkeypatch.setattr(verification, "VERIFY_MAX_AGE", -1)
    expired = client.get(f"/account/email/verify/{token}", headers={"Accept-Language": "id"})
    assert expired.status_code == 400 and "kedaluwarsa" in expired.get_data(as_text=True)
    with app.app_context():
        assert not db.session.get(User, user.id).email_verified


def test_resend_sends_a_new_link_to_an_unverified_user_only(app, client, smtp_server):
    with app.app_context():
        user = make_user("siti@example.test")
        login(client, user)
    response = client.post("/account/email/verify", data={"next": "/donations/mine"})
    assert response.status_code == 303 and response.location == "/donations/mine"
    [message] = smtp_server.messages
    assert message["To"] == "siti@example.test"
    assert client.post(verify_link(message)).status_code == 303
    client.post("/account/email/verify")
    assert len(smtp_server.messages) == 1  # verified: nothing more to send
    elsewhere = client.post("/account/email/verify", data={"next": "https://evil.test/"})
    assert elsewhere.location == "/account/profile"


@pytest.fixture
def limited_app(databases, tmp_path):
    app = make_app(databases.url, tmp_path / "limited", RATELIMIT_ENABLED=True,
                   ARGON2_PARAMETERS={"time_cost": 1, "memory_cost": 8, "parallelism": 1})
    with one_rolled_back_transaction(app):
        yield app


def test_resending_the_link_is_rate_limited_per_account(limited_app):
    client = limited_app.test_client()
    with limited_app.app_context():
        login(client, make_user("siti@example.test"))
        login(other := limited_app.test_client(), make_user("budi@example.test"))
    for _ in range(3):
        assert client.post("/account/email/verify").status_code == 303
    assert client.post("/account/email/verify").status_code == 429
    assert other.post("/account/email/verify").status_code == 303  # another account is not held up
