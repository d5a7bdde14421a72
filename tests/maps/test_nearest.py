"""Nearest to me: great-circle distances, reading only the provinces that can hold the nearest,
the town list, and refused positions."""
from __future__ import annotations

import pytest

from amanah.errors import UserError
from amanah.extensions import db
from maps import geo, nearest, services
from organizations import services as organizations
from tests.factories import make_user
from tests.factories.campaigns import client_for, make_campaign, make_people

ORG = dict(type="community", legal_basis="SK Lurah", address="Jakarta", npwp="", contact="a@b.id",
           description="Layanan.")
# (name, category, province, lat, lon)
PLACES = [
    ("Taman Baca Menteng", "education", "31", -6.1963, 106.8322),
    ("Posyandu Cempaka Putih", "health", "31", -6.1750, 106.8700),
    ("Klinik Bogor", "health", "32", -6.5950, 106.8166),
    ("Posyandu Sleman", "health", "34", -7.7156, 110.4269),
    ("Puskesmas Sentani", "health", "94", -2.5689, 140.5145),
]


def test_great_circle_distances():
    assert geo.distance_km(0, 0, 0, 1) == pytest.approx(111.195, abs=0.01)
    assert geo.distance_km(-6.2146, 106.8451, -6.2146, 106.8451) == 0
    # Jakarta to Jayapura, about 3,760 km as the crow flies.
    assert geo.distance_km(-6.2146, 106.8451, -2.5337, 140.7181) == pytest.approx(3760, rel=0.01)


@pytest.mark.parametrize(("lat", "lon", "field"), [
    ("91", "106", "lat"), ("-6.2", "181", "lon"), ("", "106.8", "lat"), ("-6.2", "", "lon"),
    ("1e3", "106", "lat"), ("-6.2.1", "106", "lat"), ("0x10", "106", "lat"), ("51.5", "-0.12", "lat"),
])
def test_positions_outside_indonesia_or_malformed_are_refused_by_name(lat, lon, field):
    with pytest.raises(UserError) as caught:
        geo.parse_position(lat, lon, "lat", "lon")
    assert caught.value.field == field


def test_towns_are_found_by_their_everyday_names():
    assert geo.find_towns("Kota Bandung")[0].province == "32"
    assert geo.find_towns("bandung")[0].name == "Bandung"
    assert geo.find_towns("Batam")[0].province == "21"  # GeoNames says Riau; the map says Kepri
    assert geo.find_towns("Sorong")[0].province == "92"
    assert geo.find_towns("Atlantis") == ()
    assert {t.province for t in geo.towns()} >= {"11", "31", "65", "92", "95", "96", "97"}


@pytest.fixture
def placed(app):
    with app.app_context():
        organizer = make_user(None, "organizer")
        org = organizations.create_organization(organizer,
                                                organizations.OrganizationInput(name="Relawan", **ORG))
        for name, category, province, lat, lon in PLACES:
            services.create_point(org, services.ServicePointInput(
                name=name, category=category, address="Jl. Contoh", city="Kota", province=province,
                latitude=str(lat), longitude=str(lon), opening_hours="Setiap hari", contact="0812"))
        db.session.commit()


def test_the_nearest_points_come_first_and_far_provinces_are_not_read(app, placed):
    with app.app_context():
        found, read = nearest.nearest_points(-6.2146, 106.8451, limit=2)
        assert [f.item.name for f in found] == ["Taman Baca Menteng", "Posyandu Cempaka Putih"]
        assert found[0].km < found[1].km < 6
        assert read < 10  # Jakarta and its neighbours, never Papua
        health, _read = nearest.nearest_points(-6.2146, 106.8451, category="health", limit=3)
        assert [f.item.name for f in health] == ["Posyandu Cempaka Putih", "Klinik Bogor", "Posyandu Sleman"]
        everything, read = nearest.nearest_points(-6.2146, 106.8451, limit=10)
        assert len(everything) == 5 and everything[-1].item.name == "Puskesmas Sentani" and read == 38


def test_open_campaigns_are_placed_at_their_town_or_their_provinces_largest(app):
    people = make_people(app)
    make_campaign(app, people["owner"], people["treasurer"], region="33", city="Kota Semarang",
                  title="Dapur umum Semarang")
    make_campaign(app, people["owner"], people["treasurer"], region="33", city="Desa Tak Dikenal",
                  title="Sumur desa")
    make_campaign(app, people["owner"], people["treasurer"], status="closed", region="33",
                  city="Kota Semarang", title="Sudah ditutup")
    with app.app_context():
        found, _read = nearest.nearest_campaigns(-6.9931, 110.4208)
    assert [f.item.title for f in found] == ["Dapur umum Semarang", "Sumur desa"]
    assert found[0].km < 1 and not found[0].approximate and found[1].approximate


def test_the_page_answers_a_town_a_position_and_refuses_bad_ones(app, placed):
    client = client_for(app, None, "en")
    page = client.get("/map/nearest").get_data(as_text=True)
    assert 'list="towns"' in page and "js/near-me.js" in page and 'id="use-position" hidden' in page
    assert "geolocation=(self)" in client.get("/map/nearest").headers["Permissions-Policy"]
    assert "geolocation=()" in client.get("/map").headers["Permissions-Policy"]
    page = client.get("/map/nearest?place=Jakarta").get_data(as_text=True)
    assert page.index("Taman Baca Menteng") < page.index("Klinik Bogor") < page.index("Puskesmas Sentani")
    assert "Distances from Jakarta (DKI Jakarta)" in page
    page = client.get("/map/nearest?lat=-2.57&lon=140.51&category=health").get_data(as_text=True)
    assert page.index("Puskesmas Sentani") < page.index("Posyandu Sleman")
    assert "Taman Baca Menteng" not in page
    unknown = client.get("/map/nearest?place=Atlantis")
    assert unknown.status_code == 400 and 'aria-invalid="true"' in unknown.get_data(as_text=True)
    assert client.get("/map/nearest?place=Atlantis", headers={"Accept": "application/json"}).get_json() == {
        "error": "place: Unknown town.", "field": "place"}
    for query, field in [("lat=40.7&lon=-74", "lat"), ("lat=-6.2&lon=east", "lon"), ("lat=-6.2", "lon"),
                         ("category=sport&place=Jakarta", "category"), ("place=" + "x" * 81, "place")]:
        response = client.get(f"/map/nearest?{query}", headers={"Accept": "application/json"})
        assert response.status_code == 400 and response.get_json()["field"] == field, query
    id_page = client_for(app, None, "id").get("/map/nearest?place=Bandung").get_data(as_text=True)
    assert " km" in id_page
