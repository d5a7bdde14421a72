"""Who may record a disbursement: every role against the form, on a public and a hidden campaign."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from accounts.models import Role, User
from accounts.permissions import Action, can
from amanah.extensions import db
from campaigns.models import Campaign
from campaigns.services import today_wib
from ledger.models import LedgerEntry
from tests.factories import login, make_user
from tests.factories.treasury import fund, make_campaign, pdf
from treasury.models import Disbursement

ROLES = ["anonymous", "donor", "other organizer", "owner organizer", "campaign treasurer",
         "other treasurer", "auditor", "admin"]

# GET of the form; "login" is a redirect to the sign-in page.
PUBLISHED = {"anonymous": "login", "donor": 403, "other organizer": 403, "owner organizer": 403,
             "campaign treasurer": 200, "other treasurer": 403, "auditor": 403, "admin": 200}
# A draft is invisible to everyone but its organizer, its treasurer and the admins (404), and
# holds no money, so nobody records on it (403 for those who can see it).
DRAFT = {"anonymous": 404, "donor": 404, "other organizer": 404, "owner organizer": 403,
         "campaign treasurer": 403, "other treasurer": 404, "auditor": 404, "admin": 403}


def _people(campaign) -> dict[str, int | None]:
    return {
        "anonymous": None,
        "donor": make_user().id,
        "other organizer": make_user(None, Role.ORGANIZER).id,
        "owner organizer": campaign.organizer_id,
        "campaign treasurer": campaign.treasurer_id,
        "other treasurer": make_user(None, Role.TREASURER).id,
        "auditor": make_user(None, Role.AUDITOR).id,
        "admin": make_user(None, Role.ADMIN).id,
    }


@pytest.mark.files
@pytest.mark.parametrize("status", ["published", "draft"])
def test_only_the_campaigns_treasurer_and_admins_may_record(app, status):
    expected = PUBLISHED if status == "published" else DRAFT
    with app.app_context():
        campaign = make_campaign(status)
        if status == "published":
            fund(campaign, 10_000_000)
        people = _people(campaign)
        url = f"/treasury/{campaign.public_id}/disbursements/new"
        campaign_id = campaign.id
    for n, role in enumerate(ROLES):
        client = app.test_client()
        if people[role] is not None:
            with app.app_context():
                login(client, db.session.get(User, people[role]))
        page = client.get(url)
        posted = client.post(url, content_type="multipart/form-data", data={
            "amount": "1000", "paid_on": today_wib().isoformat(), "payee_kind": "organization",
            "payee_name": "Toko", "purpose": "Alat tulis", "category": "goods",
            "evidence_visibility": "public", "evidence": (io.BytesIO(pdf(100 + n)), "nota.pdf")})
        want = expected[role]
        with app.app_context():
            allowed = can(db.session.get(User, people[role]) if people[role] else None,
                          Action.RECORD_DISBURSEMENT, db.session.get(Campaign, campaign_id))
            assert allowed == (want == 200), role
        if want == "login":
            assert page.status_code == 302 and "/account/login" in page.location, role
            assert posted.status_code == 302, role
        else:
            assert page.status_code == want, role
            assert posted.status_code == (303 if want == 200 else want), role
    with app.app_context():
        recorders = {people["campaign treasurer"], people["admin"]} if status == "published" else set()
        made_by = set(db.session.scalars(sa.select(Disbursement.recorded_by_id)))
        assert made_by == recorders
        kinds = set(db.session.scalars(sa.select(LedgerEntry.kind).where(
            LedgerEntry.campaign == campaign.public_id)))
        assert kinds == ({"donation", "disbursement"} if status == "published" else set())


def test_unknown_campaign_is_404(client, app):
    with app.app_context():
        login(client, make_user(None, Role.ADMIN))
    assert client.get("/treasury/aaaaaaaaaaaa/disbursements/new").status_code == 404
    assert client.get("/treasury/not-an-id/disbursements/new").status_code == 404


def test_treasurer_who_lost_the_role_may_no_longer_record(app, client):
    with app.app_context():
        campaign = make_campaign()
        treasurer = db.session.get(User, campaign.treasurer_id)
        treasurer.roles = []
        db.session.commit()
        login(client, treasurer)
        url = f"/treasury/{campaign.public_id}/disbursements/new"
    assert client.get(url).status_code == 403


def test_the_campaign_page_shows_the_record_button_only_to_recorders(app):
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 10_000_000)
        people = _people(campaign)
        path = f"/campaigns/{campaign.public_id}/{campaign.slug}"
        url = f"/treasury/{campaign.public_id}/disbursements/new"
    for role in ROLES:
        client = app.test_client()
        if people[role] is not None:
            with app.app_context():
                login(client, db.session.get(User, people[role]))
        html = client.get(path).get_data(as_text=True)
        assert (url in html) == (PUBLISHED[role] == 200), role


def test_treasury_overview_lists_the_campaigns_in_ones_care(app):
    with app.app_context():
        mine, other = make_campaign(), make_campaign()
        fund(mine, 5_000_000)
        fund(other, 7_000_000)
        people = _people(mine)
        titles = {"mine": f"/treasury/{mine.public_id}/disbursements/new",
                  "other": f"/treasury/{other.public_id}/disbursements/new"}
    expected = {"anonymous": "login", "donor": 403, "auditor": 403, "owner organizer": 403,
                "campaign treasurer": {"mine"}, "other treasurer": set(), "admin": {"mine", "other"}}
    for role, want in expected.items():
        client = app.test_client()
        if people[role] is not None:
            with app.app_context():
                login(client, db.session.get(User, people[role]))
        page = client.get("/treasury/", headers={"Accept-Language": "en"})
        if want == "login":
            assert page.status_code == 302, role
        elif isinstance(want, int):
            assert page.status_code == want, role
        else:
            html = page.get_data(as_text=True)
            assert page.status_code == 200 and 'href="/treasury/"' in html, role
            assert {name for name, url in titles.items() if url in html} == want, role
