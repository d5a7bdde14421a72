"""The ledger's public pages: list, entry with proof, campaign finances, the auditor's guide, CSV."""
import csv
import datetime as dt
import hashlib
import io
import json
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from amanah.money import format_money
from ledger import caches, charts, checkpoints, csv_export, formatting, note, queries, storage, tree
from ledger.models import LedgerEntry
from tests.factories.ledger import add, fill, html

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)








ENTRY_LINK = re.compile(r'class="entry-link" href="/ledger/entries/(\d+)"')


def linked_seqs(page: str) -> list[int]:
    return [int(s) for s in ENTRY_LINK.findall(page)]


@contextmanager
def recorded_sql():
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "OFFSET" in statement.upper():
            # SQLite's dialect always writes LIMIT ? OFFSET ?; an offset of 0 skips nothing.
            assert list(parameters)[-1] == 0, (statement, parameters)
            statement = statement.replace("OFFSET ?", "")
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


# ---- /ledger ----

def test_list_is_newest_first_and_links_every_row(app, client):
    with app.app_context():
        fill(8)
    page = html(client.get("/ledger"))
    seqs = linked_seqs(page)
    assert seqs == list(range(7, -1, -1))
    assert "<caption>" in page and 'scope="col"' in page and 'scope="row"' in page
    assert 'href="/ledger/campaigns/camp00000001"' in page


def test_keyset_pagination_walks_every_entry_once_without_offset(app, client, monkeypatch):
    from ledger import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 7)
    with app.app_context():
        fill(30)
    seen, url = [], "/ledger"
    with recorded_sql() as statements:
        while url:
            page = html(client.get(url))
            seen += linked_seqs(page)
            older = re.search(r'rel="next" href="([^"]+)"', page)
            url = older and older.group(1).replace("&amp;", "&")
    assert seen == list(range(29, -1, -1))
    assert not [s for s in statements if "OFFSET" in s.upper()]
    # and back towards the newest, following "Newer entries"
    page = html(client.get("/ledger?before=8"))
    assert linked_seqs(page) == list(range(7, 0, -1))
    newer = re.search(r'rel="prev" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "after=7" in newer
    page = html(client.get(newer))
    assert linked_seqs(page) == list(range(14, 7, -1))


def test_filters_by_kind_campaign_and_date_range(app, client):
    with app.app_context():
        for day in range(5):
            add(campaign="alpha", at=T0 + dt.timedelta(days=day), payment=f"pa{day}")
            add(kind="fee", campaign="beta", amount=-1000,
                at=T0 + dt.timedelta(days=day, hours=23, minutes=59))
    def seqs(query):
        response = client.get("/ledger?" + query)
        assert response.status_code == 200
        return linked_seqs(html(response))
    assert seqs("kind=fee") == [9, 7, 5, 3, 1]
    assert seqs("campaign=alpha") == [8, 6, 4, 2, 0]
    # both days whole, UTC: 03-02 07:59 (seq 1) through 03-03 08:00 (seq 4); 03-04 07:59 is out
    assert seqs("from=2026-03-02&to=2026-03-03") == [4, 3, 2, 1]
    assert seqs("kind=donation&campaign=beta") == []
    english = {"Accept-Language": "en"}
    assert "No entry matches" in html(client.get("/ledger?kind=donation&campaign=beta", headers=english))
    page = html(client.get("/ledger?campaign=alpha&kind=donation"))
    assert 'href="/ledger/export.csv?kind=donation&amp;campaign=alpha"' in page


def test_entries_that_refer_to_an_entry_are_one_link_away(app, client):
    """From a donation to its fee and refund, from a disbursement to its correction: the entry page
    (which never changes) links to the list filtered by ref, which lists what refers to it now."""
    with app.app_context():
        add(payment="pi_a")                                       # 0: a donation
        add(payment="pi_b")                                       # 1: another
        add(kind="fee", amount=-30_000, ref=0, payment="fee_a")   # 2
        add(kind="refund", amount=-500_000, ref=0, payment="re_a")  # 3
        add(kind="fee", amount=-30_000, ref=1, payment="fee_b")   # 4
        add(kind="disbursement", amount=-100_000, ref=None, memo="Buku", evidence="ab" * 32)  # 5
        add(kind="disbursement_reversal", amount=100_000, ref=5, memo="Salah catat")  # 6
    page = html(client.get("/ledger/entries/0"))
    assert 'href="/ledger?ref=0"' in page
    listing = html(client.get("/ledger?ref=0"))
    assert linked_seqs(listing) == [3, 2]
    assert 'href="/ledger/entries/0"' in listing and 'id="ref"' in listing and 'value="0"' in listing
    assert linked_seqs(html(client.get("/ledger?ref=5"))) == [6]
    assert linked_seqs(html(client.get("/ledger?ref=0&kind=fee"))) == [2]
    assert linked_seqs(html(client.get("/ledger?ref=6"))) == []
    assert 'href="/ledger/export.csv?ref=0"' in listing
    rows = list(csv.reader(io.StringIO(client.get("/ledger/export.csv?ref=0").get_data(as_text=True))))
    assert len(rows) == 3  # the header and entries 2 and 3
    api = client.get("/api/v1/ledger/entries?ref=0").get_json()
    assert [e["seq"] for e in api["entries"]] == [3, 2]
    bad = client.get("/ledger?ref=-1")
    assert bad.status_code == 400 and re.search(r'id="ref"[^>]*aria-invalid="true"', html(bad))
    assert client.get("/api/v1/ledger/entries?ref=x").get_json()["field"] == "ref"


@pytest.mark.parametrize(("query", "field"), [
    ("kind=gift", "kind"),
    ("campaign=a+b", "campaign"),
    ("campaign=x@y", "campaign"),
    ("from=2026-13-01", "from"),
    ("from=yesterday", "from"),
    ("to=2026-02-30", "to"),
    ("from=2026-03-02&to=2026-03-01", "to"),
    ("before=abc", "before"),
    ("after=-1", "after"),
    ("before=99999999999999999999", "before"),
])
def test_bad_filters_get_a_form_error_not_a_500(app, client, query, field):
    response = client.get("/ledger?" + query)
    assert response.status_code == 400
    page = html(response)
    assert 'role="alert"' in page
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page) or field in ("before", "after")
    assert "<table" not in page


