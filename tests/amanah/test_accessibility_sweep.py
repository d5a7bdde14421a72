"""axe-core (WCAG 2.0 and 2.1, A and AA) over every page people open, in a real browser, and the
error state of the key forms, whose messages must be tied to their fields.

The world is tests.factories.pages.demo_world (the demo data plus donations waiting for their
payment and a reconciliation with something to show), with a QRIS donation waiting at Xendit's
local fake and a receipts ZIP job, served by a real HTTP server. Every GET page of the URL map
(one URL each) is checked as an anonymous visitor when they may open it, and as the admin, who
sees the most of the management pages; the few pages no admin may open (an organizer's own
campaign editor, its indicators and updates, "my campaigns") as the first other role that may.
All in English; a sample of pages in Indonesian too, whose longer words and `lang` marks are what
differs. Which visitor checks which page is found with the test client when the world is built,
so a new page is checked without anyone listing it; endpoints that answer with no page (files,
text, JSON) are left to the machines that read them.
"""
from __future__ import annotations

import datetime as dt
import secrets
import threading
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import url_for
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from accounts.cli import DEMO_ACCOUNTS
from accounts.models import User
from amanah.extensions import db
from campaigns.models import Campaign
from documents.models import DocumentJob
from tests.conftest import make_app, serve_until_shutdown
from tests.factories import login
from tests.factories.browser import axe_violations, chromium_browser
from tests.factories.fake_xendit import FakeXendit
from tests.factories.giving import pending
from tests.factories.pages import demo_world

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The admin first: the pages they cannot open go to the first of the others who can.
OTHERS = ("organizer", "treasurer", "donor", "auditor")
XENDIT_KEY, XENDIT_TOKEN = "xnd_development_a11y", "cbtoken_a11y_1234567890"
PASSWORDS = {email: password for email, _name, _roles, password in DEMO_ACCOUNTS}
# Checked in Indonesian as well: one page of each kind (lists, a campaign, giving and paying, the
# ledger, the map and open data, the account forms, the staff's tables and forms).
INDONESIAN_SAMPLE = {
    "main.home", "campaigns.index", "campaigns.show", "giving.give", "giving.payment_page",
    "giving.guest_view", "ledger_pages.index", "ledger_pages.entry", "maps.index", "opendata.dashboard",
    "accounts.register", "organization_pages.show", "accounts.profile", "admin_users.detail",
    "campaigns.review", "treasury.overview", "treasury.new_disbursement", "reconciliation.overview",
    "giving.refund_form", "campaigns.edit", "reports.new",
}


def _receipts_job(app, admin_id: int) -> str:
    """A receipts ZIP job of the admin's, still waiting: its page is found by a token only the job's
    own request redirects to, which the page list cannot guess. Never handed to a worker."""
    campaign = db.session.scalars(sa.select(Campaign).where(Campaign.status == "published")
                                  .order_by(Campaign.id)).first()
    job = DocumentJob(token=secrets.token_urlsafe(16), requested_by_id=admin_id, campaign_id=campaign.id,
                      date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 12, 31),
                      base_url="http://localhost/", locale="en")
    db.session.add(job)
    db.session.commit()
    with app.test_request_context():
        return url_for("documents.job_page", token=job.token)


def _opens(app, client, endpoint: str, url: str) -> str | bool | None:
    """The page's URL (after a redirect to the same page, its slug added) when this visitor opens
    it; False when the endpoint answers with something else than a page (a file, text, JSON);
    None when it is not for this visitor (sent to sign in or elsewhere, 403, 404)."""
    response = client.get(url)
    if 300 <= response.status_code < 400:
        response.close()
        target = urlsplit(response.location)
        try:
            if target.netloc or app.url_map.bind("localhost").match(target.path)[0] != endpoint:
                return None
        except HTTPException:  # a path of no route, or one that redirects again (RequestRedirect)
            return None
        url = f"{target.path}?{target.query}" if target.query else target.path
        response = client.get(url)
    with response:
        if "text/html" not in response.content_type:
            return False
        return url if response.status_code == 200 else None


