"""The campaign page's panels: registered by donations, documents and treasury, built in the view.

The page used to call Jinja globals that queried (recent_donations, can_see_campaign_report,
can_bulk_download, campaign_disbursements...). These tests pin the registry's order, who sees which
panel, that each panel is built by the package that owns it, and the exact panels every kind of
visitor finds on the page, in order.
"""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from flask import Flask

from amanah.extensions import db
from campaigns import panels, services
from campaigns.services import today_wib
from tests.factories import make_user
from tests.factories.campaigns import VISITORS, client_for, make_campaign, make_people, user
from tests.factories.documents import paid_donation
from tests.factories.treasury import pdf
from treasury import disbursements

ROOT = Path(__file__).resolve().parents[2]

# Every panel, in the order the page draws them (slot by slot, top to bottom).
PAGE_ORDER = ["donations.sandbox_banner", "donations.covered_fees", "reports.final_prompt",
              "reports.timeline",
              "treasury.disbursements", "treasury.treasurer_changed", "donations.recent", "reports.post",
              "treasury.change_treasurer", "treasury.box", "documents.campaign_documents",
              "treasury.treasurer_changes"]

# What marks each panel in the page's HTML.
MARKERS = {
    "donations.sandbox_banner": 'class="sandbox-banner"',
    "reports.final_prompt": 'class="notice final-report-prompt"',
    "reports.timeline": 'class="reports-timeline"',
    "reports.post": "Post a progress report",
    "donations.covered_fees": 'class="covered-fees"',  # only once a donor covered a fee: not here
    "treasury.disbursements": 'id="disbursements"',
    "treasury.treasurer_changed": 'class="treasurer-changed"',
    "donations.recent": 'class="recent-donations"',
    "treasury.change_treasurer": "Change the treasurer",
    "treasury.box": 'class="owner-actions treasury-actions"',
    "documents.campaign_documents": "Financial report (PDF)",
    "treasury.treasurer_changes": 'class="treasurer-changes"',
}
BULK_LINK = "Download all receipts (ZIP)"

EVERYONE_PUBLIC = ["donations.sandbox_banner", "reports.timeline", "treasury.disbursements",
                   "donations.recent"]
# Who sees which panel of a published campaign (in the sandbox, as in the tests).
PUBLISHED = {
    "anonymous": EVERYONE_PUBLIC,
    "donor": EVERYONE_PUBLIC,
    "other_organizer": EVERYONE_PUBLIC,
    "owner": [*EVERYONE_PUBLIC, "reports.post"],
    "auditor": [*EVERYONE_PUBLIC, "documents.campaign_documents"],
    "treasurer": [*EVERYONE_PUBLIC, "reports.post", "treasury.box", "documents.campaign_documents"],
    "admin": [*EVERYONE_PUBLIC, "reports.post", "treasury.change_treasurer", "treasury.box",
              "documents.campaign_documents"],
}
# A draft: nothing public; the report links for its treasurer and the admins (404 for the rest).
DRAFT = {"owner": [], "treasurer": ["documents.campaign_documents"],
         "admin": ["documents.campaign_documents"]}
MAY_BULK_DOWNLOAD = {"treasurer", "admin"}


@pytest.fixture
def page_world(app):
    """A published campaign with a paid donation and two disbursements (one withheld), and a draft."""
    people = make_people(app)
    published = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
    draft = make_campaign(app, people["owner"], people["treasurer"], status="draft",
                          title="Perpustakaan keliling untuk anak pesisir")
    with app.app_context():
        campaign = services.get_by_public_id(published)
        paid_donation(app, campaign, amount=150_000_000, name="Siti Rahayu")
        campaign = services.get_by_public_id(published)
        for n, public in ((1, True), (2, False)):
            disbursements.record(campaign, user(people["treasurer"]), disbursements.DisbursementInput(
                amount=100_000 * n, paid_on=today_wib(), payee_kind="organization",
                payee_name="Toko Sinar Jaya", purpose="Pipa PVC untuk air bersih", category="goods",
                evidence=pdf(n), evidence_public=public))
            db.session.commit()
    return people, published, draft


