"""The home page: featured and urgent campaigns, the platform's totals, the six categories as links,
where the money went (withheld evidence never linked), in both languages, from a short-lived cache."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from flask import render_template_string

from accounts.models import Role, User
from amanah import home
from amanah.db import now_utc
from amanah.extensions import db
from campaigns import categories
from campaigns import home as campaigns_home
from campaigns.models import Campaign
from campaigns.services import today_wib
from ledger import home as ledger_home
from ledger import storage
from tests.factories import login, make_user
from tests.factories.treasury import RP, fund, pdf, picture
from treasury import disbursements
from treasury import home as treasury_home

EN = {"Accept-Language": "en"}
ID = {"Accept-Language": "id"}


@pytest.fixture(autouse=True)
def fresh_home(app):
    home.clear_cache(app)
    yield
    home.clear_cache(app)


class People:
    def __init__(self):
        self.organizer = make_user(None, Role.ORGANIZER, name="Organizer")
        self.treasurer = make_user(None, Role.TREASURER, name="Treasurer")


def _campaign(people: People, title: str, *, days: int = 30, goal_rp: int = 10_000_000,
              status: str = "published", city: str = "Kabupaten Sleman", region: str = "34",
              category: str = "health", cover: str | None = None) -> Campaign:
    campaign = Campaign(slug=re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"), title=title,
                        story="Cerita kampanye.\n\nParagraf kedua.", goal=goal_rp * RP, currency="IDR",
                        deadline=today_wib() + dt.timedelta(days=days), category=category, region=region,
                        city=city, beneficiary="Warga", organizer_id=people.organizer.id,
                        treasurer_id=people.treasurer.id, status=status, cover=cover,
                        published_at=now_utc() - dt.timedelta(days=10),
                        closed_at=now_utc() if status == "closed" else None,
                        created_at=now_utc() - dt.timedelta(days=20))
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _give(campaign: Campaign, *amounts_rp: int) -> None:
    for amount in amounts_rp:
        fund(campaign, amount * RP)


def _section(html: str, css_class: str) -> str:
    match = re.search(rf'<section class="home-section {css_class}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def _titles(section_html: str) -> list[str]:
    return re.findall(r"<h3><a href=\"[^\"]+\">([^<]+)</a></h3>", section_html)


# ---- featured and urgent campaigns ----

def test_featured_are_the_most_given_to_and_urgent_the_nearest_deadlines_short_of_their_goal(app):
    with app.app_context():
        people = People()
        popular = _campaign(people, "Posyandu Melati", days=50)
        _give(popular, 100_000, 50_000, 20_000, 5_000)
        second = _campaign(people, "Taman baca Oesapa", days=60)
        _give(second, 200_000, 10_000, 10_000)
        third = _campaign(people, "Koperasi nelayan Bira", days=70)
        _give(third, 5_000, 5_000)
        soon = _campaign(people, "Sumur bor Ketapang", days=2)
        sooner = _campaign(people, "Kelas lansia Duren Sawit", days=0)  # its last day
        funded = _campaign(people, "Gamelan sanggar Gianyar", days=1, goal_rp=100_000)
        _give(funded, 100_000)  # reached its goal: not urgent any more
        _campaign(people, "Sudah lewat tenggat", days=-1)  # deadline passed, not yet closed lazily
        _campaign(people, "Kampanye ditutup", days=5, status="closed")
        _campaign(people, "Masih draf", days=3, status="draft")

        featured = campaigns_home.featured_campaigns()
        assert [c.campaign.title for c in featured] == ["Posyandu Melati", "Taman baca Oesapa",
                                                        "Koperasi nelayan Bira"]
        assert featured[0].totals.donation_count == 4 and featured[0].totals.net_raised == 175_000 * RP
        urgent = campaigns_home.urgent_campaigns(exclude=tuple(c.campaign.id for c in featured))
        assert [c.campaign.title for c in urgent] == ["Kelas lansia Duren Sawit", "Sumur bor Ketapang"]
        assert soon.id in {c.campaign.id for c in urgent} and sooner.id in {c.campaign.id for c in urgent}

    html = app.test_client().get("/", headers=EN).get_data(as_text=True)
    assert _titles(_section(html, "home-featured")) == ["Posyandu Melati", "Taman baca Oesapa",
                                                        "Koperasi nelayan Bira"]
    assert _titles(_section(html, "home-urgent")) == ["Kelas lansia Duren Sawit", "Sumur bor Ketapang"]
    for hidden in ("Sudah lewat tenggat", "Kampanye ditutup", "Masih draf", "Gamelan sanggar Gianyar"):
        assert hidden not in html


def test_a_card_shows_cover_title_place_progress_and_days_left_in_both_languages(app):
    with app.app_context():
        people = People()
        campaign = _campaign(people, "Air bersih Ketapang", days=12, goal_rp=2_000_000,
                             city="Kabupaten Lampung Selatan", region="18", category="social",
                             cover="a" * 64 + ".webp")
        _give(campaign, 500_000)
        public_id = campaign.public_id
    client = app.test_client()
    english = _section(client.get("/", headers=EN).get_data(as_text=True), "home-featured")
    assert f'src="/campaigns/covers/{"a" * 64}.webp"' in english
    assert f'href="/campaigns/{public_id}/air-bersih-ketapang"' in english
    assert "Kabupaten Lampung Selatan, Lampung" in english
    assert '<progress max="200000000" value="50000000"' in english and "(25%)" in english
    assert "IDR 500,000" in english and "12 days left" in english
    indonesian = _section(client.get("/", headers=ID).get_data(as_text=True), "home-featured")
    assert "Rp 500.000" in indonesian and "12 hari lagi" in indonesian


def test_a_campaign_without_a_cover_gets_its_category_colour(app):
    with app.app_context():
        _campaign(People(), "Tanpa sampul", category="digital")
    html = _section(app.test_client().get("/", headers=EN).get_data(as_text=True), "home-featured")
    assert 'class="campaign-cover placeholder cat-digital"' in html


# ---- the platform's totals ----

@pytest.mark.files
def test_platform_totals_come_from_the_running_totals(app):
    with app.app_context():
        people = People()
        first, second = _campaign(people, "Satu"), _campaign(people, "Dua")
        _campaign(people, "Tiga belum ada donasi")
        _give(first, 1_000_000, 500_000)
        _give(second, 250_000)
        entry = storage.append(db.session, kind="donation", campaign=second.public_id, amount=100_000 * RP,
                               currency="IDR")
        storage.append(db.session, kind="refund", campaign=second.public_id, amount=-100_000 * RP,
                       currency="IDR", ref=entry.seq)
        db.session.commit()
        disbursements.record(first, first.treasurer, disbursements.DisbursementInput(
            amount=300_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Sinar",
            purpose="Timbangan bayi", category="goods", evidence=pdf(31)))
        db.session.commit()
        totals = ledger_home.platform_totals()
        assert [(m.currency, m.raised, m.disbursed) for m in totals.money] == [
            ("IDR", 1_750_000 * RP, 300_000 * RP)]  # net of the refund
        assert totals.donations == 4 and totals.campaigns == 2
    client = app.test_client()
    indonesian = _section(client.get("/", headers=ID).get_data(as_text=True), "home-totals")
    assert "Rp 1.750.000" in indonesian and "Rp 300.000" in indonesian
    assert re.search(r"Donasi</dt><dd>4</dd>", indonesian)
    english = _section(client.get("/", headers=EN).get_data(as_text=True), "home-totals")
    assert "IDR 1,750,000" in english and "IDR 300,000" in english
    assert re.search(r"Campaigns funded</dt><dd>2</dd>", english)
    assert 'href="/ledger"' in english


def test_an_empty_platform_shows_neither_cards_nor_totals_but_the_categories(app):
    html = app.test_client().get("/", headers=EN).get_data(as_text=True)
    assert _section(html, "home-categories")
    for absent in ("home-featured", "home-urgent", "home-totals", "home-disbursements"):
        assert not _section(html, absent), absent


# ---- categories ----

def test_the_six_categories_link_to_the_filtered_campaign_list(app):
    with app.app_context():
        people = People()
        _campaign(people, "Kampanye kesehatan", category="health")
        _campaign(people, "Kampanye budaya", category="culture")
    client = app.test_client()
    section = _section(client.get("/", headers=EN).get_data(as_text=True), "home-categories")
    links = re.findall(r'<a href="/campaigns/\?category=(\w+)"><strong>([^<]+)</strong>', section)
    assert [code for code, _label in links] == list(categories.CODES)
    assert dict(links)["economy"] == "Local economy: cooperatives, UMKM"
    listed = client.get("/campaigns/?category=culture", headers=EN).get_data(as_text=True)
    assert "Kampanye budaya" in listed and "Kampanye kesehatan" not in listed
    indonesian = _section(client.get("/", headers=ID).get_data(as_text=True), "home-categories")
    assert "Layanan sosial" in indonesian or "Sosial" in indonesian
    assert "aid for the elderly" not in indonesian


# ---- where the money went ----

def _pay(campaign, n: int, *, public: bool = True, kind: str = "organization", payee: str = "Toko Sinar Jaya",
         days_ago: int = 0, fmt: str = "PDF"):
    row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
        amount=n * 10_000 * RP, paid_on=today_wib() - dt.timedelta(days=days_ago), payee_kind=kind,
        payee_name=payee, purpose=f"Pembelian nomor {n}", category="goods",
        evidence=pdf(n) if fmt == "PDF" else picture(n), evidence_public=public))
    db.session.commit()
    return row


@pytest.mark.files
def test_where_the_money_went_links_public_evidence_only(app):
    with app.test_request_context():
        people = People()
        campaign = _campaign(people, "Posyandu Melati")
        _give(campaign, 5_000_000)
        public = _pay(campaign, 1, days_ago=3)
        withheld = _pay(campaign, 2, public=False, days_ago=2, fmt="PNG")
        person = _pay(campaign, 3, kind="individual", payee="Pak Darto", days_ago=1, fmt="PNG")
        mistaken = _pay(campaign, 4)
        disbursements.reverse(mistaken, campaign.treasurer, "Dicatat dua kali")
        db.session.commit()
        rows = treasury_home.latest_disbursements()
        assert [r.id for r in rows] == [person.id, withheld.id, public.id]  # latest paid first
        shas = {"public": public.evidence_sha256, "withheld": withheld.evidence_sha256,
                "mistaken": mistaken.evidence_sha256}
        seqs = {"public": public.ledger_seq, "withheld": withheld.ledger_seq}
        admin_id = make_user(None, Role.ADMIN).id

    anonymous = app.test_client().get("/", headers=EN).get_data(as_text=True)
    signed_in = app.test_client()
    with app.app_context():
        login(signed_in, db.session.get(User, admin_id))
    home.clear_cache(app)
    staff = signed_in.get("/", headers=EN).get_data(as_text=True)
    for html in (anonymous, staff):
        section = _section(html, "home-disbursements")
        assert f'href="/evidence/{shas["public"]}"' in section and "Evidence (PDF)" in section
        assert shas["withheld"] not in section and "Evidence withheld" in section
        assert f'href="/ledger/entries/{seqs["withheld"]}"' in section  # the entry itself is public
        assert "Pembelian nomor 4" not in section and shas["mistaken"] not in section  # reversed
        assert "Pak Darto" not in section and "Paid to a private person" in section
        assert "Paid to Toko Sinar Jaya" in section and "Posyandu Melati" in section


@pytest.mark.files
def test_only_public_campaigns_show_their_disbursements(app):
    with app.test_request_context():
        people = People()
        campaign = _campaign(people, "Masih draf")
        _give(campaign, 1_000_000)
        _pay(campaign, 5)
        campaign.status = "draft"
        campaign.published_at = None
        db.session.commit()
        assert treasury_home.latest_disbursements() == []


# ---- cost, cache, frame ----

@pytest.mark.files
def test_the_home_page_runs_a_few_queries_then_serves_its_sections_from_the_cache(app):
    with app.test_request_context():
        people = People()
        for n in range(8):
            campaign = _campaign(people, f"Kampanye nomor {n}", days=n + 1)
            _give(campaign, 1_000_000 * (n + 1))
            if n < 3:
                _pay(campaign, 40 + n)
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(statement)

    client = app.test_client()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = client.get("/", headers=EN).get_data(as_text=True)
        first_count = len(statements)
        again = client.get("/", headers=EN).get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert 1 <= first_count <= 5, '\n'.join(s[:90] for s in statements)
    assert len(statements) == first_count  # the second visit read nothing
    assert again == first
    assert _section(first, "home-disbursements").count('class="disbursement-item"') == 3


def test_the_cache_expires(app):
    with app.app_context():
        people = People()
        _campaign(people, "Yang pertama")
    with app.test_request_context("/", headers=EN):
        assert "Yang pertama" in home.render_sections(clock=lambda: 1000.0)
        _campaign(People(), "Yang kedua")
        assert "Yang kedua" not in home.render_sections(clock=lambda: 1000.0 + home.CACHE_SECONDS - 1)
        assert "Yang kedua" in home.render_sections(clock=lambda: 1000.0 + home.CACHE_SECONDS)
        with_language = render_template_string("{{ home_sections() }}")
        assert "Yang kedua" in with_language


def test_each_language_has_its_own_cached_sections(app):
    with app.app_context():
        _campaign(People(), "Kampanye dua bahasa", days=9)
    client = app.test_client()
    english = client.get("/", headers=EN).get_data(as_text=True)
    indonesian = client.get("/", headers=ID).get_data(as_text=True)
    assert "9 days left" in english and "9 hari lagi" in indonesian
    assert "9 days left" not in indonesian


def test_sections_are_registered_once_and_in_order(app):
    names = [s.name for s in home.sections(app)]
    assert names == ["ledger.totals", "campaigns.cards", "campaigns.categories", "maps.link",
                     "treasury.latest", "opendata.link"]
    with pytest.raises(ValueError, match="already registered"):
        home.register_home_section(app, "ledger.totals", "x.html", context=dict, order=1)


def test_the_footer_names_the_demo_organization_by_default(app):
    html = app.test_client().get("/", headers=EN).get_data(as_text=True)
    footer = html[html.index('<footer class="site-footer">'):]
    assert app.config["ORG_ADDRESS"] and app.config["ORG_REGISTRATION_NO"]
    assert app.config["ORG_ADDRESS"] in footer and app.config["ORG_REGISTRATION_NO"] in footer