def _plan(app, people: dict, pages: list) -> dict:
    """{"visits": {role: [(endpoint, url)]}, "machine": endpoints that answer with no page,
    "unchecked": endpoints nobody opened}. Each visitor takes, per endpoint, the first of its URLs
    that they open as a page. Called outside an app context: requests inside one would share its
    `g`, where Flask-Login keeps the first request's visitor."""
    urls = {}
    for endpoint, url, _takes_post in pages:
        urls.setdefault(endpoint, []).append(url)
    visits, machine, seen = {}, set(), set()
    for role in ("anonymous", "admin", *OTHERS):
        client = app.test_client()
        if people.get(role) is not None:
            with app.app_context():
                login(client, db.session.get(User, people[role]))
        visits[role] = []
        for endpoint, candidates in urls.items():
            if endpoint in machine or (role in OTHERS and endpoint in seen):
                continue
            for url in candidates:
                opened = _opens(app, client, endpoint, url)
                if opened is False:
                    machine.add(endpoint)
                    break
                if opened:
                    visits[role].append((endpoint, opened))
                    seen.add(endpoint)
                    break
    return {"visits": visits, "machine": machine, "unchecked": set(urls) - seen - machine}


def _qris_payment(app) -> str:
    """A QRIS donation waiting at Xendit: its payment page shows the QR code. The world's own
    waiting donations are the sandbox's (the demo sends every payment of its context there), and
    the sandbox shows its codes on its own checkout page."""
    campaign = db.session.scalars(sa.select(Campaign).where(Campaign.status == "published")
                                  .order_by(Campaign.id)).first()
    _donation_id, checkout_id = pending(app, campaign, method="qris")
    with app.test_request_context():
        return url_for("giving.payment_page", checkout_id=checkout_id)


def _build(app) -> dict:
    world = demo_world(app)
    people = world["people"]
    with app.app_context():
        pages = [*world["pages"], ("documents.job_page", _receipts_job(app, people["admin"]), False),
                 ("giving.payment_page", _qris_payment(app), False)]
        emails = {role: db.session.get(User, user_id).email for role, user_id in people.items() if user_id}
    return {**_plan(app, people, pages), "emails": emails}


