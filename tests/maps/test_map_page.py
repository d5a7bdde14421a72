"""The map of provinces: every BPS code has a shape or a stated shared outline, the figures come
from the running totals per province and category, the page and its table, and bad filters."""
from __future__ import annotations

import itertools
import re

import pytest

from amanah.extensions import db
from campaigns import regions
from campaigns.models import Campaign
from ledger.models import CampaignTotal
from maps import boundaries, figures
from tests.factories.campaigns import client_for, make_campaign, make_people

SHARED = {"65": "64", "92": "91", "95": "94", "96": "94", "97": "94"}


def test_every_one_of_the_38_bps_codes_has_a_shape_or_shares_a_stated_outline():
    shapes = boundaries.shapes()
    assert list(shapes) == list(regions.CODES) and len(shapes) == 38
    for code, shape in shapes.items():
        assert shape.path.startswith("M") and shape.path.endswith("z")
        assert shape.shares_with == SHARED.get(code)
        if shape.shares_with:
            assert shapes[shape.shares_with].shares_with is None  # shares a drawn outline
    assert {s.code for s in boundaries.drawn()} == set(regions.CODES) - set(SHARED)
    assert boundaries.sharing("94") == ["94", "95", "96", "97"]
    # Each drawn province is its own: no two outlines are the same.
    assert len({s.path for s in boundaries.drawn()}) == 33


def test_the_projection_round_trips_and_places_known_towns_inside_the_map():
    for lat, lon in [(-6.2146, 106.8451), (5.5417, 95.3333), (-2.5337, 140.7181), (-10.1708, 123.6069)]:
        x, y = boundaries.project(lat, lon)
        assert 0 <= x <= boundaries.width() and 0 <= y <= boundaries.height()
        back = boundaries.unproject(x, y)
        assert back == pytest.approx((lat, lon), abs=0.01)
    jakarta = boundaries.extent("31")
    assert jakarta.contains(-6.2146, 106.8451) and not jakarta.contains(-6.9222, 107.6069)


def _fund(public_id: str, raised: int, disbursed: int = 0, donations: int = 1, refunded: int = 0):
    db.session.add(CampaignTotal(campaign=public_id, currency="IDR", raised=raised, refunded=refunded,
                                 disbursed=disbursed, donation_count=donations, entry_count=donations,
                                 last_seq=0))
    db.session.commit()


@pytest.fixture
def funded(app):
    people = make_people(app)
    ids = {
        "sleman_health": make_campaign(app, people["owner"], people["treasurer"], region="34",
                                       category="health"),
        "sleman_school": make_campaign(app, people["owner"], people["treasurer"], region="34",
                                       category="education", city="Kota Yogyakarta"),
        "papua_health": make_campaign(app, people["owner"], people["treasurer"], region="96",
                                      category="health", city="Kabupaten Mimika"),
        "closed_aceh": make_campaign(app, people["owner"], people["treasurer"], status="closed", region="11",
                                     category="social", city="Kota Banda Aceh"),
        "draft_bali": make_campaign(app, people["owner"], people["treasurer"], status="draft", region="51",
                                    category="culture", city="Kota Denpasar"),
    }
    with app.app_context():
        _fund(ids["sleman_health"], 5_000_000_00, disbursed=1_000_000_00, donations=3, refunded=50_000_00)
        _fund(ids["sleman_school"], 2_000_000_00, donations=2)
        _fund(ids["papua_health"], 700_000_00, donations=1)
        _fund(ids["closed_aceh"], 100_000_00, donations=4)
        _fund(ids["draft_bali"], 999_999_00, donations=9)  # cannot happen; must not show anyway
    return ids


def test_province_figures_add_up_public_campaigns_per_province_and_category(app, funded):
    with app.app_context():
        every = figures.province_figures()
        health = figures.province_figures("health")
    assert len(every) == 38
    yogya = every["34"]
    assert yogya.raised == {"IDR": 6_950_000_00} and yogya.disbursed == {"IDR": 1_000_000_00}
    assert (yogya.active, yogya.donations, yogya.campaigns) == (2, 5, 2)
    assert every["11"].active == 0 and every["11"].campaigns == 1 and every["11"].donations == 4
    assert every["51"].campaigns == 0 and every["51"].raised == {}  # a draft is not public
    assert every["96"].value("raised") == 700_000_00
    assert health["34"].raised == {"IDR": 4_950_000_00} and health["34"].active == 1
    assert health["11"].campaigns == 0