def _names(by_slot) -> list[str]:
    return [panel.name for slot in panels.SLOTS for panel in by_slot[slot]]


def _panels_in(html: str) -> list[str]:
    """The panels found in the page, in the order they appear."""
    found = [(html.find(marker), name) for name, marker in MARKERS.items() if marker in html]
    for name, marker in MARKERS.items():
        assert html.count(marker) <= 1, f"{name} drawn more than once"
    return [name for _, name in sorted(found)]


# ---- the registry ----

def test_the_app_registers_every_panel_in_page_order(app):
    assert [p.name for p in panels.providers(app)] == PAGE_ORDER


def test_each_panel_is_decided_and_built_by_its_own_package(app):
    for provider in panels.providers(app):
        package = provider.name.split(".")[0]
        assert provider.visible.__module__ == f"{package}.panels"
        assert provider.context.__module__ in (f"{package}.panels", "campaigns.panels")  # or no context
        assert provider.template.startswith(f"{package}/")
        assert (ROOT / "templates" / provider.template).is_file()


def test_a_slot_draws_by_order_then_by_registration():
    app = Flask(__name__)
    everyone = lambda user, campaign: True  # noqa: E731
    panels.register_panel(app, "manage", "b.late", "b.html", visible=everyone, order=20)
    panels.register_panel(app, "manage", "a.first", "a.html", visible=everyone, order=10)
    panels.register_panel(app, "manage", "c.tie", "c.html", visible=everyone, order=20)
    panels.register_panel(app, "banner", "d.top", "d.html", visible=everyone, order=99)
    assert [p.name for p in panels.providers(app)] == ["d.top", "a.first", "b.late", "c.tie"]


def test_unknown_slots_and_duplicate_names_are_refused():
    app = Flask(__name__)
    everyone = lambda user, campaign: True  # noqa: E731
    with pytest.raises(ValueError, match="unknown campaign page slot"):
        panels.register_panel(app, "footer", "x.y", "x.html", visible=everyone)
    panels.register_panel(app, "side", "x.y", "x.html", visible=everyone)
    with pytest.raises(ValueError, match="already registered"):
        panels.register_panel(app, "main", "x.y", "x.html", visible=everyone)


def test_a_hidden_panel_is_left_out_and_builds_no_context():
    app = Flask(__name__)
    built = []

    def context(user, campaign):
        built.append(campaign)
        return {"n": 1}

    panels.register_panel(app, "side", "t.shown", "t.html", visible=lambda u, c: True, context=context)
    panels.register_panel(app, "side", "t.hidden", "h.html", visible=lambda u, c: c == "yes",
                          context=context)
    with app.app_context():
        by_slot = panels.panels_for("no", None)
    assert _names(by_slot) == ["t.shown"] and built == ["no"]
    assert by_slot["side"][0].context == {"n": 1, "campaign": "no"}


# ---- who sees what ----

@pytest.mark.parametrize("who", VISITORS)
def test_panels_of_a_published_campaign_follow_each_panels_permission(app, page_world, who):
    people, published, _ = page_world
    with app.test_request_context():
        campaign = services.get_by_public_id(published)
        by_slot = panels.panels_for(campaign, user(people[who]))
        assert _names(by_slot) == PUBLISHED[who]
        for panel in by_slot["manage"]:
            if panel.name == "documents.campaign_documents":
                assert panel.context["can_bulk_download"] is (who in MAY_BULK_DOWNLOAD)
            if panel.name == "treasury.box":
                assert panel.context["balance"] == disbursements.available_balance(campaign)


def test_a_panel_whose_permission_says_no_is_not_on_the_page(app, page_world, monkeypatch):
    from documents import panels as document_panels
    people, published, _ = page_world
    page = client_for(app, people["admin"], "en").get(f"/campaigns/{published}", follow_redirects=True)
    assert MARKERS["documents.campaign_documents"] in page.text
    monkeypatch.setattr(document_panels, "can", lambda user, action, obj=None: False)
    page = client_for(app, people["admin"], "en").get(f"/campaigns/{published}", follow_redirects=True)
    assert page.status_code == 200 and MARKERS["documents.campaign_documents"] not in page.text
    assert BULK_LINK not in page.text and MARKERS["treasury.box"] in page.text