@pytest.fixture(scope="module")
def site(databases, tmp_path_factory):
    # Xendit (its local fake) takes the QRIS donation the world leaves waiting, so that the page
    # showing its QR code is there to check: the sandbox sends donors to its own checkout instead.
    xendit = FakeXendit(XENDIT_KEY, XENDIT_TOKEN).start()
    app = make_app(databases.fresh(), tmp_path_factory.mktemp("a11y") / "instance",
                   XENDIT_SECRET_KEY=XENDIT_KEY, XENDIT_CALLBACK_TOKEN=XENDIT_TOKEN,
                   XENDIT_API_BASE=xendit.url)
    world = _build(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=serve_until_shutdown, args=(server,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    server.world = world
    yield server
    server.shutdown()
    thread.join(timeout=5)
    xendit.stop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as browser:
        yield browser


def visitor_page(browser, site, role: str, lang: str):
    """A browser tab of a visitor of `role` (signed in through the form unless anonymous), reading
    `lang`: chosen with the header's language buttons, since a signed-in user's profile language
    beats the browser's."""
    context = browser.new_context(locale="id-ID" if lang == "id" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    if role == "anonymous":
        page.goto(site.url + "/")
    else:
        email = site.world["emails"][role]
        page.goto(site.url + "/account/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORDS[email])
        page.locator("main button[type=submit]").click()
        page.wait_for_selector(".account-menu summary")
    page.locator(f".lang-switch button[value={lang}]").click()
    page.wait_for_selector(f"html[lang={lang}] .lang-switch button[value={lang}][aria-pressed=true]")
    return page


def axe_problems(page, where: str) -> list[str]:
    # axe passes over what is hidden: a closed <details> in the page (a chart's figures) is opened
    # first. Not the account menu: open, it covers the page, whose colours axe then cannot check.
    page.evaluate("() => document.querySelectorAll('main details').forEach(d => { d.open = true; })")
    return [f"{where}: axe {v['id']} ({v['impact']}): {v['help']} {v['nodes']}" for v in axe_violations(page)]


def check_pages(browser, site, role: str, lang: str, visits: list) -> list[str]:
    page = visitor_page(browser, site, role, lang)
    problems = []
    try:
        for endpoint, url in visits:
            response = page.goto(site.url + url)
            where = f"{role} {lang} {url} ({endpoint})"
            if response.status != 200 or page.url != site.url + url:
                problems.append(f"{where}: answered {response.status} at {page.url}, not the page")
                continue
            problems += axe_problems(page, where)
    finally:
        page.context.close()
    return problems


def test_every_page_is_checked(site):
    """A page nobody can open in this world would go unchecked: make the world show it."""
    assert site.world["unchecked"] == set()


def visits_in(site, role: str, lang: str) -> list[tuple[str, str]]:
    """In English every page the visitor is to check; in Indonesian the sampled ones, each once:
    by the first visitor who checks it in English (an anonymous one, then the admin...)."""
    visits = site.world["visits"]
    if lang == "en":
        return visits[role]
    earlier = {endpoint for other in [*visits][:[*visits].index(role)] for endpoint, _url in visits[other]}
    return [(endpoint, url) for endpoint, url in visits[role]
            if endpoint in INDONESIAN_SAMPLE and endpoint not in earlier]


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize("visitors", ["anonymous", "admin", "others"])
def test_pages_pass_axe(browser, site, visitors, lang):
    problems = []
    for role in OTHERS if visitors == "others" else (visitors,):
        visits = visits_in(site, role, lang)
        if visits:
            problems += check_pages(browser, site, role, lang, visits)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# Every error message of a field is tied to it: named by the field's aria-describedby (or, for a
# group of radio buttons, by its fieldset's), and the field says it is invalid. The summary's links
# lead to fields that exist. A message for the whole form (wrong password) sits in its alert.
_ERRORS_TIED = """() => {
  const problems = [];
  const describers = id => [...document.querySelectorAll('[aria-describedby]')]
    .filter(e => e.getAttribute('aria-describedby').split(/\\s+/).includes(id));
  for (const error of document.querySelectorAll('main .field-error')) {
    if (error.closest('.form-errors, .error-summary')) continue;
    const text = error.textContent.trim();
    const owners = error.id ? describers(error.id) : [];
    if (!owners.length) problems.push(`"${text}" describes no field`);
    for (const owner of owners) {
      if (owner.matches('input, select, textarea') && owner.getAttribute('aria-invalid') !== 'true')
        problems.push(`${owner.name} is described by "${text}" but not aria-invalid`);
    }
  }
  for (const field of document.querySelectorAll('[aria-invalid=true]')) {
    const ids = (field.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
    if (!ids.some(id => document.getElementById(id)?.matches('.field-error')))
      problems.push(`${field.name || field.id} is invalid, but no error message describes it`);
  }
  for (const link of document.querySelectorAll('.error-summary a[href^="#"]')) {
    if (!document.getElementById(decodeURIComponent(link.hash.slice(1))))
      problems.push(`the summary links to ${link.hash}, which is not on the page`);
  }
  if (!document.querySelector('main [aria-invalid=true]')) problems.push('no field is marked invalid');
  return problems;
}"""

# (visitor, page, the form's submit button)
FORMS = {
    "donate": ("anonymous", "giving.give", "form.give-form button[type=submit]"),
    "register": ("anonymous", "accounts.register", "main form button[type=submit]"),
    "sign-in": ("anonymous", "accounts.login", "main form button[type=submit]"),
    "disbursement": ("admin", "treasury.new_disbursement", "form.disbursement-form button[type=submit]"),
}


def test_the_checks_find_what_they_look_for(browser, site):
    """On a served page (under its Content-Security-Policy) with a field of no label and an error
    tied to nothing added, axe and the error check both complain."""
    page = visitor_page(browser, site, "anonymous", "en")
    try:
        page.evaluate("""() => document.querySelector('main').insertAdjacentHTML('beforeend',
          '<input type="text" name="unlabelled"><p class="field-error">Loose</p>'
          + '<label for="x">X</label><input id="x" name="x" aria-invalid="true">')""")
        assert "label" in {v["id"] for v in axe_violations(page)}
        assert page.evaluate(_ERRORS_TIED) == ['"Loose" describes no field',
                                               "x is invalid, but no error message describes it"]
    finally:
        page.context.close()


@pytest.mark.parametrize("form", FORMS)
def test_a_form_sent_empty_ties_each_error_to_its_field(browser, site, form):
    role, endpoint, submit = FORMS[form]
    url = dict(site.world["visits"][role])[endpoint]
    page = visitor_page(browser, site, role, "en")
    try:
        page.goto(site.url + url)
        with page.expect_navigation():
            page.locator(submit).click()
        problems = [f"{form}: {problem}" for problem in page.evaluate(_ERRORS_TIED)]
        problems += axe_problems(page, f"{form} after an empty submit")
    finally:
        page.context.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
