"""Hostile or odd input anywhere gets a 4xx, never a 500, on SQLite and PostgreSQL; and access
follows the user's current rights. (Cases from a review of the merged code.)"""
from __future__ import annotations

import pytest

from accounts.models import Role, UserRole
from amanah.extensions import db
from campaigns.models import Campaign
from tests.conftest import make_app, one_rolled_back_transaction
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation
from treasury import disbursements

BIG = "99999999999999999999"


def test_numbers_too_large_for_any_column_are_not_found(app, client):
    with app.app_context():
        login(client, make_user(None, Role.ADMIN))
    for url in (f"/admin/users/{BIG}", f"/ledger/entries/{BIG}", f"/api/v1/ledger/entries/{BIG}"):
        assert client.get(url).status_code == 404, url
    # No refund route matches such an id (the number is out of the route's range): 4xx, no query.
    assert client.get(f"/donations/{BIG}/refund").status_code in (404, 405)
    assert client.post(f"/donations/{BIG}/refund", data={}).status_code in (404, 405)
    assert client.get(f"/admin/users?page={BIG}").status_code == 200


def test_ids_past_an_integer_column_are_not_found(app, client):
    """Ids are PostgreSQL `integer`s and SQLAlchemy casts a parameter to its column's type: 2**31
    was a database error (500) there. A ledger seq is a BIGINT and may be that large."""
    with app.app_context():
        login(client, make_user(None, Role.ADMIN))
    past = 2**31
    for url in (f"/admin/users/{past}", f"/ledger/entries/{past}", f"/api/v1/ledger/entries/{2**63 - 1}",
                f"/ledger/entries/{2**63 - 1}/summary.json"):
        assert client.get(url).status_code == 404, url
    # No refund route matches such an id (another route takes the path, for POST only): 4xx, no query.
    assert client.get(f"/donations/{past}/refund").status_code in (404, 405)
    for url in (f"/donations/{past}/refund", f"/treasury/donations/{past}/transfer-back"):
        assert client.post(url, data={}).status_code in (404, 405), url


@pytest.mark.parametrize("url", ["/campaigns/?page=²", "/campaigns/?per_page=³", "/api/v1/campaigns?page=²",
                                 "/api/v1/campaigns?per_page=٣"])
def test_digits_of_other_scripts_are_refused_as_page_numbers(client, url):
    assert client.get(url).status_code == 400


def test_a_preset_amount_in_other_digits_is_not_a_preset(app, client):
    with app.app_context():
        public_id = make_campaign().public_id
    response = client.post(f"/campaigns/{public_id}/give",
                           data={"preset": "²", "donor_name": "A", "donor_email": "a@example.test"})
    assert response.status_code in (200, 400, 422)


@pytest.mark.parametrize("url", ["/campaigns/?q=a%00b", "/api/v1/campaigns?q=a%00b", "/ledger?campaign=a%00b",
                                 "/receipts/AMN-2026-%00.pdf", "/evidence/a%00b"])
def test_nul_characters_are_refused_before_any_query(client, url):
    response = client.get(url)
    assert response.status_code in (400, 404)


def test_nul_in_a_form_is_refused(client):
    response = client.post("/account/login", data={"email": "a\x00@example.test", "password": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize("body", [b"[1, 2]", b"12", b'"text"', b'{"email": {"a": null}, "password": [1]}'])
def test_a_json_body_to_a_form_is_refused_before_the_form_reads_it(client, body):
    """Flask-WTF takes a JSON body for the form (ImmutableMultiDict(get_json())): a list or a number
    broke it and an object put dicts into text fields, 500s. Form routes take forms: 415."""
    response = client.post("/account/login", data=body, content_type="application/json",
                           headers={"Accept-Language": "en"})
    assert response.status_code == 415 and b"This address takes a form, not JSON." in response.data
    api = client.post("/organizations/new", data=body, content_type="application/json",
                      headers={"Accept": "application/json"})
    assert api.status_code == 415 and api.json["error"]


def test_json_stays_welcome_where_it_is_the_format(client):
    # The providers' notifications are JSON (refused here for their signature, not their type), and
    # an unknown address is still not found.
    assert client.post("/webhooks/sandbox", data=b"[1]", content_type="application/json").status_code == 400
    assert client.post("/nowhere", data=b"[1]", content_type="application/json").status_code == 404
    assert client.get("/campaigns/", data=b"[1]", content_type="application/json").status_code == 200


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")])
def test_a_statement_for_impossible_years_is_a_clear_400(app, client, start, end):
    with app.app_context():
        login(client, make_user())
    response = client.get(f"/donations/mine/statement.pdf?from={start}&to={end}")
    assert response.status_code == 400 and b"2000" in response.data


@pytest.fixture
def inline_app(databases, tmp_path):
    app = make_app(databases.url, tmp_path / "instance", DOCUMENT_JOBS="inline")
    with one_rolled_back_transaction(app):
        yield app


def test_a_bulk_zip_is_not_served_once_its_requester_lost_the_campaign(inline_app):
    from documents.statements import default_range
    app, client = inline_app, inline_app.test_client()
    with app.app_context():
        start, end = default_range()
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        paid_donation(app, campaign)
        login(client, treasurer)
        public_id, campaign_id, treasurer_id = campaign.public_id, campaign.id, treasurer.id
    started = client.post(f"/campaigns/{public_id}/documents/receipts", data={"from": start, "to": end})
    assert started.status_code == 303
    status = client.get(started.location + ".json").json
    download = client.get(status["download_url"])
    assert download.status_code == 200 and download.data[:2] == b"PK"
    download.close()
    with app.app_context():
        db.session.get(Campaign, campaign_id).treasurer_id = make_user(None, Role.TREASURER).id
        db.session.execute(db.delete(UserRole).where(UserRole.user_id == treasurer_id))
        db.session.commit()
    assert client.get(started.location + ".json").status_code == 404
    assert client.get(status["download_url"]).status_code == 404


def test_a_former_treasurer_no_longer_sees_a_draft(app, client):
    from accounts.permissions import Action, can
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        campaign.status = "draft"
        db.session.commit()
        assert can(treasurer, Action.VIEW_CAMPAIGN, campaign)
        db.session.execute(db.delete(UserRole).where(UserRole.user_id == treasurer.id))
        db.session.commit()
        db.session.refresh(treasurer)
        assert not can(treasurer, Action.VIEW_CAMPAIGN, campaign)


@pytest.mark.parametrize(("text", "personal"), [
    ("NIK 3171.0123.4567.8901", True), ("HP 0812.3456.7890", True), ("HP (0812) 3456-7890", True),
    ("３１７１０１２３４５６７８９０１", True), ("Rp 1.500.000 (2.000 pcs)", False),
    ("Beli 20 karung beras 50 kg", False), ("Tagihan 2026/11/30 no. 12", False),
])
def test_numbers_that_identify_people_are_caught_however_written(text, personal):
    assert disbursements._personal_data(text) is personal