# ---- /ledger/entries/<seq> ----

def test_entry_page_shows_every_field_the_leaf_and_a_proof_that_verifies(app, client):
    evidence = hashlib.sha256(b"receipt scan").hexdigest()
    with app.app_context():
        add(payment="pi_1", memo="Zakat <b>al-mal</b>")
        appended = add(kind="disbursement", amount=-400_000, ref=0, memo="Buku & alat tulis",
                       evidence=evidence)
        add(payment="pi_2")
        key = checkpoints.verifier_key_text()
    response = client.get("/ledger/entries/1")
    page = html(response)
    for member in ("seq", "at", "kind", "campaign", "amount", "currency", "ref", "memo", "evidence", "prev",
                   "v"):
        assert f"<code>{member}</code>" in page
    assert evidence in page and appended.leaf_hash.hex() in page
    assert "Buku &amp; alat tulis" in page
    from markupsafe import escape
    assert str(escape(appended.leaf.decode())) in page  # the exact bytes, escaped for HTML
    assert 'rel="prev" href="/ledger/entries/0"' in page and 'rel="next" href="/ledger/entries/2"' in page
    assert appended.entry["prev"] in page
    assert "<b>" not in page
    proof = client.get(re.search(r'href="(/ledger/entries/1/proof\.json\?size=\d+)"', page).group(1))
    assert proof.headers["Content-Disposition"].startswith("attachment")
    # the newest checkpoint: witnesses may still cosign it (tests/ledger/test_cosigned_proofs.py)
    assert proof.headers["Cache-Control"] == "no-cache" and proof.headers["ETag"]
    bundle = proof.get_json()
    cp = note.open_checkpoint(bundle["checkpoint"], key)
    assert (bundle["index"], bundle["size"]) == (1, cp.size) and cp.size == 3
    assert bundle["leaf"].encode() == appended.leaf
    assert tree.verify_inclusion(1, cp.size, tree.leaf_hash(bundle["leaf"].encode()),
                                 tree.proof_from_hex(bundle["proof"]), cp.root)
    for h in bundle["proof"]:
        assert h in page
    text = client.get("/ledger/entries/1/proof.tlog-proof").get_data(as_text=True)
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 1\n") and text.endswith(bundle["checkpoint"])


