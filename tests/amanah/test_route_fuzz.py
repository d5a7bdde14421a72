"""Every route of the app, asked odd things by every kind of visitor, answers below 500.

One world is built per module (people of every role, an organization with a paper and a service
point, a published, a submitted and a draft campaign with indicators, an update, donations paid by
card and by virtual account with their receipts, a disbursement with evidence, a progress report, a
pending checkout, a bulk-download job). Then, for each rule of app.url_map and each of its methods
(static files aside: werkzeug serves them, and nginx in production), one case:

- the route with the world's real identifiers, as each visitor: the request is recorded (which
  query and form keys the view read), so the case then fuzzes exactly those keys;
- each path variable replaced by odd values (unknown, 0, -1, a number beyond any column, text for a
  number, 5,000 characters, unicode, "%00", a NUL, "..", whitespace);
- GET: every query key the view read, with garbage, and repeated; one query of every usual key at
  once (huge page, zero per_page, a 10,000-character q, an unknown lang and locale...); bytes that
  are not UTF-8; odd Range and conditional headers; odd languages and cookies; HEAD and OPTIONS;
- POST: an empty form, a valid form (baseline_form), the valid form with each field in turn given
  garbage or left out, files that are not what they claim, JSON bodies of the wrong shape, wrong
  Content-Types, bytes that are not UTF-8.

Each query key and form field is fuzzed by the first visitor whose request reads it (the recording
above), not by all six: they would run the same parsing code again. Each request runs in a savepoint
rolled back after it, so one that succeeds (a valid form) leaves the next the same world.

A failure names the route in the test id and lists every request that got a 5xx, with the
exception the app logged. The payment provider is the sandbox and the file store the instance
folder: nothing here is deliberately unavailable, so a 503 is as much a failure as a 500.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

from accounts.models import User
from amanah import mail
from amanah.extensions import db
from campaigns.services import today_wib
from tests.conftest import World, make_app
from tests.factories import login, make_user
from tests.factories.documents import paid_donation
from tests.factories.treasury import RP, pdf, picture

ROLES = ("anonymous", "donor", "organizer", "treasurer", "auditor", "admin")
BIG = "99999999999999999999"
# Past PostgreSQL's `integer` (every id column) and the largest BIGINT (a ledger seq): SQLAlchemy
# casts a parameter to its column's type, so these are database errors unless refused first.
PAST_INTEGER, LARGEST_BIGINT = str(2**31), str(2**63 - 1)
LONG = "x" * 5000
# Odd values for path variables ("%00" is sent as those three characters, "\x00" as a NUL).
ODD_PATH = ["0", "-1", PAST_INTEGER, LARGEST_BIGINT, BIG, "abc", LONG, "\ufdfa", "\u202e", "\U0001f600",
            "%00", "\x00", "..", " ", "../../etc/passwd"]
# Odd values for a query or form field.
GARBAGE = ["", " ", "-1", "0", "1", PAST_INTEGER, BIG, "1e309", "NaN", "abc", LONG, "\ufdfa\u202e\U0001f600",
           "%00", "..", "1,5", "\uff12", "-5.000,50", "2026-02-30", "0001-01-01", "9999-12-31", "\t\n"]
# Asked of every GET route at once, whether or not its view reads them (those that do get each key
# fuzzed on its own: see Fuzzer.run).
QUERY_MIX = (f"page={10**30}&per_page=0&q={'q' * 10_000}&limit={BIG}&lang=%EF%B7%BA&locale=xx_XX"
             "&sort=-1&order=sideways&next=//evil.example/%0d%0a")

# ---- the world ----


class RecordingDict(ImmutableMultiDict):
    """Request args, form and files that note every key a view asks for (Fuzzer.run reads them)."""

    read: set[str] = set()

    def __getitem__(self, key):
        RecordingDict.read.add(key)
        return super().__getitem__(key)

    def get(self, key, *args, **kwargs):
        RecordingDict.read.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        RecordingDict.read.add(key)
        return super().getlist(key, *args, **kwargs)

    def __contains__(self, key):
        RecordingDict.read.add(key)
        return super().__contains__(key)


class RecordingRequest(Request):
    parameter_storage_class = RecordingDict


def _build_world(app) -> dict:
    from accounts import services as accounts
    from accounts import verification
    from campaigns import services as campaigns
    from campaigns.models import CampaignIndicator
    from documents import bulk, statements
    from documents.models import Document
    from donations.dashboard import guest_token
    from ledger.models import LedgerEntry
    from maps import services as maps
    from organizations import services as organizations
    from organizations.models import OrganizationDocument, OrganizationMember
    from reports import services as reports
    from tests.factories.campaigns import make_campaign
    from tests.factories.documents import paid_donation
    from tests.factories.giving import pending
    from treasury import disbursements

    ids: dict = {}
    with app.app_context():
        people = {"anonymous": None}
        for role, name in (("donor", "Dewi Donatur"), ("organizer", "Siti Rahayu"),
                           ("treasurer", "Agus Bendahara"), ("auditor", "Rina Auditor"),
                           ("admin", "Hendra Admin")):
            people[role] = make_user(None, *([] if role == "donor" else [role]), name=name).id
        ids["other_treasurer"] = make_user(None, "treasurer", name="Made Bendahara").id
        ids["donor_email"] = db.session.get(User, people["donor"]).email
        organizer = db.session.get(User, people["organizer"])
        org = organizations.create_organization(organizer, organizations.OrganizationInput(
            name="Yayasan Peduli Anak Sleman", type="foundation", legal_basis="SK AHU-0012345",
            address="Jl. Kaliurang Km 9, Sleman", npwp="01.234.567.8-901.000", contact="halo@peduli.or.id",
            description="Mendampingi posyandu di lereng Merapi."))
        organizations.add_member(org, db.session.get(User, people["treasurer"]).email, "treasurer")
        paper = organizations.add_document(org, organizer, pdf(1), "Akta pendirian")
        db.session.commit()
        ids.update(org_slug=org.slug, org_id=org.id, org_document=paper.id)
        ids["member"] = db.session.scalar(sa.select(OrganizationMember.id).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.user_id == people["treasurer"]))
        assert db.session.get(OrganizationDocument, paper.id) is not None
    published = make_campaign(app, people["organizer"], people["treasurer"], admin_id=people["admin"],
                              organization_id=ids["org_id"])
    submitted = make_campaign(app, people["organizer"], people["treasurer"], status="submitted",
                              organization_id=ids["org_id"], title="Sumur bor untuk Dusun Wonosari")
    draft = make_campaign(app, people["organizer"], people["treasurer"], status="draft",
                          organization_id=ids["org_id"], title="Perpustakaan desa Oelbubuk")
    with app.app_context():
        campaign = campaigns.get_by_public_id(published)
        organizer = db.session.get(User, people["organizer"])
        treasurer = db.session.get(User, people["treasurer"])
        indicator = CampaignIndicator(campaign_id=campaign.id, name="Balita ditimbang", unit="balita",
                                      kind="count", direction="increase", baseline=0, target=8000,
                                      due=campaigns.today_wib() + dt.timedelta(days=20),
                                      created_by_id=organizer.id)
        draft_indicator = CampaignIndicator(
            campaign_id=campaigns.get_by_public_id(draft).id, name="Buku dipinjam", unit="buku",
            kind="count", direction="increase", baseline=0, target=50_000,
            due=campaigns.today_wib() + dt.timedelta(days=40), created_by_id=organizer.id)
        db.session.add_all([indicator, draft_indicator])
        campaigns.post_update(campaign, organizer, "Timbangan sudah dipesan",
                              "Timbangan baru tiba pekan depan.")
        db.session.commit()
        ids.update(published=published, submitted=submitted, draft=draft, slug=campaign.slug,
                   indicator=indicator.id, draft_indicator=draft_indicator.id)
        donation = paid_donation(app, campaign, user=db.session.get(User, people["donor"]))
        by_transfer = _paid_by_virtual_account(app, campaigns.get_by_public_id(published))
        campaign = campaigns.get_by_public_id(published)
        _, checkout = pending(app, campaign)
        with app.test_request_context():
            spent = disbursements.record(campaign, treasurer, disbursements.DisbursementInput(
                amount=200_000 * RP, paid_on=campaigns.today_wib(), payee_kind="organization",
                payee_name="Toko Maju", purpose="Timbangan bayi", category="goods", evidence=picture(1)))
            db.session.commit()
            report = reports.post_report(campaign, organizer, reports.ReportInput(
                title="Timbangan pertama tiba", narrative="Posyandu menimbang 40 balita bulan ini.",
                values={indicator.id: "40"}, evidence=[reports.EvidenceUpload(picture(7), "Foto timbangan")],
                disbursement_ids=[spent.id]))
            db.session.commit()
            point = maps.create_point(db.session.get(type(org), ids["org_id"]), maps.ServicePointInput(
                name="Posyandu Melati", category="health", address="Dusun Krapyak", city="Kabupaten Sleman",
                province="34", latitude="-7.7156", longitude="110.4269", opening_hours="08.00-11.00",
                contact="0812-2700-1100", campaign_ids=[campaign.id]))
            db.session.commit()
            start, end = statements.default_range()
            job = bulk.start_job(treasurer, campaign, dt.date.fromisoformat(start),
                                 dt.date.fromisoformat(end), base_url="http://localhost/", locale="id")
            db.session.commit()
            ids.update(donation=donation, by_transfer=by_transfer, checkout=checkout, disbursement=spent.id,
                       evidence=spent.evidence_sha256, report_number=report.number,
                       report_evidence=report.evidence[0].sha256, point=point.id, job=job.token,
                       guest=guest_token(donation), serial=db.session.scalar(sa.select(Document.serial)),
                       verify_token=verification.make_token(db.session.get(User, people["donor"])),
                       reset_token=accounts.make_reset_token(db.session.get(User, people["donor"])),
                       entries=db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)))
    return {"people": people, "ids": ids}


def _paid_by_virtual_account(app, campaign) -> int:
    """A donation paid into a virtual account (through the sandbox standing in for Xendit): its
    refund is a treasurer's transfer back, another form."""
    return paid_donation(app, campaign, amount=75_000_00, name="Budi", method="va_bca")


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory):
    def build(app):
        # Bulk jobs run inside the request (no thread outliving a case's transaction), and the
        # world's app notes the keys each view reads.
        app.config["DOCUMENT_JOBS"] = "inline"
        # The cheapest argon2: the login and password forms hash on every request they are sent,
        # and what is tested here is their input, not the hash's cost.
        app.config["ARGON2_PARAMETERS"] = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
        app.request_class = RecordingRequest
        data = _build_world(app)
        data["state"] = _world_state(app)
        return data

    yield from World.serve(databases, tmp_path_factory, build)


