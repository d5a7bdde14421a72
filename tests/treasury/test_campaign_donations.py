"""A campaign's donations for its treasurer (treasury.campaign_donations, GET /treasury/<id>/donations):
the paid ones and the ones held for a check, searchable, with the way to each one's refund."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from accounts.models import Role, User
from amanah.extensions import db
from campaigns.models import Campaign
from donations import giving
from donations.models import Donation
from donations.providers import get_gateway
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation, refund
from tests.factories.giving import pending
from treasury import campaign_donations

EN = {"Accept-Language": "en"}


@pytest.fixture
def world(app):
    """A campaign whose treasurer has three paid donations (one partly refunded, one anonymous),
    one held for a check (the provider paid another amount) and one still pending."""
    with app.app_context():
        treasurer = make_user("bendahara@example.test", Role.TREASURER, name="Bendahara")
        campaign = make_campaign(treasurer=treasurer)
        siti = paid_donation(app, campaign, amount=150_000_000, name="Siti Rahayu")
        budi = paid_donation(app, campaign, amount=20_000_000, name="Budi 100%")
        anon = paid_donation(app, campaign, amount=7_500_000, name="Dewi Lestari")
        db.session.get(Donation, anon).anonymous = True
        db.session.commit()
        refund(app, siti, 50_000_000)
        held, checkout_id = pending(app, campaign, amount=9_000_000)
        waiting, _ = pending(app, campaign, amount=1_000_000)
        ids = {"public_id": campaign.public_id, "treasurer": treasurer.id}
    with app.test_request_context():
        event = get_gateway().pay(checkout_id)
        donation = db.session.get(Donation, held)
        donation.total += 100_000  # the donation asked Rp 91.000; the provider took Rp 90.000
        donation.amount += 100_000
        db.session.commit()
        assert giving.handle_event(event) == "flagged"
    return {**ids, "siti": siti, "budi": budi, "anon": anon, "held": held, "waiting": waiting}


def campaign_of(world) -> Campaign:
    return db.session.scalars(sa.select(Campaign).where(Campaign.public_id == world["public_id"])).one()


def page(client, app, user_id, query="", **headers):
    if user_id is not None:
        with app.app_context():
            login(client, db.session.get(User, user_id))
    return client.get(f"/treasury/{query}", headers={**EN, **headers})


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="donation-(\d+)"', html)]


def test_the_treasurer_sees_paid_and_held_donations_and_opens_a_refund(app, client, world):
    response = page(client, app, world["treasurer"], f"{world['public_id']}/donations")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Held first (they wait for the treasurer), then the newest; pending ones moved no money.
    assert listed(html) == [world["held"], world["anon"], world["budi"], world["siti"]]
    assert "1 donation is held for your check." in html
    held = html.split(f'id="donation-{world["held"]}"')[1].split("</tr>")[0]
    assert "held for a treasurer&#39;s check" in held and "The provider reports IDR 90,000 paid." in held
    assert "/refund" not in held  # not in the ledger: nothing to refund
    siti = html.split(f'id="donation-{world["siti"]}"')[1].split("</tr>")[0]
    assert "Siti Rahayu" in siti and "siti@example.test" in siti and "IDR 500,000" in siti  # refunded
    assert f'href="/donations/{world["siti"]}/refund"' in siti
    anon = html.split(f'id="donation-{world["anon"]}"')[1].split("</tr>")[0]
    assert "Dewi Lestari" in anon and "anonymous on public pages" in anon
    # The refund form leads back to the list, at the donation.
    form = client.get(f"/donations/{world['siti']}/refund", headers=EN).get_data(as_text=True)
    back = f'/treasury/{world["public_id"]}/donations?q=%23{world["siti"]}#donation-{world["siti"]}'
    assert f'href="{back}"' in form


def test_a_fully_refunded_donation_has_no_refund_link(app, client, world):
    refund(app, world["budi"], 20_000_000)
    html = page(client, app, world["treasurer"], f"{world['public_id']}/donations").get_data(as_text=True)
    budi = html.split(f'id="donation-{world["budi"]}"')[1].split("</tr>")[0]
    assert "/refund" not in budi and "IDR 200,000" in budi, budi


def test_the_treasury_and_the_campaign_page_link_to_it(app, client, world):
    target = f'href="/treasury/{world["public_id"]}/donations"'
    assert target in page(client, app, world["treasurer"]).get_data(as_text=True)
    with app.app_context():
        slug = campaign_of(world).slug
    assert target in client.get(f"/campaigns/{world['public_id']}/{slug}", headers=EN).get_data(as_text=True)


@pytest.mark.parametrize(("query", "expected"), [
    ("q=rahayu", ["siti"]), ("q=LESTARI", ["anon"]), ("q=SITI%40EXAMPLE", ["held", "anon", "budi", "siti"]),
    ("q=100%25", ["budi"]),  # a % is a character searched for, not a wildcard
    ("q=_", []), ("status=flagged", ["held"]), ("status=paid", ["anon", "budi", "siti"]),
    ("status=paid&q=dewi", ["anon"]),
])
def test_search_and_filter(app, client, world, query, expected):
    url = f"{world['public_id']}/donations?{query}"
    html = page(client, app, world["treasurer"], url).get_data(as_text=True)
    assert listed(html) == [world[name] for name in expected]
    if not expected:
        assert "No donation matches this search." in html


def test_search_by_the_donations_number(app, client, world):
    for query in (f"%23{world['budi']}", str(world["budi"])):
        html = page(client, app, world["treasurer"],
                    f"{world['public_id']}/donations?q={query}").get_data(as_text=True)
        assert listed(html) == [world["budi"]]


def test_pages(app, client, world, monkeypatch):
    monkeypatch.setattr(campaign_donations, "PAGE_SIZE", 3)
    first = page(client, app, world["treasurer"], f"{world['public_id']}/donations").get_data(as_text=True)
    assert listed(first) == [world["held"], world["anon"], world["budi"]] and "Page 1 of 2" in first
    assert f'href="/treasury/{world["public_id"]}/donations?page=2"' in first
    second = client.get(f"/treasury/{world['public_id']}/donations?page=2", headers=EN).get_data(as_text=True)
    assert listed(second) == [world["siti"]] and "Previous page" in second
    # Past the last page: the last page.
    assert listed(client.get(f"/treasury/{world['public_id']}/donations?page=9", headers=EN)
                  .get_data(as_text=True)) == [world["siti"]]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("status=pending", "status", "Use paid or flagged."),
    ("page=0", "page", "The page is a number from 1."), ("page=x", "page", "The page is a number from 1."),
    ("page=%C2%B2", "page", "The page is a number from 1."),
    ("q=" + "a" * 201, "q", "Search for at most 200 characters."),
])
def test_bad_parameters_are_refused_naming_them(app, client, world, query, field, message):
    url = f"{world['public_id']}/donations?{query}"
    response = page(client, app, world["treasurer"], url)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    as_json = client.get(f"/treasury/{url}", headers={**EN, "Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.json == {"error": message, "field": field}


def test_only_the_campaigns_treasurer_and_admins_see_it(app, client, world):
    url = f"/treasury/{world['public_id']}/donations"
    assert client.get(url).status_code in (302, 303)  # anonymous: sign in first
    with app.app_context():
        campaign = campaign_of(world)
        people = {
            "donor": make_user(None).id,
            "another treasurer": make_user(None, Role.TREASURER).id,
            "the campaign's organizer": campaign.organizer_id,
            "an auditor": make_user(None, Role.AUDITOR).id,
        }
        admin = make_user(None, Role.ADMIN).id
    for who, user_id in people.items():
        client.get("/")  # a fresh session for each
        with client.session_transaction() as session:
            session.clear()
        assert page(client, app, user_id, f"{world['public_id']}/donations").status_code == 403, who
    with client.session_transaction() as session:
        session.clear()
    assert listed(page(client, app, admin, f"{world['public_id']}/donations").get_data(as_text=True))
    assert client.get("/treasury/nothing-here/donations", headers=EN).status_code == 404


def test_a_campaign_nobody_may_see_is_not_found(app, client, world):
    with app.app_context():
        campaign = campaign_of(world)
        draft = make_campaign(treasurer=db.session.get(User, world["treasurer"]))
        draft.status = "draft"
        db.session.commit()
        draft_id = draft.public_id
        assert campaign.status == "published"
    donor = make_user_id(app)
    assert page(client, app, donor, f"{draft_id}/donations").status_code == 404


def make_user_id(app) -> int:
    with app.app_context():
        return make_user(None).id


def test_in_indonesian(app, client, world):
    response = page(client, app, world["treasurer"], f"{world['public_id']}/donations",
                    **{"Accept-Language": "id"})
    html = response.get_data(as_text=True)
    assert "1 donasi ditahan untuk Anda periksa." in html
    assert "Penyedia melaporkan Rp 90.000 dibayar." in html and "Rp 1.500.000" in html