def test_entry_proof_uses_the_latest_checkpoint_and_signs_one_when_none_covers(app, client):
    with app.app_context():
        fill(4)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        fill(2)
    page = html(client.get("/ledger/entries/1"))
    assert "proof-1" not in page
    assert re.search(r"proof\.json\?size=4\"", page)  # the latest checkpoint (size 4) covers seq 1
    page = html(client.get("/ledger/entries/5"))
    assert re.search(r"proof\.json\?size=6\"", page)  # none covered seq 5: one was signed for size 6
    with app.app_context():
        assert checkpoints.latest(db.session).size == 6
    response = client.get("/ledger/entries/1/proof.json?size=5")
    assert response.status_code == 400 and response.get_json()["field"] == "size"


def _page_proof(page: str) -> tuple[int, list[bytes]]:
    size = int(re.search(r"proof\.json\?size=(\d+)\"", page).group(1))
    hashes = re.search(r'<ol class="proof-hashes[^>]*>(.*?)</ol>', page, re.S)
    return size, [bytes.fromhex(h) for h in re.findall(r"<li class=\"hash\">([0-9a-f]{64})</li>",
                                                        hashes.group(1) if hashes else "")]


def test_entry_page_proofs_read_with_the_entry_are_right_also_when_the_checkpoint_moves(app, client, backend):
    """On PostgreSQL the page reads its proof's stored hashes in the entry's own query, for the
    checkpoint size it last saw: the proofs must be those of the checkpoint each page names, also
    just after a new checkpoint (a stale guess), and one query must do for the page."""
    with app.app_context():
        fill(37)
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()

    def check(seqs):
        for seq in seqs:
            page = html(client.get(f"/ledger/entries/{seq}"))
            size, proof = _page_proof(page)
            with app.app_context():
                assert proof == storage.inclusion_proof(db.session, seq, size)
                root = bytes(checkpoints.get(db.session, size).root)
                leaf = db.session.get(LedgerEntry, seq).leaf
            assert tree.verify_inclusion(seq, size, tree.leaf_hash(bytes(leaf)), proof, root)

    check([0, 5, 17, 36])
    with app.app_context():
        fill(29)
        checkpoints.checkpoint_for_current_size(db.session)  # the size the pages last saw is stale
        db.session.commit()
    check([3, 36, 40, 65, 1, 64])
    if backend == "postgresql":
        with recorded_sql() as statements:
            assert client.get("/ledger/entries/22").status_code == 200
        # Campaign names come from a per-process cache (ledger.names), read again at most every
        # few seconds: not the page's own work.
        selects = [s for s in statements if "SAVEPOINT" not in s and "campaigns" not in s]
        assert len(selects) == 1, selects  # the entry, its successor, checkpoint and proof hashes


@pytest.mark.parametrize("url", ["/ledger/entries/3", "/ledger/entries/99999999999999999999999",
                                 "/ledger/entries/-1", "/ledger/entries/x"])
def test_unknown_entries_are_404(app, client, url):
    with app.app_context():
        fill(3)
    assert client.get(url).status_code == 404
    assert client.get("/ledger/entries/7/proof.json").status_code == 404


