"""Every document names its issuer: name, address, legal registration and NPWP; from the campaign's
verified organization when it has one, else from configuration, which production requires."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from accounts.models import Role
from amanah import create_app
from amanah.config import ConfigError
from amanah.db import now_utc
from amanah.extensions import db
from documents import receipts
from documents.models import Document
from organizations.models import Organization
from tests.factories import login, make_user
from tests.factories.documents import fail_refund, make_campaign, paid_donation, pdf_text, refund

PROFILE = {"name": "Yayasan Sumber Air Bersih", "address": "Jl. Merdeka No. 7, Bandung 40111",
           "legal_basis": "AHU-0012345.AH.01.04.Tahun 2021", "npwp": "012345678901000"}
PROFILE_NPWP = "01.234.567.8-901.000"


def _organization(verified: bool) -> Organization:
    creator = make_user()
    org = Organization(slug=f"sumber-air-{creator.id}", type="foundation", contact="info@air.test",
                       description="Air bersih", created_by_id=creator.id, **PROFILE)
    if verified:
        org.verified_at, org.verified_by_id, org.verification_note = now_utc(), creator.id, "SK checked"
    db.session.add(org)
    db.session.commit()
    return org


def _platform_lines(app) -> list[str]:
    config = app.config
    return [config["ORG_NAME"], config["ORG_ADDRESS"], config["ORG_REGISTRATION_NO"], "00.000.000.0-000.000"]


def _profile_lines() -> list[str]:
    return [PROFILE["name"], PROFILE["address"], PROFILE["legal_basis"], PROFILE_NPWP]


def _campaign(run_by: str):
    campaign = make_campaign(treasurer=make_user(None, Role.TREASURER))
    if run_by != "person":
        campaign.organization_id = _organization(verified=run_by == "verified organization").id
        db.session.commit()
    return campaign


def _assert_names(text: str, lines: list[str]) -> None:
    flat = " ".join(text.split())
    for line in lines:
        assert " ".join(line.split()) in flat, line


@pytest.mark.parametrize("run_by", ["person", "unverified organization", "verified organization"])
def test_receipts_credit_notes_and_cancellations_name_their_issuer(app, client, run_by):
    with app.app_context():
        donor = make_user()
        campaign = _campaign(run_by)
        donation_id = paid_donation(app, campaign, user=donor)
        login(client, donor)
    refund(app, donation_id, 50_000_000)
    with app.app_context():
        refund_id = db.session.execute(sa.text("SELECT id FROM donation_refunds")).scalar_one()
    fail_refund(app, refund_id)
    expected = _profile_lines() if run_by == "verified organization" else _platform_lines(app)
    with app.app_context():
        serials = db.session.execute(sa.select(Document.serial).order_by(Document.id)).scalars().all()
        kinds = db.session.execute(sa.select(Document.kind).order_by(Document.id)).scalars().all()
        assert kinds == ["receipt", "credit_note", "cancellation"]
        organization = receipts.get_by_serial(serials[0]).content["organization"]
        assert organization["source"] == ("organization" if run_by == "verified organization" else "platform")
    for serial in serials:
        response = client.get(f"/receipts/{serial}.pdf")
        assert response.status_code == 200
        _assert_names(pdf_text(response.data), expected)


def test_the_statement_names_the_platform_and_each_gifts_recipient(app, client):
    with app.app_context():
        donor = make_user()
        paid_donation(app, _campaign("verified organization"), user=donor)
        paid_donation(app, _campaign("person"), user=donor)
        login(client, donor)
        year = now_utc().year
    response = client.get(f"/donations/mine/statement.pdf?from={year - 1}-01-01&to={year + 1}-12-31")
    assert response.status_code == 200
    text = pdf_text(response.data)
    _assert_names(text, _platform_lines(app))
    _assert_names(text, [PROFILE["name"], PROFILE_NPWP])


@pytest.mark.parametrize("run_by", ["person", "verified organization"])
def test_campaign_and_impact_reports_name_the_campaigns_organization(app, client, run_by):
    with app.app_context():
        campaign = _campaign(run_by)
        paid_donation(app, campaign)
        login(client, make_user(None, Role.ADMIN))
        public_id = campaign.public_id
    expected = _profile_lines() if run_by == "verified organization" else _platform_lines(app)
    for address in (f"/campaigns/{public_id}/documents/report.pdf",
                    f"/campaigns/{public_id}/reports/impact.pdf"):
        response = client.get(address)
        assert response.status_code == 200, address
        _assert_names(pdf_text(response.data), expected)


ORG_SETTINGS = ("ORG_NAME", "ORG_ADDRESS", "ORG_REGISTRATION_NO", "ORG_NPWP")


def test_production_refuses_to_start_without_the_organizations_identity(tmp_path, monkeypatch):
    for name in ORG_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMANAH_ENV", "production")
    with pytest.raises(ConfigError) as excinfo:
        create_app({"INSTANCE_PATH": str(tmp_path)})
    missing = str(excinfo.value).split("missing: ", 1)[1].split(", ")
    assert set(ORG_SETTINGS) <= set(missing)


def test_development_has_marked_demo_values_and_an_npwp_must_be_one(tmp_path, monkeypatch):
    from amanah.config import load_config
    for name in ORG_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMANAH_ENV", "development")
    config = load_config(tmp_path)
    assert "demo" in config["ORG_ADDRESS"] and "demo" in config["ORG_REGISTRATION_NO"]
    monkeypatch.setenv("ORG_NPWP", "01.234.567.8-901.000")
    assert load_config(tmp_path)["ORG_NPWP"] == "012345678901000"
    monkeypatch.setenv("ORG_NPWP", "12345")
    with pytest.raises(ConfigError, match="ORG_NPWP: expected an NPWP"):
        load_config(tmp_path)