@pytest.fixture
def app(world):
    with world.shared.test() as app:
        yield app


# ---- what each route is asked ----

DRAFT_FIRST = {"campaigns.edit", "campaigns.submit", "campaigns.remove_indicator"}


def path_values(endpoint: str, name: str, ids: dict) -> list[str]:
    """The world's real values for a path variable of `endpoint` (more than one where it matters)."""
    org_routes = endpoint.startswith(("organizations.", "organization_pages.", "organizations_api.", "maps."))
    tokens = {"accounts.verify_email": ids["verify_token"], "accounts.reset_password": ids["reset_token"]}
    values = {
        # The first is the one fuzzed: a draft where only a draft has the whole form (or may lose
        # an indicator), else the published campaign.
        "public_id": ([ids["draft"], ids["published"], ids["submitted"]] if endpoint in DRAFT_FIRST
                      else [ids["published"], ids["submitted"], ids["draft"]]),
        "campaign_id": [ids["published"]],
        "slug": [ids["org_slug"]] if org_routes else [ids["slug"], "an-old-title"],
        "user_id": [None],  # the donor, filled in below
        "seq": ["1", str(ids["entries"])],
        "indicator_id": [str(ids["draft_indicator"]), str(ids["indicator"])],
        "number": [str(ids["report_number"])],
        "sha256": [ids["report_evidence"] if endpoint.startswith("reports.") else ids["evidence"]],
        "name": ["0" * 64 + ".webp"],
        "token": [tokens.get(endpoint, ids["job"] if endpoint.startswith("documents.job") else ids["guest"])],
        "serial": [ids["serial"]],
        "checkout_id": [ids["checkout"]],
        "size": [str(ids["entries"])],
        "path": ["0/000", "0/x001/000.p/1", "data/000"],
        # Paid by card (refunded through the provider) and by virtual account (transferred back).
        "donation_id": [str(ids["donation"]), str(ids["by_transfer"])],
        "document_id": [str(ids["org_document"])],
        "member_id": [str(ids["member"])],
        "point_id": [str(ids["point"])],
        "disbursement_id": [str(ids["disbursement"])],
        "provider": ["sandbox", "stripe", "xendit"],
    }
    return values[name]