def test_entry_pages_are_cacheable_and_answer_conditional_requests(app, client):
    with app.app_context():
        fill(3)
    first = client.get("/ledger/entries/1")
    etag = first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"] and "max-age=86400" in first.headers["Cache-Control"]
    assert "Accept-Language" in first.headers["Vary"]
    again = client.get("/ledger/entries/1", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    english = client.get("/ledger/entries/1", headers={"Accept-Language": "en", "If-None-Match": etag})
    assert english.status_code == 200 and english.headers["ETag"] != etag
    head = client.get("/ledger/entries/2", headers={"Accept-Language": "en"})
    assert head.headers["Cache-Control"] == "no-cache" and "newest entry" in html(head).lower()
    with app.app_context():
        fill(1)
    later = client.get("/ledger/entries/2",
                       headers={"If-None-Match": head.headers["ETag"], "Accept-Language": "en"})
    assert later.status_code == 200 and 'rel="next"' in html(later)


def test_list_validators_follow_the_ledger_head(app, client):
    with app.app_context():
        fill(3)
    first = client.get("/ledger")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get("/ledger", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/ledger", headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get("/ledger?kind=fee", headers={"If-None-Match": etag}).status_code == 200
    with app.app_context():
        fill(1)
    assert client.get("/ledger", headers={"If-None-Match": etag}).status_code == 200


def test_conditional_list_request_renders_nothing_and_reads_one_row(app, client):
    with app.app_context():
        fill(5)
    etag = client.get("/ledger").headers["ETag"]
    with recorded_sql() as statements:
        assert client.get("/ledger", headers={"If-None-Match": etag}).status_code == 304
    ledger_reads = [s for s in statements if "ledger_entries" in s]
    assert len(ledger_reads) == 1 and "LIMIT" in ledger_reads[0].upper()


# ---- /ledger/campaigns/<id> ----

def test_campaign_page_shows_figures_chart_and_entries(app, client):
    with app.app_context():
        fill(14)
        fill(3, campaign="other0001")
    response = client.get("/ledger/campaigns/camp00000001")
    page = html(response)
    assert response.status_code == 200
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]+)<', page))
    # fill(14): 4 donations 7.5M, 2 fees, 2 refunds, 2 disbursements, chargebacks netted out
    assert figures["raised"] == format_money(15_000_000, "IDR", "id")
    assert figures["fees"] == format_money(300_000, "IDR", "id")
    assert figures["balance"] == format_money(15_000_000 - 300_000 - 5_000_000 - 2_000_000, "IDR", "id")
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page
    assert "<title id=" in page and "<desc id=" in page and "<details" in page
    assert page.count('class="entry-link"') == 14
    assert "other0001" not in page.split('<h2 id="entries-heading"')[1]
    assert client.get("/ledger/campaigns/nobody").status_code == 404
    assert client.get("/ledger/campaigns/bad%20id").status_code == 404
    assert client.get("/ledger/campaigns/camp00000001?before=x").status_code == 400


def test_fee_ratio_above_ten_percent_is_flagged(app, client):
    with app.app_context():
        add(campaign="cheap", amount=1_000_000, payment="p1")
        add(kind="fee", campaign="cheap", amount=-100_000, payment="f1")  # exactly 10%: allowed
        add(campaign="costly", amount=1_000_000, payment="p2")
        add(kind="fee", campaign="costly", amount=-100_001, payment="f2")
        assert not queries.campaign_finances("cheap").fee_ratio_exceeded
        assert queries.campaign_finances("costly").fee_ratio_exceeded
    assert 'data-flag="fee-ratio"' not in html(client.get("/ledger/campaigns/cheap"))
    page = html(client.get("/ledger/campaigns/costly", headers={"Accept-Language": "en"}))
    assert 'data-flag="fee-ratio"' in page and "10.0%" in page
    assert "Above the 10% ceiling" in page


def test_campaign_partial_renders_by_import_and_by_include(app):
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        fill(3)
        finances = queries.campaign_finances("camp00000001")
        chart = formatting.campaign_chart(finances)
        imported = app.jinja_env.from_string(
            '{% from "ledger/_campaign_finances.html" import campaign_finances %}'
            "{{ campaign_finances(finances, chart, level=3) }}").render(finances=finances, chart=chart)
        included = app.jinja_env.from_string('{% include "ledger/_campaign_finances.html" %}').render(
            finances=finances, chart=chart)
        empty = app.jinja_env.from_string('{% include "ledger/_campaign_finances.html" %}').render(
            finances=None, chart=None)
    assert "<h3" in imported and 'data-figure="balance"' in imported and "<svg" in imported
    assert 'data-figure="balance"' in included
    assert "No money has moved yet" in empty