def test_shades_split_the_values_into_ordered_ranges():
    ranges = figures.shades([0, 0, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560])
    assert [r.level for r in ranges] == [1, 2, 3, 4, 5]
    assert ranges[0].low == 5 and ranges[-1].high == 2560
    assert all(a.high < b.low for a, b in itertools.pairwise(ranges))
    assert figures.level_of(0, ranges) == 0 and figures.level_of(2560, ranges) == 5
    assert figures.shades([0, 0]) == [] and [r.level for r in figures.shades([7, 7, 7])] == [5]
    assert [r.level for r in figures.shades([1, 2, 3])] == [2, 4, 5]


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_map_links_each_province_to_its_campaigns_with_its_figures(app, funded, language):
    page = client_for(app, None, language).get("/map").get_data(as_text=True)
    assert page.count('class="province shade-') == 33
    assert 'href="/campaigns/?region=34"' in page
    yogya = re.search(r'href="/campaigns/\?region=34" class="province shade-(\d)">\s*<title>([^<]*)</title>',
                      page)
    assert yogya and yogya.group(1) == "5"  # the most raised
    assert "DI Yogyakarta" in yogya.group(2) and "6.950.000" in yogya.group(2).replace(",", ".")
    # Papua's outline carries the four provinces that share it, each with its own figures.
    papua = re.search(r'href="/campaigns/\?region=94" class="province shade-\d">\s*<title>([^<]*)</title>',
                      page).group(1)
    for name in ("Papua", "Papua Selatan", "Papua Tengah", "Papua Pegunungan"):
        assert f"{name}:" in papua
    assert 'id="shared-outlines"' in page and "Natural Earth" in page
    assert page.count("<tr>") == 39  # the head and 38 provinces


def test_the_table_sorts_on_the_server_and_the_category_filters_links(app, funded):
    client = client_for(app, None, "en")
    page = client.get("/map?sort=raised&order=desc").get_data(as_text=True)
    body = page.split("<tbody>")[1]
    names = re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a>', body)
    assert names[:3] == ["DI Yogyakarta", "Papua Tengah", "Aceh"]
    assert 'aria-sort="descending"' in page
    page = client.get("/map?category=health&measure=active").get_data(as_text=True)
    assert 'href="/campaigns/?region=34&amp;category=health"' in page
    names = re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a>', page.split("<tbody>")[1])
    assert names == sorted(names, key=str.casefold)


@pytest.mark.parametrize(("query", "parameter"), [
    ("measure=everything", "measure"), ("category=sport", "category"), ("sort=name", "sort"),
    ("sort=raised&order=up", "order"), ("measure=raised&category=Health", "category"),
])
def test_bad_filters_are_refused_naming_the_parameter(app, query, parameter):
    client = client_for(app, None, "en")
    response = client.get(f"/map?{query}")
    assert response.status_code == 400
    assert f"{parameter}:" in response.get_data(as_text=True)
    response = client.get(f"/map?{query}", headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json()["field"] == parameter


def test_home_page_and_header_link_to_the_map(app):
    page = client_for(app, None, "en").get("/").get_data(as_text=True)
    assert page.count('href="/map"') >= 2 and 'href="/map/nearest"' in page
    assert "Where help goes" in page
    id_page = client_for(app, None, "id").get("/map").get_data(as_text=True)
    assert "<html lang=\"id\"" in id_page


def test_campaigns_are_untouched_by_the_map(app, funded):
    with app.app_context():
        before = db.session.query(Campaign).count()
    client_for(app, None).get("/map")
    with app.app_context():
        assert db.session.query(Campaign).count() == before


def test_donors_are_counted_once_per_province_however_many_gifts_and_campaigns(app):
    from amanah.extensions import db
    from tests.factories import make_user
    from tests.factories.documents import make_campaign as campaign_with_money
    from tests.factories.documents import paid_donation
    with app.app_context():
        first, second = campaign_with_money(), campaign_with_money()
        first.region = second.region = "34"
        db.session.commit()
        for campaign in (first, first, second):  # one guest address, three gifts, two campaigns
            paid_donation(app, campaign, amount=100_000_00)
        paid_donation(app, second, amount=50_000_00, user=make_user())
        yogya = figures.province_figures()["34"]
        assert (yogya.donations, yogya.donors) == (4, 2)
        assert figures.province_figures("health")["34"].donors == 0
    page = app.test_client().get("/map?measure=donors&sort=donors", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "2 donors" in page.get_data(as_text=True)