def baseline_form(endpoint: str, w: dict) -> dict:
    """A form that the route would accept from the right visitor (files as (bytes, filename))."""
    ids, people = w["ids"], w["people"]
    today = today_wib()
    campaign = {"title": "Taman baca untuk anak nelayan Kupang", "story": "Cerita " * 20, "currency": "IDR",
                "goal": "15.000.000", "deadline": (today + dt.timedelta(days=30)).isoformat(),
                "category": "education", "region": "53", "city": "Kota Kupang",
                "beneficiary": "60 anak nelayan di Oesapa", "treasurer_id": str(people["treasurer"]),
                "organization_id": str(ids["org_id"]), "cover": (picture(3), "sampul.png")}
    organization = {"name": "Yayasan Pelita Kupang", "type": "foundation", "legal_basis": "SK AHU-0099",
                    "address": "Kupang", "npwp": "", "contact": "a@b.id", "description": "Taman baca."}
    point = {"name": "Posyandu Mawar", "category": "health", "address": "Wedomartani", "city": "Sleman",
             "province": "34", "latitude": "-7.7", "longitude": "110.4", "opening_hours": "08.00",
             "contact": "0812", "campaigns": str(ids["point"])}
    forms = {
        "accounts.change_email": {"email": "baru@example.test", "password": "rahasia-panjang-sekali"},
        "accounts.verify_email": {},
        "accounts.login": {"email": "dewi@example.test", "password": "rahasia-panjang-sekali",
                           "remember": "y", "next": "/campaigns/"},
        "accounts.change_password": {"current_password": "x", "password": "rahasia-baru-panjang",
                                     "confirm": "rahasia-baru-panjang"},
        "accounts.forgot_password": {"email": "dewi@example.test"},
        "accounts.reset_password": {"password": "rahasia-baru-panjang", "confirm": "rahasia-baru-panjang"},
        "accounts.profile": {"display_name": "Dewi", "preferred_language": "en",
                             "npwp": "01.234.567.8-901.000", "nik": "3171012345678901"},
        "accounts.register": {"display_name": "Budi", "email": "budi@example.test",
                              "password": "rahasia-panjang-sekali", "confirm": "rahasia-panjang-sekali"},
        "admin_users.detail": {"roles": "organizer"},
        "campaigns.close": {"reason": "Dana sudah cukup."},
        "documents.bulk_start": {"from": (today - dt.timedelta(days=30)).isoformat(),
                                 "to": today.isoformat()},
        "campaigns.edit": campaign,
        "campaigns.new": campaign,
        "giving.give": {"preset": "", "custom_amount": "50.000", "message": "Semoga bermanfaat",
                        "name": "Dewi", "email": "dewi@contoh.id", "npwp": "", "method": "card",
                        "mobile_number": "", "confirmed": "1", "cover_fee": "y"},
        "campaigns.indicators_page": {"name": "Ibu hamil diperiksa", "unit": "orang", "kind": "count",
                                      "direction": "increase", "baseline": "0", "target": "50",
                                      "due": (today + dt.timedelta(days=20)).isoformat()},
        "campaigns.remove_indicator": {},
        "reports.new": {"title": "Kabar bulan kedua", "narrative": "Sudah 60 balita ditimbang.",
                        f"value_{ids['indicator']}": "60", "evidence_0": (picture(8), "foto.png"),
                        "evidence_title_0": "Foto", "disbursements": str(ids["disbursement"]), "corrects": "",
                        "final": ""},
        "campaigns.review": {"decision": "publish", "reason": "Ceritanya kurang jelas."},
        "campaigns.submit": {},
        "treasury.change_treasurer": {"treasurer_id": str(ids["other_treasurer"]),
                                      "reason": "Bendahara pindah tugas."},
        "campaigns.new_update": {"title": "Kabar baru", "body": "Isi kabar terbaru yang cukup panjang."},
        "giving.refund": {"amount": "10.000", "reason": "Donatur salah nominal."},
        "giving.sandbox_checkout": {"choice": "pay"},
        "main.set_language": {"lang": "en", "next": "/campaigns/"},
        "organizations.upload_document": {"title": "NPWP yayasan", "document": (pdf(2), "npwp.pdf")},
        "organizations.manage": organization,
        "organizations.create": organization,
        "organizations.add_member": {"email": ids["donor_email"], "role": "treasurer"},
        "organizations.remove_member": {},
        "organizations.verification": {"decision": "verify", "note": "SK dicocokkan dengan AHU online."},
        "maps.delete": {},
        "maps.edit": point,
        "maps.create": point,
        "treasury.reverse_disbursement": {"reason": "Nota tercatat dua kali.", "confirm": "y"},
        "treasury.new_disbursement": {"amount": "250000", "paid_on": today.isoformat(),
                                      "payee_kind": "organization", "payee_name": "Toko Bangunan Sinar Jaya",
                                      "purpose": "Pipa PVC untuk jaringan air bersih", "category": "goods",
                                      "evidence_visibility": "public", "evidence": (pdf(3), "nota.pdf")},
        "treasury.transfer_back": {"reason": "Transfer kembali ke donatur.", "amount": "10.000",
                                   "evidence": (pdf(4), "bukti.pdf")},
        "webhooks.notification": {},
        "accounts.logout": {},
        "accounts.resend_verification": {},
    }
    return dict(forms.get(endpoint, {}))