# ---- the chart ----

def test_chart_series_is_downsampled_and_extended_incrementally(app, monkeypatch):
    monkeypatch.setattr(caches, "CHART_POINTS", 16)
    with app.app_context(), app.test_request_context("/"):
        fill(100)
        finances = queries.campaign_finances("camp00000001")
        points = caches.chart_series(finances)
        assert 2 <= len(points) <= 16 + 2
        assert (points[-1].money_in, points[-1].money_out) == (finances.raised, finances.money_out)
        fill(37)
        finances = queries.campaign_finances("camp00000001")
        with recorded_sql() as statements:
            extended = caches.chart_series(finances)
        assert any("seq >" in s for s in statements)
        app.extensions.pop("ledger.chart_series")
        assert caches.chart_series(finances) == extended
        assert extended[-1].money_in - extended[-1].money_out == finances.balance
        times = [p.at for p in extended]
        assert times == sorted(times)


def test_a_cached_series_is_dropped_when_its_entries_were_rolled_back(app):
    with app.app_context(), app.test_request_context("/"):
        fill(5)
        for i in range(3):
            storage.append(db.session, kind="donation", campaign="camp00000001", amount=7_000_000 + i,
                           currency="IDR")
        uncommitted = queries.campaign_finances("camp00000001")
        assert caches.chart_series(uncommitted)[-1].money_in == uncommitted.raised  # cached at seq 7
        db.session.rollback()
        fill(4)  # seqs 5..8 again, with other leaves
        finances = queries.campaign_finances("camp00000001")
        assert finances.last_seq == 8
        assert caches.chart_series(finances)[-1].money_in == finances.raised


def test_chart_svg_is_accessible_and_escapes_text():
    point = caches.ChartPoint
    points = [point(dt.datetime(2026, 1, d, tzinfo=dt.UTC), d * 1000, d * 300) for d in range(1, 6)]
    labels = charts.Labels(title="In & out <script>", desc="Rp 5.000 in", money_in="In", money_out="Out")
    svg = charts.cumulative_chart(points, labels, axis_money=str, date=lambda at: at.date().isoformat(),
                                  element_id="c1")
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert "In &amp; out &lt;script&gt;" in svg and "<script" not in svg
    assert "style=" not in svg
    assert svg.count("<polyline") == 2
    assert charts.nice_ceiling(4321) == (6000, 1500) or charts.nice_ceiling(4321)[0] >= 4321
    top, step = charts.nice_ceiling(99)
    assert top >= 99 and step in (25, 50)


# ---- /ledger/verify ----

def test_verify_guide_has_commands_go_program_key_and_checkpoints(app, client, monkeypatch):
    from ledger import pages

    monkeypatch.setattr(pages, "CHECKPOINT_PAGE_SIZE", 2)
    with app.app_context():
        for _ in range(3):
            fill(2)
            checkpoints.checkpoint_for_current_size(db.session)
            db.session.commit()
        key = checkpoints.verifier_key_text()
    page = html(client.get("/ledger/verify"))
    assert "python -m ledger.verify --export ledger.jsonl --checkpoint cp.txt --key key.txt" in page
    assert "golang.org/x/mod/sumdb/tlog" in page and "note.Open(" in page and "1&lt;&lt;20" in page
    assert key in page
    assert "<caption>" in page and '<th scope="row" class="num">6</th>' in page
    assert 'href="/ledger/proof/consistency?old=4&amp;size=6"' in page
    older = re.search(r'rel="next" href="([^"]+)"', page).group(1)
    assert '<th scope="row" class="num">2</th>' in html(client.get(older))
    assert client.get("/ledger/verify?before=zz").status_code == 400


# ---- CSV ----

