"""Every kind of page, as each kind of visitor sees it, in a real browser: on a 390 px phone and a
1366 px laptop no page is wider than the screen, the staff header stays on one row on the laptop,
and axe-core finds no WCAG 2.1 A or AA violation.

The world is the demo data (`flask demo`: every role, campaigns in each state, donations, a refund,
disbursements with evidence), served by a real HTTP server; one Chromium serves the whole module.
"""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import url_for
from werkzeug.serving import make_server

from accounts.models import User
from amanah.demo import run_loaders
from amanah.extensions import db
from campaigns.models import Campaign
from donations import dashboard
from donations.models import Donation
from ledger.models import LedgerEntry
from organizations.models import Organization, OrganizationMember
from tests.conftest import make_app, serve_until_shutdown
from tests.factories.browser import axe_violations, chromium_browser, horizontal_overflow
from treasury.models import Disbursement

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
PASSWORDS = {"donor": ("putri.handayani@amanah.test", "demo-donor-2026"),
             "organizer": ("budi.santoso@amanah.test", "demo-organizer-2026"),
             "treasurer": ("agus.pratama@amanah.test", "demo-treasurer-2026"),
             "auditor": ("maya.kusuma@amanah.test", "demo-auditor-2026"),
             "admin": ("dewi.lestari@amanah.test", "demo-admin-2026")}


def _world(app) -> dict:
    """The paths worth visiting, found in the demo data."""
    def one(query):
        return db.session.execute(query.limit(1)).scalars().first()

    by_email = {u.email: u for u in db.session.scalars(sa.select(User))}
    organizer = by_email[PASSWORDS["organizer"][0]]
    funded = one(sa.select(Campaign).join(Donation, Donation.campaign_id == Campaign.id)
                 .join(Disbursement, Disbursement.campaign_id == Campaign.id)
                 .where(Campaign.status == "published").order_by(Campaign.id))
    own_published = one(sa.select(Campaign).where(Campaign.organizer_id == organizer.id,
                                                  Campaign.status == "published").order_by(Campaign.id))
    own_draft = one(sa.select(Campaign).where(Campaign.organizer_id == organizer.id,
                                              Campaign.status == "draft"))
    submitted = one(sa.select(Campaign).where(Campaign.status == "submitted"))
    donation = one(sa.select(Donation).where(Donation.campaign_id == funded.id, Donation.status == "paid")
                   .order_by(Donation.id))
    disbursement = one(sa.select(Disbursement).where(Disbursement.campaign_id == funded.id))
    seq = one(sa.select(LedgerEntry.seq).where(LedgerEntry.kind == "disbursement"))
    organization = one(sa.select(Organization).order_by(Organization.id))
    own_organization = one(sa.select(Organization).join(OrganizationMember)
                           .where(OrganizationMember.user_id == organizer.id).order_by(Organization.id))
    with app.test_request_context("/"):
        guest_view = url_for("giving.guest_view", token=dashboard.guest_token(donation))
    funded_path = f"/campaigns/{funded.public_id}"
    return {
        "anonymous": ["/", "/about", "/campaigns/", "/campaigns/?q=air&sort=newest",
                      f"{funded_path}/{funded.slug}",
                      f"{funded_path}/give", "/ledger", f"/ledger/entries/{seq}",
                      f"/ledger/campaigns/{funded.public_id}", "/ledger/verify", "/ledger/receipt-proof",
                      guest_view, "/account/login", "/account/register", "/account/password/forgot",
                      "/organizations/", f"/organizations/{organization.slug}", "/no-such-page",
                      "/data", "/data?measure=donors&category=health&from=2026-01",
                      "/map", "/map?measure=active&category=health&sort=raised", "/map/nearest",
                      "/map/nearest?place=Semarang", "/map/nearest?place=Atlantis"],
        "donor": ["/donations/mine", "/account/profile", "/account/password", "/account/email",
                  f"{funded_path}/give"],
        "organizer": ["/campaigns/mine", "/campaigns/new", f"/campaigns/{own_published.public_id}",
                      f"/campaigns/{own_published.public_id}/edit", f"/campaigns/{own_draft.public_id}",
                      f"/campaigns/{own_published.public_id}/updates/new",
                      f"/campaigns/{own_published.public_id}/indicators", "/organizations/new",
                      f"/organizations/{own_organization.slug}/manage",
                      f"/organizations/{own_organization.slug}/service-points",
                      f"/organizations/{own_organization.slug}/service-points/new"],
        "treasurer": ["/treasury/", f"/treasury/{funded.public_id}/disbursements/new",
                      f"/treasury/{funded.public_id}/disbursements/{disbursement.id}/reverse",
                      f"{funded_path}/documents/receipts", funded_path],
        "auditor": ["/admin/users/role-changes", "/payments/reconciliation", funded_path],
        "admin": ["/admin/users", f"/admin/users/{organizer.id}", "/campaigns/review/",
                  f"/campaigns/{submitted.public_id}/review", f"/campaigns/{submitted.public_id}",
                  f"{funded_path}/treasurer", f"/donations/{donation.id}/refund", f"{funded_path}/changes",
                  funded_path, "/treasury/", "/payments/reconciliation", "/admin/organizations",
                  f"/organizations/{organization.slug}/verification"],
    }