def fill(rule, values: dict[str, str]) -> str:
    def part(match):
        value = values[match.group(1)]
        return value if match.group(0).startswith("<path:") and "\x00" not in value else quote(value, safe="")
    return re.sub(r"<(?:[a-z]+:)?([a-z_0-9]+)>", part, rule.rule)


def materialize(form: dict) -> dict:
    """A fresh stream for every file of the form (a stream is used up by the request)."""
    return {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in form.items()}


ODD_FILES = [(b"", "kosong.pdf"), (b"bukan gambar", "foto.png"), (b"%PDF-1.4 rusak", "../../nota.pdf"),
             (pdf(5), LONG[:300] + ".pdf"), (picture(6), "\u202efdp.png"),
             (b"GIF89a" + b"\x00" * 40, "a.gif")]
WRONG_BODIES = [
    ("application/json", b"[1, 2, 3]"), ("application/json", b'"text"'), ("application/json", b"null"),
    ("application/json", b"12"), ("application/json", b'{"title": null, "amount": {"x": [null]}}'),
    ("application/json", b'{"title": ["a", "b"], "amount": "abc", "roles": [{"a": null}]}'),
    ("application/json", b"{not json"), ("application/json", json.dumps({"a": "\ud800"}).encode()),
    ("application/x-www-form-urlencoded", b"title=\xff\xfe&amount=\xc3&reason=%ff%fe&email=%C0%AF"),
    ("application/x-www-form-urlencoded; charset=utf-16", b"t\x00i\x00=\x00"),
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=title\r\n\r\nA\r\n--x--"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"e\"; "
                                        b"filename=\"\xff\xfe.pdf\"\r\n\r\n\xff\xfe\r\n--x--\r\n"),
    ("text/plain", b"amount=10&reason=x"), ("}{", b"\xff" * 100), ("application/xml", b"<a><b/></a>"),
]


