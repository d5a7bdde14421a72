"""Service points: what an organization registers, who may, where it shows, and refused input."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from accounts.models import User
from accounts.permissions import Action, can
from amanah.errors import ValidationError
from amanah.extensions import db
from campaigns.models import Campaign
from maps import services
from maps.models import ServicePoint
from organizations import services as organizations
from tests.factories import make_user
from tests.factories.campaigns import client_for, make_campaign

POINT = dict(name="Posyandu Melati", category="health", address="Dusun Krapyak, Wedomartani",
             city="Kabupaten Sleman", province="34", latitude="-7.7156", longitude="110.4269",
             opening_hours="Tanggal 10, 08.00-11.00", contact="0812-2700-1100")
ORG = dict(type="foundation", legal_basis="SK AHU-0012345", address="Sleman", npwp="", contact="a@b.id",
           description="Posyandu.")


@pytest.fixture
def world(app):
    with app.app_context():
        people = {
            "organizer": make_user(None, "organizer", name="Siti").id,
            "other_organizer": make_user(None, "organizer", name="Bayu").id,
            "treasurer": make_user(None, "treasurer", name="Agus").id,
            "donor": make_user(None, name="Dewi").id,
            "admin": make_user(None, "admin", name="Hendra").id,
        }
        orgs = {}
        for key, owner in (("own", "organizer"), ("other", "other_organizer")):
            profile = organizations.OrganizationInput(name=f"Yayasan {key}", **ORG)
            org = organizations.create_organization(db.session.get(User, people[owner]), profile)
            organizations.add_member(org, db.session.get(User, people["treasurer"]).email, "treasurer")
            orgs[key] = org.slug
        db.session.commit()
    campaigns = {}
    for key, owner in (("own", "organizer"), ("other", "other_organizer")):
        with app.app_context():
            org_id = organizations.get_by_slug(orgs[key]).id
        campaigns[key] = make_campaign(app, people[owner], people["treasurer"], organization_id=org_id)
    return {"people": people, "orgs": orgs, "campaigns": campaigns}


def _campaign_id(public_id: str) -> int:
    return db.session.scalar(sa.select(Campaign.id).where(Campaign.public_id == public_id))


def test_a_point_is_registered_with_its_own_organizations_campaigns(app, world):
    with app.app_context():
        org = organizations.get_by_slug(world["orgs"]["own"])
        own = _campaign_id(world["campaigns"]["own"])
        point = services.create_point(org, services.ServicePointInput(**POINT, campaign_ids=[own, own]))
        db.session.commit()
        assert (point.latitude, point.longitude, point.province) == (-7.7156, 110.4269, "34")
        assert [c.id for c in point.campaigns] == [own]
        other = _campaign_id(world["campaigns"]["other"])
        with pytest.raises(ValidationError) as caught:
            services.update_point(point, services.ServicePointInput(**POINT, campaign_ids=[own, other]))
        assert set(caught.value.errors) == {"campaigns"}
        db.session.rollback()
        assert [c.id for c in db.session.get(ServicePoint, point.id).campaigns] == [own]


@pytest.mark.parametrize(("changes", "fields"), [
    (dict(latitude="40.7", longitude="-74.0"), {"latitude", "longitude"}),  # New York
    (dict(latitude="-6.2", longitude="150.1"), {"longitude"}),  # east of Papua
    (dict(latitude="6°12'S"), {"latitude"}),
    (dict(latitude="", longitude="abc"), {"latitude", "longitude"}),
    (dict(latitude="nan", longitude="inf"), {"latitude", "longitude"}),
    (dict(name="", category="sport", province="99"), {"name", "category", "province"}),
    (dict(contact="x" * 201, opening_hours="\x07"), {"contact", "opening_hours"}),
    (dict(province="94"), {"province"}),  # Sleman's coordinates are not in Papua
    (dict(latitude="110.4269", longitude="-7.7156"), {"latitude", "longitude"}),  # swapped
])
def test_bad_points_name_the_fields_and_save_nothing(app, world, changes, fields):
    with app.app_context():
        org = organizations.get_by_slug(world["orgs"]["own"])
        with pytest.raises(ValidationError) as caught:
            services.create_point(org, services.ServicePointInput(**{**POINT, **changes}))
        assert set(caught.value.errors) == fields
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServicePoint)) == 0


def test_coordinates_may_be_typed_with_a_decimal_comma_or_a_typographic_minus(app, world):
    with app.app_context():
        org = organizations.get_by_slug(world["orgs"]["own"])
        point = services.create_point(org, services.ServicePointInput(
            **{**POINT, "latitude": "\u22127,7156", "longitude": "110,4269"}))
        assert (point.latitude, point.longitude) == (-7.7156, 110.4269)


@pytest.mark.parametrize(("who", "allowed"), [
    ("organizer", True), ("admin", True), ("other_organizer", False), ("treasurer", False),
    ("donor", False), ("anonymous", False),
])
def test_its_organizers_and_admins_manage_its_points(app, world, who, allowed):
    with app.app_context():
        org = organizations.get_by_slug(world["orgs"]["own"])
        user = db.session.get(User, world["people"][who]) if who != "anonymous" else None
        assert can(user, Action.MANAGE_SERVICE_POINTS, org) is allowed
    client = client_for(app, world["people"].get(who), "en")
    slug = world["orgs"]["own"]
    response = client.post(f"/organizations/{slug}/service-points/new", data=POINT)
    if allowed:
        assert response.status_code == 303
    else:
        assert response.status_code in (302, 403)  # anonymous: to the login page
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ServicePoint))
    assert count == (1 if allowed else 0)


def test_the_forms_add_edit_and_remove_a_point_and_it_shows_on_the_map(app, world):
    client = client_for(app, world["people"]["organizer"], "en")
    slug = world["orgs"]["own"]
    assert "Add a service point" in client.get(f"/organizations/{slug}/service-points").get_data(as_text=True)
    form = client.get(f"/organizations/{slug}/service-points/new").get_data(as_text=True)
    assert 'name="latitude"' in form and "js/pick-point.js" in form and 'data-projection="' in form
    with app.app_context():
        own = _campaign_id(world["campaigns"]["own"])
    response = client.post(f"/organizations/{slug}/service-points/new",
                           data={**POINT, "campaigns": [str(own)]})
    assert response.status_code == 303
    with app.app_context():
        point = db.session.scalar(sa.select(ServicePoint))
        point_id, org_slug = point.id, point.organization.slug
    assert org_slug == slug
    bad = client.post(f"/organizations/{slug}/service-points/{point_id}/edit",
                      data={**POINT, "latitude": "91"})
    assert bad.status_code == 422 and "outside Indonesia" in bad.get_data(as_text=True)
    ok = client.post(f"/organizations/{slug}/service-points/{point_id}/edit",
                     data={**POINT, "name": "Posyandu Melati II", "campaigns": [str(own)]})
    assert ok.status_code == 303
    page = client_for(app, None, "en").get("/map").get_data(as_text=True)
    assert f'href="#point-{point_id}" class="service-point cat-health"' in page
    assert "Posyandu Melati II" in page and f'href="/organizations/{slug}"' in page
    assert f'/campaigns/{world["campaigns"]["own"]}/' in page
    assert client.post(f"/organizations/{slug}/service-points/{point_id}/delete").status_code == 303
    with app.app_context():
        assert db.session.get(ServicePoint, point_id) is None


def test_another_organizations_point_is_out_of_reach(app, world):
    with app.app_context():
        other = organizations.get_by_slug(world["orgs"]["other"])
        point_id = services.create_point(other, services.ServicePointInput(**POINT)).id
        db.session.commit()
    client = client_for(app, world["people"]["organizer"], "en")
    own, theirs = world["orgs"]["own"], world["orgs"]["other"]
    # Through their own organization's address: no such point there.
    assert client.get(f"/organizations/{own}/service-points/{point_id}/edit").status_code == 404
    assert client.post(f"/organizations/{own}/service-points/{point_id}/delete").status_code == 404
    assert client.post(f"/organizations/{own}/service-points/{point_id}/edit", data=POINT).status_code == 404
    # Through the other organization's address: not theirs to manage.
    assert client.post(f"/organizations/{theirs}/service-points/{point_id}/delete").status_code == 403
    with app.app_context():
        assert db.session.get(ServicePoint, point_id).name == POINT["name"]


def test_a_draft_campaign_funding_a_point_stays_private(app, world):
    with app.app_context():
        org = organizations.get_by_slug(world["orgs"]["own"])
        org_id = org.id
    draft = make_campaign(app, world["people"]["organizer"], world["people"]["treasurer"], status="draft",
                          organization_id=org_id, title="Rahasia draf kampanye")
    with app.app_context():
        org = organizations.get_by_slug(world["orgs"]["own"])
        services.create_point(org, services.ServicePointInput(**POINT, campaign_ids=[_campaign_id(draft)]))
        db.session.commit()
    page = client_for(app, None, "en").get("/map").get_data(as_text=True)
    assert POINT["name"] in page and "Rahasia draf kampanye" not in page


@pytest.mark.files("local")  # the demo stores covers (in a bucket: test_disbursements_api.py)
def test_demo_points_are_in_several_provinces_and_loaded_once(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        points = db.session.scalars(sa.select(ServicePoint)).all()
        assert len({p.province for p in points}) >= 4
        assert len(points) == len({(p.organization_id, p.name) for p in points})
        assert any(p.campaigns for p in points)