@pytest.fixture(scope="module")
def site(databases, tmp_path_factory):
    app = make_app(databases.fresh(), tmp_path_factory.mktemp("layout") / "instance")
    with app.app_context():
        run_loaders()
        paths = _world(app)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=serve_until_shutdown, args=(server,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    server.paths = paths
    yield server
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as browser:
        yield browser


def signed_in_page(browser, site, role: str):
    context = browser.new_context(locale="id-ID", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    if role != "anonymous":
        email, password = PASSWORDS[role]
        page.goto(site.url + "/account/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.locator("main button[type=submit]").click()
        page.wait_for_selector(".account-menu summary")
    return page


def header_on_one_row(page) -> bool:
    """Whether the header's brand, links, buttons and menus sit side by side (their boxes all share
    a horizontal band), rather than wrapping onto a second row."""
    return page.evaluate("""() => {
      const boxes = [...document.querySelectorAll(
          '.header-inner .brand, .header-inner nav a, .header-inner summary, .header-inner form button')]
        .filter(e => e.checkVisibility()).map(e => e.getBoundingClientRect());
      return Math.max(...boxes.map(b => b.top)) < Math.min(...boxes.map(b => b.bottom));
    }""")


def check_page(page, url: str) -> list[str]:
    """What is wrong with the page at `url` on a laptop and on a phone, one line each. The page is
    loaded once and laid out at each width in turn (media queries follow the viewport)."""
    problems = []
    page.goto(url)
    for name, size in (("1366 px", LAPTOP), ("390 px", PHONE)):
        page.set_viewport_size(size)
        overflow = horizontal_overflow(page)
        if overflow > 0:
            problems.append(f"{url} at {name}: {overflow} px wider than the screen")
        if size is LAPTOP and not header_on_one_row(page):
            problems.append(f"{url} at {name}: the header wraps onto a second row")
    # axe once per page, on the phone: the same elements as on the laptop, only laid out in one column.
    problems += [f"{url}: axe {v['id']} ({v['impact']}): {v['help']} {v['nodes']}"
                 for v in axe_violations(page)]
    return problems


@pytest.mark.parametrize("role", ["anonymous", "donor", "organizer", "treasurer", "auditor", "admin"])
def test_every_page_fits_a_phone_and_passes_axe(browser, site, role):
    page = signed_in_page(browser, site, role)
    try:
        problems = [problem for path in site.paths[role] for problem in check_page(page, site.url + path)]
    finally:
        page.context.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_giving_on_a_phone_every_step_fits_and_passes_axe(browser, site):
    """A signed-in donor on a phone: the donate bar is in reach on the campaign page, the preset
    amounts are large tiles whose amounts stay on one line, and the form, its confirmation, the
    sandbox checkout and the thank-you page all fit and pass axe."""
    page = signed_in_page(browser, site, "donor")
    campaign = site.url + site.paths["treasurer"][-1]  # a published campaign with money in and out
    problems = []
    try:
        page.goto(campaign)
        bar = page.locator(".donate-bar").bounding_box()
        assert bar is not None and bar["y"] + bar["height"] <= PHONE["height"], bar  # in reach at the top
        page.mouse.wheel(0, 2500)
        page.locator(".donate-bar a").click()
        page.wait_for_selector(".amount-choices")
        tiles = page.locator(".amount-choice")
        assert tiles.count() >= 4
        for i in range(tiles.count()):
            box = tiles.nth(i).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 120, box  # a thumb's target (WCAG 2.5.5)
            amount = tiles.nth(i).locator(".money")
            line = float(amount.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
            assert amount.bounding_box()["height"] < 1.5 * line, amount.inner_text()  # one line
        problems += check_page(page, page.url)
        tiles.nth(1).click()
        page.get_by_label("Pesan publik (opsional)").fill("Semoga lancar")
        page.locator("form.give-form button[type=submit]").click()
        page.wait_for_selector(".give-summary")
        assert page.locator(".campaign-summary progress").count() == 1  # the campaign and its progress
        for name, size in (("390 px", PHONE), ("1366 px", LAPTOP)):  # a POST's answer: measured in place
            page.set_viewport_size(size)
            if horizontal_overflow(page) > 0:
                problems.append(f"confirm page at {name}: {horizontal_overflow(page)} px too wide")
            problems += [f"confirm page at {name}: axe {v['id']}: {v['nodes']}" for v in axe_violations(page)]
        page.set_viewport_size(PHONE)
        page.locator(".give-actions button.primary").click()
        page.wait_for_selector("button[value=pay]")
        problems += check_page(page, page.url)
        page.locator("button[value=pay]").click()
        page.wait_for_selector(".give-outcome-paid")
        assert page.locator(".campaign-summary progress").count() == 1
        problems += check_page(page, page.url)
        page.goto(site.url + "/donations/mine")
        problems += check_page(page, page.url)
    finally:
        page.context.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