class Fuzzer:
    """Sends one route its odd requests as one visitor and keeps every answer of 500 or more."""

    def __init__(self, app, world, rule, method: str):
        self.app, self.world, self.rule, self.method = app, world, rule, method
        self.endpoint = rule.endpoint
        self.failures: dict[str, list[str]] = {}  # the exception logged -> the requests that met it
        self.errors: list[str] = []
        self.fuzzed: set[str] = set()
        self.bodies_sent = False

    def client(self, role: str):
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "id"
        user_id = self.world.data["people"][role]
        if user_id is not None:
            with self.app.app_context():
                login(client, db.session.get(User, user_id))
        return client

    def send(self, client, role: str, url: str, what: str, method: str | None = None, **kwargs):
        kwargs.setdefault("headers", {}).setdefault("Origin", "http://localhost")
        RecordingDict.read = set()
        self.errors.clear()
        # Every request starts from the world as built: one that succeeds (closing the campaign,
        # paying the checkout) must not stop the next from reaching the same code. The case's
        # connection (one_rolled_back_transaction) holds a savepoint around the request's own.
        savepoint = db._app_engines[self.app][None].begin_nested()
        try:
            response = client.open(url, method=method or self.method, **kwargs)
            body = response.get_data(as_text=True)[:200] if response.status_code >= 500 else ""
            response.close()
        finally:
            mail.wait_for_background()  # a reset link's mail uses the same connection
            savepoint.rollback()
        if response.status_code >= 500:
            cause = self.errors[-1] if self.errors else body
            self.failures.setdefault(cause, []).append(
                f"{response.status_code} as {role}: {method or self.method} {url[:120]!r} [{what}]")
        return response

    def real_values(self) -> dict[str, list[str]]:
        ids = dict(self.world.data["ids"])
        out = {}
        for name in self.rule.arguments:
            values = path_values(self.endpoint, name, ids)
            out[name] = [str(self.world.data["people"]["donor"]) if v is None else v for v in values]
        return out

    def run(self, role: str) -> None:
        client = self.client(role)
        real = self.real_values()
        first = {name: values[0] for name, values in real.items()}
        base = baseline_form(self.endpoint, self.world.data) if self.method != "GET" else {}
        # The real identifiers (each alternative in turn), noting what the view reads.
        read: set[str] = set()
        for name, values in real.items():
            for value in values[1:]:
                self.send(client, role, fill(self.rule, {**first, name: value}), "real",
                          data=materialize(base))
                read |= RecordingDict.read
        url = fill(self.rule, first)
        self.send(client, role, url, "real", data=materialize(base))
        read |= RecordingDict.read
        # Each path variable odd, the others real.
        for name in real:
            for odd in ODD_PATH:
                self.send(client, role, fill(self.rule, {**first, name: odd}), f"path {name}",
                          data=materialize(base))
        # Each key is fuzzed by the first visitor whose request reads it: the others run the same
        # parsing code, and asking again would only make the module slow.
        if self.method == "GET":
            self.fuzz_query(client, role, url, read - self.fuzzed)
            self.fuzzed |= read
        else:
            self.fuzz_form(client, role, url, base, read, read - self.fuzzed)
            self.fuzzed |= read | (set(base) if read else set())

    def fuzz_query(self, client, role, url, read) -> None:
        for key in sorted(read):
            for value in GARBAGE:
                self.send(client, role, f"{url}?{urlencode({key: value})}", f"query {key}")
            self.send(client, role, f"{url}?{key}=1&{key}=2&{key}=-5", f"query {key} repeated")
        self.send(client, role, f"{url}?{QUERY_MIX}", "query mix")
        self.send(client, role, url, "head", method="HEAD")  # answered by the GET view, body dropped
        self.send(client, role, url, "options", method="OPTIONS")
        self.send(client, role, f"{url}?q=%ff%fe&page=%c0%af&sort=%e2%80%ae", "odd query bytes")
        self.send(client, role, url, "odd conditional headers",
                  headers={"Range": f"bytes=5-1, {BIG}-, -0, abc", "If-Range": "garbage",
                           "If-Modified-Since": "Mon, 99 Foo 99999 99:99:99 GMT",
                           "If-None-Match": '"\ufdfa", W/'})
        self.send(client, role, url, "odd languages",
                  headers={"Accept-Language": "zz-ZZ;q=abc, \ufdfa, *;q=2", "Accept": "application/json",
                           "Cookie": "lang=%00%ff; session=garbage"})

    def fuzz_form(self, client, role, url, base, read, new) -> None:
        self.send(client, role, url, "empty form", data={})
        if not self.bodies_sent:
            # Once per route whatever the view reads: some read the raw body (the webhooks).
            self.send_bodies(client, role, url)
        if not read:
            return  # the view read no field as this visitor (refused before): nothing more to reach
        for key in sorted(new | (set(base) - self.fuzzed)):
            without = {k: v for k, v in base.items() if k != key}
            self.send(client, role, url, f"form without {key}", data=materialize(without))
            odd_values = ODD_FILES if isinstance(base.get(key), tuple) else GARBAGE
            for value in odd_values:
                self.send(client, role, url, f"form {key}", data=materialize({**base, key: value}))
            self.send(client, role, url, f"form {key} repeated",
                      data=materialize({**base, key: [str(base.get(key, "1")), "2", BIG]}))
        if new:
            self.send_bodies(client, role, url)

    def send_bodies(self, client, role, url) -> None:
        self.bodies_sent = True
        for content_type, body in WRONG_BODIES:
            self.send(client, role, url, f"body {content_type}", data=body, content_type=content_type)


