"""Changing a campaign's treasurer: the organizer only before publication, afterwards only another
admin, with a reason, on a permanent record (service, database, pages)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from accounts.models import Role
from accounts.permissions import Action, can
from amanah.extensions import db
from campaigns import services
from campaigns.models import Campaign
from tests.factories import make_user
from tests.factories.campaigns import _form, client_for, make_campaign, make_people, user
from treasury import treasurers
from treasury.models import CampaignTreasurerChange

RECORD = Action.RECORD_DISBURSEMENT

EN = {"Accept-Language": "en"}
LOCKED = "Once a campaign is published, only an admin can change its treasurer."
LOCKED_ID = "Setelah kampanye diterbitkan, hanya admin yang dapat mengganti bendaharanya."


@pytest.fixture
def people(app):
    people = make_people(app)
    with app.app_context():
        people["new_treasurer"] = make_user(None, Role.TREASURER, name="Wulan Bendahara").id
    return people


def campaign_of(public_id: str) -> Campaign:
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))


def changes() -> list[tuple[int, int, int, int, str]]:
    rows = db.session.scalars(sa.select(CampaignTreasurerChange).order_by(CampaignTreasurerChange.id))
    return [(c.campaign_id, c.from_user_id, c.to_user_id, c.changed_by_id, c.reason) for c in rows]


def page_of(app, user_id, language: str, public_id: str) -> str:
    client = client_for(app, user_id, language)
    return client.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)


# ---- the organizer's edit ----

@pytest.mark.parametrize("status", ["published", "closed"])
def test_the_organizer_cannot_change_the_treasurer_of_a_public_campaign(app, people, status):
    public_id = make_campaign(app, people["owner"], people["treasurer"], status=status)
    with app.test_request_context(headers=EN):
        campaign = campaign_of(public_id)
        if status == "closed":  # closed campaigns are not editable at all; the rule holds regardless
            assert services.check_campaign(
                _input(people, people["new_treasurer"]), campaign)["treasurer_id"] == LOCKED
            return
        with pytest.raises(services.ValidationError) as excinfo:
            services.update_campaign(campaign, user(people["owner"]), _input(people, people["new_treasurer"]))
        assert excinfo.value.errors == {"treasurer_id": LOCKED}
        db.session.rollback()
        assert campaign_of(public_id).treasurer_id == people["treasurer"]
        # Other fields still change; the same treasurer, or none sent, keeps the current one.
        for treasurer_id in (people["treasurer"], None):
            services.update_campaign(campaign, user(people["owner"]),
                                     _input(people, treasurer_id, title=f"Judul baru {treasurer_id}"))
            db.session.commit()
            assert campaign_of(public_id).title == f"Judul baru {treasurer_id}"
            assert campaign_of(public_id).treasurer_id == people["treasurer"]
        assert changes() == []


def _input(people, treasurer_id, **overrides):
    from tests.factories.campaigns import campaign_input
    return campaign_input(treasurer_id, **overrides)


def test_the_edit_form_of_a_published_campaign_shows_the_treasurer_read_only(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    client = client_for(app, people["owner"], "en")
    page = client.get(f"/campaigns/{public_id}/edit").get_data(as_text=True)
    assert LOCKED in page and "Agus Bendahara" in page
    assert '<select' in page and 'name="treasurer_id"' not in page
    # Saved without the field: other changes stick, the treasurer stays.
    data = _form(people["treasurer"], title="Posyandu Melati: timbangan baru", goal="25,000,000")
    del data["treasurer_id"]
    assert client.post(f"/campaigns/{public_id}/edit", data=data).status_code == 303
    # A crafted request naming another treasurer: 422 with the error on the field, nothing changed.
    for language, goal, message in (("en", "25,000,000", LOCKED), ("id", "25.000.000", LOCKED_ID)):
        client = client_for(app, people["owner"], language)
        response = client.post(f"/campaigns/{public_id}/edit",
                               data=_form(people["new_treasurer"], title="Judul yang lain sekali", goal=goal))
        html = response.get_data(as_text=True)
        assert re.findall(r'class="field-error" id="([a-z_]+)-error"', html) == ["treasurer_id"]
        assert response.status_code == 422
        error = re.search(r'<p class="field-error" id="treasurer_id-error">([^<]*)</p>',
                          response.get_data(as_text=True))
        assert error and error.group(1) == message
    with app.app_context():
        campaign = campaign_of(public_id)
        assert campaign.title == "Posyandu Melati: timbangan baru"
        assert campaign.treasurer_id == people["treasurer"] and changes() == []


@pytest.mark.parametrize("status", ["draft", "rejected"])
def test_drafts_and_rejected_campaigns_still_change_treasurer_in_the_form(app, people, status):
    public_id = make_campaign(app, people["owner"], people["treasurer"], status=status)
    client = client_for(app, people["owner"], "en")
    page = client.get(f"/campaigns/{public_id}/edit").get_data(as_text=True)
    assert 'name="treasurer_id"' in page and LOCKED not in page
    data = _form(people["new_treasurer"], goal="15,000,000")
    assert client.post(f"/campaigns/{public_id}/edit", data=data).status_code == 303
    with app.app_context():
        assert campaign_of(public_id).treasurer_id == people["new_treasurer"]
        assert changes() == []  # before publication the treasurer holds no money: no record


# ---- the admin's change ----

def test_an_admin_changes_the_treasurer_with_a_reason(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    with app.test_request_context(headers=EN):
        campaign = campaign_of(public_id)
        old, new = user(people["treasurer"]), user(people["new_treasurer"])
        assert can(old, RECORD, campaign) and not can(new, RECORD, campaign)
        change = treasurers.change_treasurer(campaign, user(people["admin"]), people["new_treasurer"],
                                           "  Pak Agus mengundurkan diri.  ")
        db.session.commit()
        assert change.at.tzinfo is not None
        campaign = campaign_of(public_id)
        assert campaign.treasurer_id == people["new_treasurer"] and campaign.treasurer is new
        assert changes() == [(campaign.id, people["treasurer"], people["new_treasurer"], people["admin"],
                              "Pak Agus mengundurkan diri.")]
        assert not can(old, RECORD, campaign) and can(new, RECORD, campaign)
        assert treasurers.last_treasurer_change(campaign).id == change.id


@pytest.mark.parametrize(("who", "treasurer", "reason", "error"), [
    ("admin", "treasurer", "Alasan", {"treasurer_id": "This person is already the campaign's treasurer."}),
    ("admin", "donor", "Alasan", {"treasurer_id": "Choose a treasurer from the list."}),
    ("admin", None, "Alasan", {"treasurer_id": "Choose a treasurer from the list."}),
    ("admin", "new_treasurer", "   ", {"reason": "Give a reason."}),
    ("admin", "new_treasurer", "x" * 2001, {"reason": "Write at most 2000 characters."}),
    ("admin", "new_treasurer", "a\x00b", {"reason": "The text contains characters that are not allowed."}),
    ("owner", "new_treasurer", "Alasan", services.PermissionDenied),
    ("treasurer", "new_treasurer", "Alasan", services.PermissionDenied),
    ("organizer_admin", "new_treasurer", "Alasan", services.PermissionDenied),
])
def test_refused_changes_change_and_record_nothing(app, people, who, treasurer, reason, error):
    with app.app_context():
        people["organizer_admin"] = make_user(None, Role.ORGANIZER, Role.ADMIN).id
    owner = people["organizer_admin"] if who == "organizer_admin" else people["owner"]
    public_id = make_campaign(app, owner, people["treasurer"], admin_id=people["admin"])
    with app.test_request_context(headers=EN):
        campaign = campaign_of(public_id)
        expected = error if isinstance(error, type) else services.ValidationError
        with pytest.raises(expected) as excinfo:
            treasurers.change_treasurer(campaign, user(people[who]), people.get(treasurer), reason)
        if isinstance(error, dict):
            assert excinfo.value.errors == error
        assert changes() == []
        db.session.rollback()
        assert campaign_of(public_id).treasurer_id == people["treasurer"] and changes() == []


def test_only_public_campaigns_are_changed_this_way(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="submitted")
    with app.app_context(), pytest.raises(services.PermissionDenied):
        treasurers.change_treasurer(campaign_of(public_id), user(people["admin"]), people["new_treasurer"],
                                    "x")
    closed_id = make_campaign(app, people["owner"], people["treasurer"], status="closed")
    with app.app_context():
        treasurers.change_treasurer(campaign_of(closed_id), user(people["admin"]), people["new_treasurer"],
                                    "x")
        db.session.commit()
        assert campaign_of(closed_id).treasurer_id == people["new_treasurer"]


@pytest.mark.parametrize("statement", [
    "UPDATE campaign_treasurer_changes SET reason = 'lain'",
    "UPDATE campaign_treasurer_changes SET to_user_id = from_user_id + 0 WHERE 1 = 0 OR 1 = 1",
    "DELETE FROM campaign_treasurer_changes",
])
def test_the_database_refuses_changing_the_record(app, people, statement):
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    with app.app_context():
        treasurers.change_treasurer(campaign_of(public_id), user(people["admin"]), people["new_treasurer"],
                                  "Serah terima")
        db.session.commit()
        before = changes()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
        assert changes() == before and len(before) == 1


def test_postgresql_refuses_truncate(app, people, backend):
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with app.app_context():
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("TRUNCATE campaign_treasurer_changes"))
        db.session.rollback()


# ---- pages ----

def test_the_admin_page_changes_the_treasurer_and_the_history_shows_it(app, people):
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    admin = client_for(app, people["admin"], "en")
    page = admin.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
    assert f'href="/campaigns/{public_id}/treasurer"' in page and "Treasurer changed on" not in page
    form = admin.get(f"/campaigns/{public_id}/treasurer")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'name="treasurer_id"' in html and 'name="reason"' in html and "Wulan Bendahara" in html
    data = {"treasurer_id": str(people["new_treasurer"]), "reason": "Pak Agus pindah tugas."}
    response = admin.post(f"/campaigns/{public_id}/treasurer", data=data)
    assert response.status_code == 303
    with app.app_context():
        campaign = campaign_of(public_id)
        assert campaign.treasurer_id == people["new_treasurer"]
        assert [c[1:] for c in changes()] == [(people["treasurer"], people["new_treasurer"], people["admin"],
                                               "Pak Agus pindah tugas.")]
    page = admin.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
    table = re.search(r'<table class="treasurer-changes".*?</table>', page, re.S).group(0)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    assert cells[1:] == ["Agus Bendahara", "Wulan Bendahara", "Hendra Admin", "Pak Agus pindah tugas."]
    # The public sees the current treasurer and the date of the change, not who did it or why.
    public = page_of(app, None, "en", public_id)
    assert "Wulan Bendahara" in public and "Treasurer changed on" in public
    assert "Pak Agus pindah tugas." not in public and "treasurer-changes" not in public
    public_id_page = page_of(app, None, "id", public_id)
    assert "Bendahara diganti pada" in public_id_page


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"treasurer_id": "treasurer", "reason": "Alasan"}, "treasurer_id",
     "This person is already the campaign&#39;s treasurer."),
    ({"treasurer_id": "donor", "reason": "Alasan"}, "treasurer_id", "Choose a treasurer from the list."),
    ({"treasurer_id": "abc", "reason": "Alasan"}, "treasurer_id", "Choose a treasurer from the list."),
    ({"treasurer_id": "new_treasurer", "reason": ""}, "reason", "Give a reason."),
    ({"treasurer_id": "new_treasurer", "reason": "x" * 2001}, "reason", "Write at most 2000 characters."),
])
def test_refusals_through_the_form_are_422_and_write_nothing(app, people, data, field, message):
    public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    data = {k: str(people.get(v, v)) if k == "treasurer_id" else v for k, v in data.items()}
    response = client_for(app, people["admin"], "en").post(f"/campaigns/{public_id}/treasurer", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    with app.app_context():
        assert campaign_of(public_id).treasurer_id == people["treasurer"] and changes() == []


@pytest.mark.parametrize(("visitor", "status", "expected"), [
    ("anonymous", "published", 404),
    ("donor", "published", 404),
    ("owner", "published", 404),
    ("treasurer", "published", 404),
    ("auditor", "published", 404),
    ("other_organizer", "draft", 404),
    ("admin", "draft", 403),
    ("admin", "submitted", 403),
    ("organizer_admin", "published", 403),
])
def test_who_may_open_the_form(app, people, visitor, status, expected):
    with app.app_context():
        people["organizer_admin"] = make_user(None, Role.ORGANIZER, Role.ADMIN).id
    owner = people["organizer_admin"] if visitor == "organizer_admin" else people["owner"]
    public_id = make_campaign(app, owner, people["treasurer"], status=status, admin_id=people["admin"])
    client = client_for(app, people[visitor], "en")
    assert client.get(f"/campaigns/{public_id}/treasurer").status_code == expected
    response = client.post(f"/campaigns/{public_id}/treasurer",
                           data={"treasurer_id": str(people["new_treasurer"]), "reason": "Alasan"})
    assert response.status_code == expected
    if visitor in ("owner", "organizer_admin"):
        page = client.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
        assert f"/campaigns/{public_id}/treasurer" not in page
    with app.app_context():
        assert campaign_of(public_id).treasurer_id == people["treasurer"] and changes() == []


def test_the_form_needs_a_csrf_token(databases, tmp_path):
    from tests.conftest import make_app, one_rolled_back_transaction

    strict = make_app(databases.url, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    with one_rolled_back_transaction(strict):
        people = make_people(strict)
        with strict.app_context():
            new_treasurer = make_user(None, Role.TREASURER).id
        public_id = make_campaign(strict, people["owner"], people["treasurer"], admin_id=people["admin"])
        client = client_for(strict, people["admin"], "en")
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        url = f"/campaigns/{public_id}/treasurer"
        data = {"treasurer_id": str(new_treasurer), "reason": "Serah terima"}
        assert client.post(url, data=data).status_code == 400
        with strict.app_context():
            assert campaign_of(public_id).treasurer_id == people["treasurer"] and changes() == []
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                          client.get(url).get_data(as_text=True)).group(1)
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 303
        with strict.app_context():
            assert campaign_of(public_id).treasurer_id == new_treasurer and len(changes()) == 1


# ---- migration ----

def test_the_migration_undoes_itself(empty_database_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    from tests.conftest import make_app

    app = make_app(empty_database_url, tmp_path / "i")
    with app.app_context():
        upgrade()
        assert "campaign_treasurer_changes" in sa.inspect(db.engine).get_table_names()
        downgrade(revision="8e4c1a7f3b92")
        assert "campaign_treasurer_changes" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        assert "campaign_treasurer_changes" in sa.inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()