def test_csv_export_neutralizes_formulas_and_keeps_money_readable(app, client):
    with app.app_context():
        add(memo="=HYPERLINK(\"http://evil\")", payment="pi_x")
        add(kind="fee", amount=-500_000, memo="+cmd", ref=0)
        add(memo="@SUM(A1)", payment="pi_y")
        add(kind="refund", amount=-1_000_000, memo="-1+1", ref=0)
    response = client.get("/ledger/export.csv")
    assert response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [r["memo"] for r in rows] == ["'=HYPERLINK(\"http://evil\")", "'+cmd", "'@SUM(A1)", "'-1+1"]
    assert rows[1]["amount"] == "(Rp 5.000)" and rows[1]["amount_minor"] == "-500000"
    assert rows[0]["amount"] == "Rp 10.000" and rows[1]["ref"] == "0"
    english = client.get("/ledger/export.csv", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "(IDR\u00a05,000)" in english or "(IDR 5,000)" in english
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "@"))
            assert not cell.startswith("-") or cell.lstrip("-").isdigit()


def test_neutralize_leaves_numbers_alone():
    assert csv_export.neutralize("-42") == "-42"
    assert csv_export.neutralize("-4e2") == "'-4e2"
    assert csv_export.neutralize("\t=1") == "'\t=1"
    assert csv_export.neutralize(None) == ""
    assert csv_export.accounting_amount(-123_400, "IDR", "id") == "(Rp 1.234)"


