"""Browsing, text search, sorting, paging and the read-only API, with totals from the ledger."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns import search, services
from campaigns.models import Campaign
from ledger.models import CampaignTotal
from tests.factories.campaigns import future, make_campaign, make_people

CAMPAIGNS = [
    # key, title, category, region, city, goal (minor), net raised (minor) or None for no ledger row
    ("posyandu", "Posyandu Melati di Kabupaten Sleman", "health", "34", "Kabupaten Sleman",
     2_500_000_000, 2_000_000_000),
    ("tamanbaca", "Taman baca anak nelayan di Kupang", "education", "53", "Kota Kupang",
     1_500_000_000, None),
    ("koperasi", "Koperasi nelayan Desa Tanjung Bira", "economy", "73", "Kabupaten Bulukumba",
     10_000_000_000, 9_500_000_000),
    ("lansia", "Kelas literasi digital untuk lansia", "digital", "31", "Jakarta Timur",
     800_000_000, 100_000_000),
]


@pytest.fixture
def catalogue(app):
    people = make_people(app)
    ids = {}
    for days, (key, title, category, region, city, goal, raised) in enumerate(CAMPAIGNS, start=10):
        ids[key] = make_campaign(app, people["owner"], people["treasurer"], title=title, category=category,
                                 region=region, city=city, goal=goal, deadline=future(days),
                                 admin_id=people["admin"], beneficiary=f"Warga {city}",
                                 story=f"{title}.\n\nKami mengajak semua warga ikut membantu **bersama**.")
        if raised is not None:
            with app.app_context():
                db.session.add(CampaignTotal(campaign=ids[key], currency="IDR", raised=raised + 10_000_000,
                                             refunded=10_000_000, fees=5_000_000, disbursed=1_000_000,
                                             donation_count=7, entry_count=10, last_seq=1))
                db.session.commit()
    ids["draft"] = make_campaign(app, people["owner"], people["treasurer"], status="draft",
                                 title="Posyandu rahasia masih draf")
    ids["submitted"] = make_campaign(app, people["owner"], people["treasurer"], status="submitted",
                                     title="Posyandu menunggu tinjauan")
    ids["closed"] = make_campaign(app, people["owner"], people["treasurer"], status="closed",
                                  title="Sanggar tari Bali yang sudah selesai", category="culture",
                                  region="51",
                                  city="Gianyar", admin_id=people["admin"], beneficiary="Penari muda Gianyar",
                                  story="Sanggar tari untuk anak-anak Gianyar, dengan pelatih dari desa.")
    return ids


def _found(app, **args) -> list[str]:
    with app.test_request_context():
        page = search.search(search.parse_filters(args))
        return [card.campaign.public_id for card in page.items]


def test_only_public_campaigns_are_listed(app, catalogue):
    found = _found(app)
    assert set(found) == {catalogue[k] for k in ("posyandu", "tamanbaca", "koperasi", "lansia", "closed")}
    assert _found(app, status="closed") == [catalogue["closed"]]
    assert catalogue["closed"] not in _found(app, status="published")


@pytest.mark.parametrize(("args", "keys"), [
    ({"category": "health"}, ["posyandu"]),
    ({"region": "53"}, ["tamanbaca"]),
    ({"region": "73", "category": "economy"}, ["koperasi"]),
    ({"region": "73", "category": "health"}, []),
    ({"q": "posyandu"}, ["posyandu"]),
    ({"q": "Nelayan"}, ["tamanbaca", "koperasi"]),
    ({"q": "nelayan Kupang"}, ["tamanbaca"]),
    ({"q": "lansia"}, ["lansia"]),
    ({"q": "Bulukumba"}, ["koperasi"]),
    ({"q": "tidakadakatasepertiini"}, []),
    ({"q": "100%_ \\"}, []),
])
def test_filters_and_text_search(app, catalogue, args, keys):
    assert sorted(_found(app, **args)) == sorted(catalogue[k] for k in keys)


@pytest.mark.parametrize(("sort", "first_keys"), [
    ("newest", ["closed", "lansia", "koperasi", "tamanbaca", "posyandu"]),
    ("ending", ["posyandu", "tamanbaca", "koperasi", "lansia", "closed"]),
    ("funded", ["koperasi", "posyandu", "lansia"]),
    ("closest", ["koperasi", "posyandu", "lansia"]),
])
def test_sorting(app, catalogue, sort, first_keys):
    found = _found(app, sort=sort)
    assert found[: len(first_keys)] == [catalogue[k] for k in first_keys]


def test_paging(app, catalogue):
    pages = [_found(app, per_page="2", page=str(n)) for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert len({pid for page in pages for pid in page}) == 5


def test_totals_come_from_the_ledger_and_default_to_zero(app, catalogue):
    with app.app_context():
        posyandu = services.get_by_public_id(catalogue["posyandu"])
        totals = search.totals_for(posyandu)
        assert (totals.raised, totals.refunded) == (2_010_000_000, 10_000_000)
        assert totals.net_raised == 2_000_000_000
        assert totals.balance == 2_000_000_000 - 5_000_000 - 1_000_000
        assert search.totals_for(services.get_by_public_id(catalogue["tamanbaca"])) == search.Totals()


def test_cards_show_progress_without_inline_styles(client, catalogue):
    html = client.get("/campaigns/?category=health").get_data(as_text=True)
    assert '<progress max="2500000000" value="2000000000"' in html
    assert "Rp 20.000.000" in html and "Rp 25.000.000" in html and "(80%)" in html
    assert "style=" not in html and "<script" not in html


def test_campaign_list_headings_do_not_skip_a_level(client, catalogue):
    import itertools
    import re
    for url in ("/campaigns/", "/campaigns/?q=zzzznothing"):
        levels = [int(n) for n in re.findall(r"<h([1-6])\b", client.get(url).get_data(as_text=True))]
        assert levels[0] == 1 and levels.count(1) == 1, (url, levels)
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), (url, levels)


def test_campaign_page_shows_story_progress_days_left_and_organizer(client, catalogue):
    html = client.get(f"/campaigns/{catalogue['posyandu']}", follow_redirects=True).get_data(as_text=True)
    assert "Posyandu Melati di Kabupaten Sleman" in html and "Siti Rahayu" in html
    assert "<strong>bersama</strong>" in html
    assert '<progress max="2500000000" value="2000000000"' in html
    assert "10 hari lagi" in html
    assert "style=" not in html


def test_a_first_small_gift_shows_under_one_percent_not_zero(app, client, catalogue):
    html = client.get(f"/campaigns/{catalogue['tamanbaca']}", follow_redirects=True).get_data(as_text=True)
    assert "(0%)" in html
    with app.app_context():
        db.session.add(CampaignTotal(campaign=catalogue["tamanbaca"], currency="IDR", raised=5_000_000,
                                     donation_count=1, entry_count=1, last_seq=0))
        db.session.commit()
    html = client.get(f"/campaigns/{catalogue['tamanbaca']}", follow_redirects=True).get_data(as_text=True)
    assert "(&lt;1%)" in html and "(0%)" not in html


@pytest.mark.parametrize(("query", "field"), [
    ("category=sports", "category"), ("region=99", "region"), ("status=draft", "status"),
    ("status=submitted", "status"), ("sort=random", "sort"), ("page=0", "page"), ("page=abc", "page"),
    ("page=-1", "page"), ("per_page=500", "per_page"), ("q=" + "x" * 201, "q"),
])
def test_api_bad_parameters_are_400_naming_the_parameter(client, query, field):
    response = client.get(f"/api/v1/campaigns?{query}")
    assert response.status_code == 400 and response.is_json
    body = response.get_json()
    assert body["field"] == field and body["error"]


def test_html_bad_parameters_are_400_too(client):
    assert client.get("/campaigns/?category=sports").status_code == 400


def test_api_list_and_detail(client, catalogue):
    body = client.get("/api/v1/campaigns?per_page=2&sort=funded").get_json()
    assert body["total"] == 5 and body["pages"] == 3 and body["page"] == 1 and body["per_page"] == 2
    first = body["items"][0]
    assert first["public_id"] == catalogue["koperasi"]
    assert first["goal"] == 10_000_000_000 and first["currency"] == "IDR"
    assert first["totals"] == {"raised": 9_510_000_000, "refunded": 10_000_000, "chargebacks": 0,
                               "fees": 5_000_000, "disbursed": 1_000_000, "net_raised": 9_500_000_000,
                               "balance": 9_494_000_000, "donation_count": 7}
    listed = {item["public_id"] for page in (1, 2, 3) for item in
              client.get(f"/api/v1/campaigns?per_page=2&page={page}").get_json()["items"]}
    assert catalogue["draft"] not in listed and catalogue["submitted"] not in listed
    detail = client.get(f"/api/v1/campaigns/{catalogue['tamanbaca']}").get_json()
    assert detail["category"] == "education" and detail["region"] == "53" and detail["status"] == "published"
    assert detail["region_name"] == "Nusa Tenggara Timur"
    assert detail["deadline"] == future(11).isoformat()
    assert detail["totals"]["raised"] == 0 and detail["totals"]["balance"] == 0
    assert "<strong>bersama</strong>" in detail["story_html"]
    for key in ("draft", "submitted"):
        response = client.get(f"/api/v1/campaigns/{catalogue[key]}")
        assert response.status_code == 404 and response.is_json


def test_text_search_uses_full_text_search_on_postgresql(app, catalogue, backend):
    """PostgreSQL stems Indonesian words; the portable fallback matches substrings."""
    found = _found(app, q="koperasinya") if backend == "postgresql" else _found(app, q="operasi")
    assert found == [catalogue["koperasi"]]


def test_postgresql_answers_text_search_from_its_index(app, catalogue, backend):
    """The query's document is the indexed expression, so the planner can use the GIN index, also
    in a generic plan where the search words are a parameter."""
    from amanah.db import POSTGRESQL_ONLY_INDEXES
    from campaigns.models import SEARCH_INDEX, search_document
    assert SEARCH_INDEX in POSTGRESQL_ONLY_INDEXES
    if backend != "postgresql":
        pytest.skip("SQLite searches with LIKE; there is no full-text index to use")
    with app.test_request_context():
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        statement = sa.select(Campaign.id).where(search._text_condition("koperasi nelayan"))
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
        assert SEARCH_INDEX in plan, plan
        document = search_document().compile(db.engine)
        db.session.execute(sa.text("SET LOCAL plan_cache_mode = force_generic_plan"))
        db.session.execute(sa.text(f"PREPARE words(text) AS SELECT id FROM campaigns WHERE {document} "
                                   "@@ websearch_to_tsquery('indonesian'::regconfig, $1)"))
        plan = "\n".join(db.session.execute(sa.text("EXPLAIN EXECUTE words('nelayan')")).scalars())
        db.session.execute(sa.text("DEALLOCATE words"))
        assert SEARCH_INDEX in plan, plan


def test_updates_appear_on_the_page_and_in_the_atom_feed(app, catalogue):
    from tests.factories.campaigns import client_for

    with app.app_context():
        owner_id = services.get_by_public_id(catalogue["posyandu"]).organizer_id
    client = client_for(app, owner_id)
    response = client.post(f"/campaigns/{catalogue['posyandu']}/updates/new",
                           data={"title": "Timbangan baru tiba",
                                 "body": "Terima kasih! <script>x()</script>"})
    assert response.status_code == 303 and "#update-" in response.headers["Location"]
    bad = client.post(f"/campaigns/{catalogue['posyandu']}/updates/new", data={"title": "", "body": ""})
    assert bad.status_code == 422
    page = client.get(f"/campaigns/{catalogue['posyandu']}", follow_redirects=True).get_data(as_text=True)
    assert "Timbangan baru tiba" in page and "<script>x()" not in page
    feed = client.get(f"/campaigns/{catalogue['posyandu']}/updates.atom")
    assert feed.mimetype == "application/atom+xml"
    import xml.etree.ElementTree as ET
    root = ET.fromstring(feed.data)  # noqa: S314 - our own feed
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1 and entries[0].find("a:title", ns).text == "Timbangan baru tiba"
    content = entries[0].find("a:content", ns)
    assert content.get("type") == "html" and "<script" not in content.text
    assert root.find("a:id", ns).text.endswith(f"/campaigns/{catalogue['posyandu']}")


def test_closed_campaign_sorts_last_when_ending_soon(app, catalogue):
    assert _found(app, sort="ending")[-1] == catalogue["closed"]


def test_search_counts_match_items(app, catalogue):
    with app.test_request_context():
        page = search.search(search.parse_filters({"q": "nelayan"}))
        assert page.total == 2 and page.pages == 1 and not page.has_next
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignTotal)) == 3


# ---- places: province names in both languages, and what kind of place a word names ----

@pytest.fixture
def places(app, catalogue):
    people = make_people(app)
    ids = dict(catalogue)
    for key, title, region, city in [
            ("jayapura", "Air bersih untuk kampung Sentani", "94", "Kabupaten Jayapura"),
            ("manokwari", "Perahu untuk nelayan Teluk Doreri", "91", "Kabupaten Manokwari"),
            ("bandung", "Perpustakaan keliling anak", "32", "Kota Bandung"),
            ("semarang", "Dapur umum korban banjir", "33", "Kota Semarang")]:
        ids[key] = make_campaign(app, people["owner"], people["treasurer"], title=title, region=region,
                                 city=city, admin_id=people["admin"], beneficiary=f"Warga {city}",
                                 story=f"{title}. Kami mengajak semua warga ikut membantu.")
    return ids


@pytest.mark.parametrize(("q", "keys"), [
    ("Papua", ["jayapura", "manokwari"]),            # the issue: a campaign in Kabupaten Jayapura, Papua
    ("papua barat", ["manokwari"]),
    ("West Papua", ["manokwari"]),
    ("Jayapura", ["jayapura"]),
    ("Kabupaten Jayapura", ["jayapura"]),
    ("Jayapura Regency", ["jayapura"]),
    ("Bandung City", ["bandung"]),
    ("Jawa Barat", ["bandung"]),
    ("West Java", ["bandung"]),
    ("jabar", ["bandung"]),
    ("Central Java", ["semarang"]),
    ("Java", ["bandung", "semarang"]),
    ("banjir Java", ["semarang"]),
    ("nelayan Papua", ["manokwari"]),
    ("Yogyakarta", ["posyandu"]),
    ("Jogja", ["posyandu"]),
    ("East Nusa Tenggara", ["tamanbaca"]),
    ("NTT", ["tamanbaca"]),
    ("South Sulawesi", ["koperasi"]),
    ("Sulawesi Selatan", ["koperasi"]),
    ("Jakarta", ["lansia"]),
    ("Kalimantan", []),
    ("Papua Pegunungan", []),
])
def test_search_finds_provinces_and_cities_in_both_languages(app, places, q, keys):
    assert sorted(_found(app, q=q)) == sorted(places[k] for k in keys)


def test_province_words_are_read_generously_but_not_from_small_words():
    from campaigns import regions
    assert regions.codes_for_word("Papua") == {"91", "92", "94", "95", "96", "97"}
    assert regions.codes_for_word("Sumatra") == regions.codes_for_word("Sumatera") == {"12", "13", "16"}
    assert "92" not in regions.codes_for_word("west")  # Southwest Papua is not a western province
    assert regions.codes_for_word("di") == regions.codes_for_word("of") == frozenset()
    assert regions.codes_for_word("Kalim") == {"61", "62", "63", "64", "65"}
    assert regions.codes_for_word("nelayan") == frozenset()
