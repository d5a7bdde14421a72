"""/data, /data/aggregates.csv and /data/aggregates.json: figures, filters, licence, bad input."""
from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from amanah.money import format_money
from campaigns import regions
from ledger import checkpoints, storage
from opendata import services
from tests.factories.documents import make_campaign

EN = {"Accept-Language": "en"}


@pytest.fixture
def world(app):
    """Two open campaigns (health in Aceh, education in Jawa Barat) with gifts in two months."""
    with app.app_context():
        health, school = make_campaign(title="Posyandu Melati"), make_campaign(title="Taman baca")
        health.category, health.region, health.goal = "health", "11", 1_000_000
        school.category, school.region, school.goal = "education", "32", 500_000
        db.session.commit()
        appender = storage.Appender(db.session)
        for public_id, amount, at, who in ((health.public_id, 300_000, "2026-01-10", "user:1"),
                                           (health.public_id, 100_000, "2026-02-10", "user:1"),
                                           (school.public_id, 700_000, "2026-02-11", "user:2")):
            appender.append(kind="donation", campaign=public_id, amount=amount, currency="IDR",
                            at=services.dt.datetime.fromisoformat(f"{at}T03:00:00+00:00"), donor_key=who)
        appender.append(kind="fee", campaign=health.public_id, amount=-9_000, currency="IDR", ref=0,
                        at=services.dt.datetime(2026, 1, 10, 3, tzinfo=services.dt.UTC))
        appender.flush()
        db.session.commit()
        return {"health": health.public_id, "school": school.public_id}


def test_the_dashboard_shows_the_measure_over_months_categories_and_provinces(client, world):
    page = client.get("/data?measure=raised", headers=EN).get_data(as_text=True)
    assert "CC BY 4.0" in page or "CC-BY-4.0" in page
    assert 'rel="license"' in page and "Western Indonesian Time" in page
    assert page.count("<svg") == 4 and page.count('role="img"') == 4  # months, categories, provinces, short
    assert f'<p class="data-total">{format_money(1_100_000, "IDR", "en")}</p>' in page
    assert f'<th scope="row">2026-01</th><td class="num">{format_money(300_000, "IDR", "en")}</td>' in page
    assert "Aceh" in page and "Jawa Barat" in page
    donors = client.get("/data?measure=donors&category=health", headers=EN).get_data(as_text=True)
    assert '<p class="data-total">1</p>' in donors  # one donor gave twice
    ranged = client.get("/data?measure=donors&category=health&from=2026-01&to=2026-02",
                        headers=EN).get_data(as_text=True)
    assert '<p class="data-total">2</p>' in ranged and "counts twice" in ranged


def test_where_help_is_short_sums_each_open_campaigns_shortfall(app, world):
    with app.test_request_context():
        filters = services.parse_filters({})
        by_category = {s.code: s for s in services.shortfalls(filters, "category")}
        by_province = {s.code: s for s in services.shortfalls(filters, "province")}
    assert (by_category["health"].goals, by_category["health"].raised, by_category["health"].short) == (
        1_000_000, 400_000, 600_000)
    assert by_category["education"].short == 0  # past its goal: it makes up for nobody
    assert by_province["11"].short == 600_000 and by_province["32"].raised == 700_000


def test_province_totals_give_every_province(app, world):
    with app.test_request_context():
        totals = services.province_totals()
        health = services.province_totals(category="health")
        with pytest.raises(services.FilterError) as refused:
            services.province_totals(category="sport")
    assert set(totals) == set(regions.CODES) and len(totals) == 38
    assert (totals["11"].raised, totals["11"].fees, totals["11"].donors, totals["11"].active_campaigns) == (
        400_000, 9_000, 1, 1)
    assert totals["32"].raised == 700_000 and health["32"].raised == 0 and totals["51"].raised == 0
    assert refused.value.field == "category"


def test_the_json_names_its_licence_ledger_size_and_each_rows_entries(app, client, world):
    with app.app_context():
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        size = storage.size(db.session)
    body = client.get("/data/aggregates.json").get_json()
    assert body["licence"]["identifier"] == "CC-BY-4.0"
    assert body["ledger_size"] == size == 4 and body["checkpoint_size"] == 4
    assert body["ledger_export"].endswith("/ledger/export.jsonl?end=4")
    everything = next(r for r in body["rows"]
                      if (r["month"], r["category"], r["province"]) == ("*", "*", "*"))
    assert (everything["first_seq"], everything["last_seq"], everything["entries"]) == (0, 3, 4)
    assert all(0 <= r["first_seq"] <= r["last_seq"] < size for r in body["rows"])
    health = client.get("/data/aggregates.json?category=health&from=2026-02").get_json()["rows"]
    assert {(r["month"], r["province"]) for r in health} == {("2026-02", "11"), ("2026-02", "*")}


def test_the_csv_has_the_licence_and_the_same_rows(client, world):
    response = client.get("/data/aggregates.csv?province=32")
    assert response.mimetype == "text/csv" and "license" in response.headers["Link"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("# ") and "CC-BY-4.0" in lines[0] and "ledger_size=4" in lines[1]
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in lines if not line.startswith("#")))))
    assert {r["province"] for r in rows} == {"32"}
    assert rows == [{k: str(v) for k, v in r.items()}
                    for r in client.get("/data/aggregates.json?province=32").get_json()["rows"]]


BAD = [("category", "sport"), ("province", "99"), ("province", "Aceh"), ("from", "2026-13"),
       ("to", "January"), ("currency", "XXX"), ("measure", "happiness")]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_filter_is_refused_with_its_name(client, name, value):
    page = client.get("/data", query_string={name: value})
    assert page.status_code == 400
    assert f'id="{name}" name="{name}"' in page.get_data(as_text=True)
    assert page.get_data(as_text=True).count('aria-invalid="true"') == 1
    if name == "measure":
        return
    for path in ("/data/aggregates.json", "/data/aggregates.csv"):
        response = client.get(path, query_string={name: value})
        assert response.status_code == 400 and response.get_json()["field"] == name


def test_months_in_the_wrong_order_are_refused(client):
    assert client.get("/data?from=2026-05&to=2026-01").status_code == 400
    assert client.get("/data/aggregates.json?from=2026-05&to=2026-01").get_json()["field"] == "to"


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_page_is_linked_from_the_header_and_the_home_page(client, language):
    home = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    assert home.count('href="/data"') == 2  # the header's link and the home page's section
    page = client.get("/data", headers={"Accept-Language": language})
    assert page.status_code == 200 and f'<html lang="{language}">' in page.get_data(as_text=True)


def test_an_empty_ledger_shows_an_empty_dashboard(client):
    page = client.get("/data")
    assert page.status_code == 200
    assert client.get("/data/aggregates.json").get_json()["rows"] == []


def test_aggregates_are_read_with_the_ledger_size_in_one_statement(app, world):
    statements = []
    with app.test_request_context():
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            services.open_data_rows(services.parse_filters({}, with_measure=False))
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
    selects = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    assert len(selects) == 1 and "opendata_aggregates" in selects[0] and "ledger_entries" in selects[0]