@pytest.mark.parametrize("who", VISITORS)
def test_the_published_page_shows_exactly_its_panels_in_order(app, page_world, who):
    people, published, _ = page_world
    page = client_for(app, people[who], "en").get(f"/campaigns/{published}", follow_redirects=True)
    assert page.status_code == 200
    assert _panels_in(page.text) == PUBLISHED[who]
    assert (BULK_LINK in page.text) is (who in MAY_BULK_DOWNLOAD)
    assert "Siti Rahayu" in page.text and "Toko Sinar Jaya" in page.text
    # The withheld evidence opens for staff only; corrections for whoever may record.
    assert ("Open (staff only)" in page.text) is (who in ("treasurer", "admin", "auditor"))
    assert ("Correct this disbursement" in page.text) is (who in ("treasurer", "admin"))


@pytest.mark.parametrize("who", VISITORS)
def test_the_draft_page_shows_only_the_documents_box_to_its_staff(app, page_world, who):
    people, _, draft = page_world
    page = client_for(app, people[who], "en").get(f"/campaigns/{draft}", follow_redirects=True)
    if who not in DRAFT:
        assert page.status_code == 404
        return
    assert page.status_code == 200 and _panels_in(page.text) == DRAFT[who]
    assert (BULK_LINK in page.text) is (who in MAY_BULK_DOWNLOAD)


def test_the_page_needs_no_querying_template_globals(app):
    for gone in ("recent_donations", "can_see_campaign_report", "can_bulk_download",
                 "campaign_disbursements", "can_record_disbursement", "can_see_withheld_evidence",
                 "available_balance"):
        assert gone not in app.jinja_env.globals


# ---- campaigns stays below the packages that add panels ----

def test_campaigns_imports_neither_donations_documents_nor_treasury():
    higher = {"donations", "documents", "treasury"}
    for path in sorted((ROOT / "campaigns").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in higher, f"{path.name} imports {name}"


# ---- treasurer changes: treasury's panels inside the facts and the history ----

def test_a_treasurer_change_shows_its_date_to_all_and_the_record_to_admins(app, page_world):
    from treasury import treasurers
    people, published, _ = page_world
    with app.app_context():
        successor = make_user(None, "treasurer", name="Wulan Bendahara")
        treasurers.change_treasurer(services.get_by_public_id(published), user(people["admin"]), successor.id,
                                    "Pak Agus mengundurkan diri.")
        db.session.commit()
    for who in VISITORS:
        page = client_for(app, people[who], "en").get(f"/campaigns/{published}", follow_redirects=True).text
        names = _panels_in(page)
        assert "treasury.treasurer_changed" in names
        assert ("treasury.treasurer_changes" in names) is (who == "admin")
        assert ("Pak Agus mengundurkan diri." in page) is (who == "admin")
        # The note sits in the facts, right after the treasurer's name.
        assert re.search(r"Wulan Bendahara<br><small class=\"treasurer-changed\">Treasurer changed on ", page)


def test_the_review_page_builds_only_the_history_panels(app, page_world, monkeypatch):
    people, _, draft = page_world
    built = []
    recording = [dataclasses.replace(p, context=_recording(p, built)) for p in panels.providers(app)]
    monkeypatch.setitem(app.extensions, "campaign_panels", recording)
    with app.test_request_context():
        campaign = services.get_by_public_id(draft)
        by_slot = panels.panels_for(campaign, user(people["admin"]), slots=("history",))
    assert all(not by_slot[slot] for slot in panels.SLOTS)
    assert built == ["treasury.treasurer_changes"]


def _recording(provider, built):
    original = provider.context

    def context(user, campaign):
        built.append(provider.name)
        return original(user, campaign)
    return context