def _rules():
    """One case per rule and method, named by them (an app built only to read its url_map)."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory(prefix="amanah-fuzz-rules-") as folder:
        rules = list(make_app("sqlite://", Path(folder) / "instance").url_map.iter_rules())
    out = []
    for rule in sorted(rules, key=lambda r: (r.rule, sorted(r.methods))):
        if rule.endpoint == "static":  # files on disk, served by werkzeug (and by nginx in production)
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append(pytest.param(rule.rule, rule.endpoint, method, id=f"{method} {rule.rule}"))
    return out


@pytest.mark.parametrize(("path", "endpoint", "method"), _rules())
def test_no_odd_request_gets_a_5xx(app, world, path, endpoint, method):
    (rule,) = [r for r in app.url_map.iter_rules() if r.rule == path and r.endpoint == endpoint]
    fuzzer = Fuzzer(app, world, rule, method)
    handler = _ExceptionCatcher(fuzzer.errors)
    app.logger.addHandler(handler)
    try:
        for role in ROLES:
            fuzzer.run(role)
    finally:
        app.logger.removeHandler(handler)
    if fuzzer.failures:
        pytest.fail("answers >= 500:\n" + "\n".join(
            f"{cause}\n    {len(requests)} requests, e.g. " + "\n    ".join(requests[:3])
            for cause, requests in fuzzer.failures.items()), pytrace=False)
    assert _world_state(app) == world.data["state"]  # each request's writes were rolled back


def _world_state(app) -> tuple[int, ...]:
    """What the valid forms would add to: rows of the ledger, campaigns, users."""
    from campaigns.models import Campaign
    from ledger.models import LedgerEntry
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (LedgerEntry, Campaign, User))


class _ExceptionCatcher(logging.Handler):
    """The last line of each traceback the app logs, to say why a request got a 500."""

    def __init__(self, sink: list[str]):
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record) -> None:
        if record.exc_info:
            exc = record.exc_info[1]
            tb = exc.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-2:]}:{tb.tb_lineno}"
            self.sink.append(f"{type(exc).__name__}: {str(exc)[:200]} at {where}")
        elif record.levelno >= logging.WARNING and "unavailable" in record.getMessage():
            self.sink.append(record.getMessage()[:300])