def test_csv_export_streams_every_row_in_batches_and_filters(app, client):
    with app.app_context():
        appender = storage.Appender(db.session)
        for i in range(2500):
            appender.append(kind="donation", campaign="big" if i % 2 else "small", amount=100 + i,
                            currency="IDR", at=T0 + dt.timedelta(hours=i))
        appender.flush()
        db.session.commit()
    with recorded_sql() as statements:
        body = client.get("/ledger/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert [int(r["seq"]) for r in rows] == list(range(2500))
    assert sum(1 for s in statements if "FROM ledger_entries" in s) >= 2  # keyset batches, no cap
    big = list(csv.DictReader(io.StringIO(client.get("/ledger/export.csv?campaign=big").get_data(as_text=True)
                                          .removeprefix("\ufeff"))))
    assert len(big) == 1250 and {r["campaign"] for r in big} == {"big"}
    day = client.get("/ledger/export.csv?from=2026-03-02&to=2026-03-02&end=100")
    day_rows = list(csv.DictReader(io.StringIO(day.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [int(r["seq"]) for r in day_rows] == list(range(16, 40))
    assert "immutable" in day.headers["Cache-Control"]
    assert client.get("/ledger/export.csv").headers["Cache-Control"] == "no-cache"
    assert client.get("/ledger/export.csv?end=9999").get_json()["field"] == "end"
    assert client.get("/ledger/export.csv?from=2026-99-01").get_json()["field"] == "from"


# ---- every page: CSP-safe, in the navigation ----

def test_ledger_pages_are_csp_safe_and_in_the_navigation(app, client):
    with app.app_context():
        fill(3)
    for url in ("/ledger", "/ledger/entries/1", "/ledger/campaigns/camp00000001", "/ledger/verify",
                "/ledger?kind=bogus"):
        page = html(client.get(url))
        assert "style=" not in page and "<script" not in page and not re.search(r"\son[a-z]+=", page), url
        assert '<a href="/ledger"' in page
    page = html(client.get("/", headers={"Accept-Language": "id"}))
    assert ">Buku besar<" in page


def test_list_sql_uses_limits_not_aggregates(app, client):
    with app.app_context():
        fill(20)
    with recorded_sql() as statements:
        client.get("/ledger?campaign=camp00000001&kind=fee")
        client.get("/ledger/campaigns/camp00000001")
        client.get("/api/v1/ledger/campaigns/camp00000001")
    for statement in statements:
        lowered = statement.lower()
        assert "sum(" not in lowered and "count(" not in lowered and "offset" not in lowered, statement


def test_entry_json_in_list_rows_matches_the_leaf(app):
    with app.app_context():
        appended = fill(3)
        page = queries.list_entries(queries.EntryFilters(), limit=10)
        assert [r.seq for r in page.rows] == [2, 1, 0]
        assert page.rows[0].leaf == appended[2].leaf
        assert page.rows[0].fields == json.loads(appended[2].leaf)
        assert db.session.get(LedgerEntry, 0) is not None


def test_pages_on_a_committed_database_see_each_new_entry(databases, fresh_database_url, tmp_path):
    """Without the test transaction: on PostgreSQL, reads outside a transaction use autocommit."""
    from tests.conftest import make_app

    app = make_app(fresh_database_url, tmp_path / "instance")
    client = app.test_client()
    try:
        with app.app_context():
            fill(3)
        assert client.get("/ledger/entries/2").status_code == 200
        with app.app_context():
            fill(2)
            in_transaction = queries.campaign_finances("camp00000001")  # through the session
            assert in_transaction.entry_count == 5
            db.session.remove()
        assert "Buku besar memuat 5 entri" in client.get("/ledger").get_data(as_text=True)
        assert re.search(r'proof\.json\?size=5"', client.get("/ledger/entries/4").get_data(as_text=True))
        body = client.get("/api/v1/ledger/campaigns/camp00000001").get_json()
        assert body["entry_count"] == 5 and body["series"][-1]["money_in"] == body["raised"]
        with app.app_context(), queries.reader() as source:
            kind = "Connection" if databases.backend == "postgresql" else "Session"
            assert type(source).__name__ == kind
    finally:
        with app.app_context():
            db.engine.dispose()


def test_pages_on_a_real_engine_read_through_one_connection_and_give_it_back(fresh_database_url, tmp_path):
    """On PostgreSQL pages read in autocommit through one pooled connection per request."""
    from tests.conftest import make_app

    app = make_app(fresh_database_url, tmp_path)
    with app.app_context():
        for i in range(5):
            storage.append(db.session, kind="donation", campaign="pool00001", amount=1000 + i,
                           currency="IDR", payment=f"pi_pool_{i}")
        db.session.commit()
        checkpoints.checkpoint_for_current_size(db.session)
        db.session.commit()
        db.session.remove()
        engine = db.engine
    checkouts = []
    sa.event.listen(engine.pool, "checkout", lambda *args: checkouts.append(1))
    client = app.test_client()
    for seq in range(5):
        response = client.get(f"/ledger/entries/{seq}")
        assert response.status_code == 200 and f"pi_pool_{seq}".encode() in response.data
    assert client.get("/ledger?kind=donation").status_code == 200
    assert engine.pool.checkedout() == 0
    checkouts.clear()
    for seq in range(5):  # the checkpoint's note is known now: only reads of the entry and its proof
        assert client.get(f"/ledger/entries/{seq}", headers={"Accept-Language": "en"}).status_code == 200
    if engine.dialect.name == "postgresql":
        assert len(checkouts) == 5  # one per request, though each page reads more than once
    assert engine.pool.checkedout() == 0
    engine.dispose()


@pytest.mark.parametrize("script_root", ["", "/amanah"])
def test_int_url_builds_what_url_for_builds(app, script_root):
    from flask import url_for

    from ledger.pages import int_url
    cases = [("ledger_pages.entry", {"seq": 0}), ("ledger_pages.entry", {"seq": 123456789}),
             ("ledger_pages.index", {}), ("ledger.export_jsonl", {"start": 5, "end": 6}),
             ("ledger_api.entry", {"seq": 42}),
             ("ledger_pages.entry_proof_json", {"seq": 7, "size": 1000000}),
             ("ledger_pages.entry_proof_text", {"seq": 7, "size": 8}), ("ledger_pages.verify_guide", {})]
    with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
        for endpoint, values in cases * 2:  # the second time from the stored pattern
            assert int_url(endpoint, **values) == url_for(endpoint, **values)
            assert int_url(endpoint, **values).startswith(script_root + "/")
