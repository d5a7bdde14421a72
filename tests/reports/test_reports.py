"""Progress reports: posted, anchored in the ledger, shown, corrected, and caught when altered."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.models import User
from amanah import evidence as evidence_store
from amanah.errors import ValidationError
from amanah.extensions import db
from campaigns.models import Campaign, CampaignIndicator
from campaigns.services import today_wib
from ledger.models import CampaignTotal, LedgerCheckpoint, LedgerEntry
from reports import services
from reports.models import ProgressReport
from tests.factories import login, make_user
from tests.factories.documents import pdf_text
from tests.factories.treasury import RP, SECRET_PLACE, drawing, fund, make_campaign, picture, rich_exif
from treasury import disbursements

# Every test here stores files: each runs on the instance folder and on an S3 bucket.
pytestmark = pytest.mark.files


@pytest.fixture
def world(app):
    """A funded public campaign with two indicators and one disbursement."""
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP, fee=10_000 * RP)
        wells = CampaignIndicator(campaign_id=campaign.id, name="Sumur bor dibangun", unit="sumur",
                                  kind="count", direction="increase", baseline=0, target=400,
                                  due=disbursements.now_utc().date(), created_by_id=campaign.organizer_id)
        share = CampaignIndicator(campaign_id=campaign.id, name="Rumah dengan air bersih", unit="",
                                  kind="percent", direction="increase", baseline=2000, target=9000,
                                  due=disbursements.now_utc().date(), created_by_id=campaign.organizer_id)
        db.session.add_all([wells, share])
        db.session.commit()
        spent = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=200_000 * RP, paid_on=today_wib(), payee_kind="organization",
            payee_name="Toko Maju", purpose="Pipa dan pompa", category="goods", evidence=picture(1)))
        db.session.commit()
        return {"campaign": campaign.public_id, "organizer": campaign.organizer_id,
                "treasurer": campaign.treasurer_id, "wells": wells.id, "share": share.id, "spent": spent.id}


def _campaign(world) -> Campaign:
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == world["campaign"]))


def _report(world, **changes) -> services.ReportInput:
    values = dict(title="Dua sumur pertama selesai", narrative="Sumur di RT 03 dan RT 05 sudah mengalir.",
                  values={world["wells"]: "2", world["share"]: "35,5"},
                  evidence=[services.EvidenceUpload(picture(7), "Foto sumur RT 03")],
                  disbursement_ids=[world["spent"]])
    values.update(changes)
    return services.ReportInput(**values)


def test_a_report_is_anchored_by_an_entry_that_moves_no_money(app, world):
    with app.test_request_context():
        before = db.session.get(CampaignTotal, world["campaign"])
        raised, fees, disbursed, count = before.raised, before.fees, before.disbursed, before.entry_count
        organizer = db.session.get(User, world["organizer"])
        report = services.post_report(_campaign(world), organizer, _report(world))
        db.session.commit()
        entry = db.session.get(LedgerEntry, report.ledger_seq)
        leaf = json.loads(bytes(entry.leaf))
        assert (leaf["kind"], leaf["amount"], leaf["memo"]) == ("report", 0, "Dua sumur pertama selesai")
        assert leaf["evidence"] == hashlib.sha256(report.document).hexdigest() == report.sha256
        assert leaf["files"] == [report.evidence[0].sha256]
        document = json.loads(report.document)
        assert document["values"] == [
            {"indicator": "Sumur bor dibangun", "unit": "sumur", "kind": "count", "value": 200},
            {"indicator": "Rumah dengan air bersih", "unit": "", "kind": "percent", "value": 3550}]
        spent_seq = db.session.scalar(sa.select(disbursements.Disbursement.ledger_seq))
        assert document["disbursements"] == [spent_seq] and document["number"] == 1
        after = db.session.get(CampaignTotal, world["campaign"])
        assert (after.raised, after.fees, after.disbursed) == (raised, fees, disbursed)
        assert after.entry_count == count + 1  # counted as an entry, not as money
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_the_document_and_evidence_are_served_byte_for_byte(app, world, client):
    with app.test_request_context():
        treasurer = db.session.get(User, world["treasurer"])
        report = services.post_report(_campaign(world), treasurer, _report(world))
        db.session.commit()
        digest, file_hash, seq = report.sha256, report.evidence[0].sha256, report.ledger_seq
    document = client.get(f"/campaigns/{world['campaign']}/reports/1.json")
    assert hashlib.sha256(document.data).hexdigest() == digest
    with client.get(f"/campaigns/{world['campaign']}/reports/evidence/{file_hash}") as evidence:
        assert evidence.status_code == 200 and hashlib.sha256(evidence.data).hexdigest() == file_hash
    page = client.get(f"/campaigns/{world['campaign']}/reports/1", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "Dua sumur pertama selesai" in text and f"#{seq}" in text
    assert client.get(f"/campaigns/{world['campaign']}/reports/2").status_code == 404
    assert client.get(f"/campaigns/{world['campaign']}/reports/evidence/{'0' * 64}").status_code == 404


def test_the_ledger_entry_and_the_report_page_point_at_each_other(app, world, client):
    with app.test_request_context():
        report = services.post_report(_campaign(world), db.session.get(User, world["organizer"]),
                                      _report(world))
        db.session.commit()
        seq, file_hash = report.ledger_seq, report.evidence[0].sha256
        spent_seq = db.session.scalar(sa.select(disbursements.Disbursement.ledger_seq))
    entry = client.get(f"/ledger/entries/{seq}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Progress report" in entry and "#1 Dua sumur pertama selesai" in entry
    assert f"/campaigns/{world['campaign']}/reports/1.json" in entry
    assert "<code>files</code>" in entry  # the entry's files member, each hash opening its file
    assert f"/campaigns/{world['campaign']}/reports/evidence/{file_hash}" in entry
    page = client.get(f"/campaigns/{world['campaign']}/reports/1", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "Disbursements it accounts for" in text and "Pipa dan pompa" in text
    assert f"/ledger/entries/{spent_seq}" in text and f"/ledger/entries/{seq}" in text
    other = client.get(f"/ledger/entries/{spent_seq}", headers={"Accept-Language": "en"})
    other = other.get_data(as_text=True)
    assert "<code>files</code>" not in other and 'data-field="report"' not in other


def test_the_campaign_page_shows_the_timeline_and_the_latest_values(app, world, client):
    with app.test_request_context():
        organizer = db.session.get(User, world["organizer"])
        first = services.post_report(_campaign(world), organizer, _report(world))
        services.post_report(_campaign(world), organizer, _report(
            world, title="Koreksi: tiga sumur", narrative="Yang selesai tiga, bukan dua.",
            values={world["wells"]: "3"}, evidence=[], disbursement_ids=[], corrects=first.number))
        db.session.commit()
    page = client.get(f"/campaigns/{world['campaign']}", follow_redirects=True,
                      headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "Koreksi: tiga sumur" in page and "Dua sumur pertama selesai" in page
    assert "3 sumur" in page  # the correction is the latest value
    assert "35,5%" in page  # the first report's value stands where the correction gives none
    assert "Foto sumur RT 03" in page


def test_a_correction_points_at_the_report_it_corrects(app, world):
    with app.test_request_context():
        organizer = db.session.get(User, world["organizer"])
        first = services.post_report(_campaign(world), organizer, _report(world))
        second = services.post_report(_campaign(world), organizer, _report(world, corrects=1, evidence=[]))
        db.session.commit()
        entry = json.loads(bytes(db.session.get(LedgerEntry, second.ledger_seq).leaf))
        assert entry["ref"] == first.ledger_seq and "files" not in entry
        assert json.loads(second.document)["corrects"] == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"), ({"narrative": " "}, "narrative"),
    ({"values": {"WELLS": "2,5"}}, "value_WELLS"), ({"values": {"SHARE": "120"}}, "value_SHARE"),
    ({"values": {999_999: "1"}}, "value_999999"), ({"disbursement_ids": [999_999]}, "disbursements"),
    ({"corrects": 7}, "corrects"),
    # Beyond any row (typed into the form): a form error, not a database one (SQLite overflowed).
    ({"disbursement_ids": [2**64]}, "disbursements"), ({"corrects": 10**20}, "corrects"),
    ({"evidence": [services.EvidenceUpload(b"<svg/>", "x")]}, "evidence"),
    ({"evidence": [services.EvidenceUpload(picture(n), "x") for n in range(11)]}, "evidence"),
])
def test_bad_reports_name_the_field_and_write_nothing(app, world, changes, field):
    if "values" in changes:
        changes = {"values": {world["wells"] if k == "WELLS" else world["share"] if k == "SHARE" else k: v
                              for k, v in changes["values"].items()}}
        field = field.replace("WELLS", str(world["wells"])).replace("SHARE", str(world["share"]))
    with app.test_request_context():
        size = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
        with pytest.raises(ValidationError) as caught:
            services.post_report(_campaign(world), db.session.get(User, world["organizer"]),
                                 _report(world, **changes))
        assert field in caught.value.errors
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == size
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 0


def test_only_its_organizer_treasurer_or_an_admin_reports_and_only_on_a_public_campaign(app, world):
    with app.test_request_context():
        for who in (make_user(None, "organizer"), make_user(None, "treasurer"), make_user(None, "auditor"),
                    make_user()):
            with pytest.raises(services.ReportRefused):
                services.post_report(_campaign(world), who, _report(world))
        admin = make_user(None, "admin")
        assert services.post_report(_campaign(world), admin, _report(world)).number == 1
        draft = make_campaign(status="draft")
        with pytest.raises(services.ReportRefused):
            services.post_report(draft, db.session.get(User, draft.organizer_id), _report(world, values={}))


def test_the_form_posts_a_report_with_a_file_and_refuses_others(app, world):
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, world["treasurer"]))
    url = f"/campaigns/{world['campaign']}/reports/new"
    assert client.get(url).status_code == 200
    bad = client.post(url, data={"title": "Laporan", "narrative": "Isi", f"value_{world['wells']}": "1,5"})
    assert bad.status_code == 422
    good = client.post(url, content_type="multipart/form-data", data={
        "title": "Laporan Maret", "narrative": "Pipa terpasang.", f"value_{world['wells']}": "1",
        "evidence_0": (io.BytesIO(picture(3)), "foto.png"), "evidence_title_0": "Pipa terpasang",
        "disbursements": str(world["spent"])})
    assert good.status_code == 303 and good.location.endswith("/reports/1")
    stranger = app.test_client()
    with app.app_context():
        login(stranger, make_user(None, "organizer"))
    assert stranger.get(url).status_code == 403
    assert stranger.post(url, data={"title": "x", "narrative": "y"}).status_code == 403
    assert app.test_client().get(url).status_code in (302, 303, 403)


def test_the_form_names_each_bad_file_and_value_next_to_its_input(app, world):
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, world["treasurer"]))
        size = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    app.config["EVIDENCE_MAX_BYTES"] = 1024  # picture() is larger than this
    url = f"/campaigns/{world['campaign']}/reports/new"
    bad = client.post(url, content_type="multipart/form-data", headers={"Accept-Language": "en"}, data={
        "title": "Laporan Maret", "narrative": "Pipa terpasang.", f"value_{world['wells']}": "1.5",
        "evidence_0": (io.BytesIO(b"<svg onload=alert(1)/>"), "foto.svg"),
        "evidence_1": (io.BytesIO(picture(3)), "besar.png")})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    wrong_type = re.search(r'<p class="field-error" id="evidence_0-error">([^<]*)</p>', html)
    too_large = re.search(r'<p class="field-error" id="evidence_1-error">([^<]*)</p>', html)
    assert wrong_type and "Upload it as a PDF, JPEG or PNG file." in wrong_type.group(1)
    assert too_large and "larger than 1 KB" in too_large.group(1)
    assert 'id="evidence_2-error"' not in html
    for name in ("evidence_0", "evidence_1", f"value_{world['wells']}"):
        described = re.search(rf'<input[^>]*id="{name}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in described and f"{name}-error" in described, described
    start = html.index('class="error-summary"')
    summary = html[start:html.index("</div>", start)]
    assert "Sumur bor dibangun: This indicator counts whole things" in summary
    assert 'href="#evidence_1"' in summary and "File 2: The file is larger than 1 KB." in summary
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == size
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 0


def test_photos_lose_their_metadata_and_the_entry_names_the_published_bytes(app, world, client):
    out = io.BytesIO()
    drawing().save(out, "JPEG", quality=90, exif=rich_exif())  # GPS, camera, time: a phone photo
    photo = out.getvalue()
    assert SECRET_PLACE in photo
    with app.test_request_context():
        report = services.post_report(_campaign(world), db.session.get(User, world["organizer"]), _report(
            world, evidence=[services.EvidenceUpload(photo, "Foto sumur")]))
        db.session.commit()
        (file,) = report.evidence
        stored = evidence_store.read(file.sha256)
        leaf = json.loads(bytes(db.session.get(LedgerEntry, report.ledger_seq).leaf))
    for secret in (SECRET_PLACE, b"SecretPhoneMaker", b"SERIAL-0042"):
        assert secret not in stored
    assert file.sha256 == hashlib.sha256(stored).hexdigest() != hashlib.sha256(photo).hexdigest()
    assert leaf["files"] == [file.sha256]
    with client.get(f"/campaigns/{world['campaign']}/reports/evidence/{file.sha256}") as served:
        assert served.data == stored


def test_a_report_altered_afterwards_is_caught_by_verify(app, world, backend):
    with app.test_request_context():
        services.post_report(_campaign(world), db.session.get(User, world["organizer"]), _report(world))
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["ledger", "verify"]).exit_code == 0
    with app.app_context():
        # Someone with the database's keys edits the narrative behind the triggers' back.
        if backend == "postgresql":
            db.session.execute(sa.text(
                "ALTER TABLE progress_reports DISABLE TRIGGER progress_reports_no_change"))
        else:
            db.session.execute(sa.text("DROP TRIGGER progress_reports_no_update"))
        db.session.execute(sa.text("UPDATE progress_reports SET narrative = 'Lima sumur selesai.'"))
        if backend == "postgresql":
            db.session.execute(sa.text(
                "ALTER TABLE progress_reports ENABLE ALWAYS TRIGGER progress_reports_no_change"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 1 and "progress report 1" in result.output


def test_the_standalone_verifier_accepts_a_ledger_with_reports(app, world, client, tmp_path):
    with app.test_request_context():
        services.post_report(_campaign(world), db.session.get(User, world["organizer"]), _report(world))
        db.session.commit()
    (tmp_path / "ledger.jsonl").write_bytes(client.get("/ledger/export.jsonl").data)
    (tmp_path / "cp.txt").write_bytes(client.get("/ledger/checkpoint").data)
    (tmp_path / "key.txt").write_bytes(client.get("/ledger/key").data)
    result = subprocess.run(
        [sys.executable, "-m", "ledger.verify", "--export", "ledger.jsonl", "--checkpoint", "cp.txt",
         "--key", "key.txt"], cwd=tmp_path, env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    csv = client.get("/ledger/export.csv").get_data(as_text=True)
    assert ",report," in csv


def test_the_api_and_the_feed_carry_indicators_and_reports(app, world, client):
    with app.test_request_context():
        report = services.post_report(_campaign(world), db.session.get(User, world["organizer"]),
                                      _report(world))
        db.session.commit()
        digest, seq = report.sha256, report.ledger_seq
    api = client.get(f"/api/v1/campaigns/{world['campaign']}").json
    assert {i["name"]: i["latest"] for i in api["indicators"]} == {
        "Sumur bor dibangun": 200, "Rumah dengan air bersih": 3550}
    (listed,) = api["reports"]
    assert (listed["number"], listed["sha256"], listed["ledger_seq"]) == (1, digest, seq)
    assert listed["document_url"].endswith(f"/campaigns/{world['campaign']}/reports/1.json")
    feed = client.get(f"/campaigns/{world['campaign']}/updates.atom").get_data(as_text=True)
    assert "#1 Dua sumur pertama selesai" in feed and "#report-1</id>" in feed


def test_the_campaign_and_organization_api_answer_as_the_openapi_document_says(app, world, client):
    import jsonschema

    from organizations.models import Organization, OrganizationMember
    with app.test_request_context():
        campaign = _campaign(world)
        org = Organization(slug="yayasan-air", name="Yayasan Air Bersih", type="foundation",
                           legal_basis="AHU-0012345.AH.01.04.2020", address="Jl. Kaliurang 5, Sleman",
                           npwp="012345678901000", contact="air@example.test", description="Sumur.",
                           created_by_id=campaign.organizer_id,
                           members=[OrganizationMember(user_id=campaign.organizer_id, role="organizer")])
        db.session.add(org)
        db.session.flush()
        campaign.organization_id = org.id
        db.session.commit()
        services.post_report(_campaign(world), db.session.get(User, world["organizer"]), _report(world))
        db.session.commit()
    components = client.get("/api/v1/openapi.json").json["components"]

    def conforms(data, schema_name):
        jsonschema.validate(data, {"$ref": f"#/components/schemas/{schema_name}", "components": components})

    one = client.get(f"/api/v1/campaigns/{world['campaign']}").json
    conforms(one, "Campaign")
    assert one["organization"]["slug"] == "yayasan-air" and one["reports"] and one["indicators"]
    organization = client.get("/api/v1/organizations/yayasan-air").json
    conforms(organization, "Organization")
    (listed,) = organization["campaigns"]
    assert listed["reports"] == one["reports"] and listed["indicators"] == one["indicators"]
    assert "story_html" not in listed  # the story stays on the campaign's own answer


def test_a_report_is_overdue_when_money_went_out_long_ago_with_none_since(app, world, client, monkeypatch):
    later = disbursements.now_utc() + dt.timedelta(days=31)
    with app.test_request_context():
        campaign = _campaign(world)
        assert services.overdue_since(campaign) is None  # disbursed today
        assert services.overdue_since(campaign, now=later) is not None
        app.config["REPORT_OVERDUE_DAYS"] = 40
        assert services.overdue_since(campaign, now=later) is None
        app.config["REPORT_OVERDUE_DAYS"] = 30
    monkeypatch.setattr(services, "now_utc", lambda: later)  # a month on
    url = f"/campaigns/{world['campaign']}"
    page = client.get(url, follow_redirects=True, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Report overdue" in page
    monkeypatch.undo()
    with app.test_request_context():
        services.post_report(_campaign(world), db.session.get(User, world["organizer"]), _report(world))
        db.session.commit()
        assert services.overdue_since(_campaign(world), now=later) is None  # reported since
    monkeypatch.setattr(services, "now_utc", lambda: later)
    page = client.get(url, follow_redirects=True, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Report overdue" not in page


def test_closing_a_campaign_opens_its_final_report(app, world):
    owner = app.test_client()
    with app.app_context():
        login(owner, db.session.get(User, world["organizer"]))
    url = f"/campaigns/{world['campaign']}"
    closed = owner.post(f"{url}/close", data={"reason": "Sumur selesai"}, headers={"Accept-Language": "en"})
    assert closed.status_code == 303 and closed.location.endswith(f"{url}/reports/new?final=1")
    form = owner.get(closed.location, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Now post its final report" in form and 'type="checkbox" value="y"' in form and "checked" in form
    with app.app_context():
        assert _campaign(world).status == "closed"


def test_a_closed_campaign_asks_for_its_final_report_until_it_has_one(app, world):
    owner = app.test_client()
    with app.app_context():
        login(owner, db.session.get(User, world["organizer"]))
        campaign = _campaign(world)
        campaign.status, campaign.closed_at = "closed", disbursements.now_utc()
        db.session.commit()
    url = f"/campaigns/{world['campaign']}"
    page = owner.get(url, follow_redirects=True, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Post the final report" in page
    form = owner.get(f"{url}/reports/new?final=1").get_data(as_text=True)
    assert 'id="final" name="final" type="checkbox" value="y"' in form and "checked" in form
    public = app.test_client().get(url, follow_redirects=True, headers={"Accept-Language": "en"})
    assert "Post the final report" not in public.get_data(as_text=True)  # only for who may report
    with app.test_request_context():
        services.post_report(_campaign(world), db.session.get(User, world["organizer"]),
                             _report(world, final=True))
        db.session.commit()
    page = owner.get(url, follow_redirects=True, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Post the final report" not in page and "Final report" in page


def test_the_impact_report_is_public_and_carries_each_report_with_its_proof(app, world, client):
    with app.test_request_context():
        report = services.post_report(_campaign(world), db.session.get(User, world["organizer"]),
                                      _report(world, final=True))
        db.session.commit()
        seq, digest = report.ledger_seq, report.sha256
    response = client.get(f"/campaigns/{world['campaign']}/reports/impact.pdf",
                          headers={"Accept-Language": "en"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(pdf_text(response.data).split())
    assert "Impact report" in text and "Dua sumur pertama selesai" in text
    assert "Sumur bor dibangun" in text and "2 sumur" in text and "Final report" in text
    assert digest[:16] in text.replace(" ", "") and "Inclusion proof" in text
    with app.app_context():
        cp = db.session.scalar(sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()))
        assert cp.size > seq  # the signed checkpoint covers the report's entry
    with app.app_context():
        draft = make_campaign(status="draft").public_id
    assert client.get(f"/campaigns/{draft}/reports/impact.pdf").status_code == 404
