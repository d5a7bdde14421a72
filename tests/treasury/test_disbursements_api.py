"""The disbursements JSON API (checked against its OpenAPI description) and the demo data."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from amanah import evidence as evidence_store
from amanah.extensions import db
from campaigns.services import today_wib
from ledger.models import LedgerEntry
from tests.factories.treasury import fund, make_campaign, pdf, picture
from treasury import api as disbursement_api
from treasury import disbursements
from treasury.models import Disbursement

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _two_disbursements(app) -> str:
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * 100)
        for n, public in ((1, True), (2, False)):
            disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
                amount=n * 10_000 * 100, paid_on=today_wib(), payee_kind="organization",
                payee_name=f"Toko {n}", purpose=f"Pembelian tahap {n}", category="goods",
                evidence=pdf(n) if public else picture(n), evidence_public=public))
            db.session.commit()
        return campaign.public_id


@pytest.mark.files
def test_the_api_lists_disbursements_and_links_only_public_evidence(app, client):
    public_id = _two_disbursements(app)
    body = client.get(f"/api/v1/campaigns/{public_id}/disbursements").get_json()
    assert body["campaign"] == public_id and body["currency"] == "IDR"
    assert body["disbursed"] == 30_000 * 100 and body["balance"] == 970_000 * 100
    public, withheld = sorted(body["items"], key=lambda item: item["amount"])
    assert public["evidence_url"].endswith(f"/evidence/{public['evidence_sha256']}")
    assert public["evidence_type"] == "application/pdf" and withheld["evidence_type"] == "image/png"
    assert withheld["evidence_public"] is False and withheld["evidence_url"] is None
    with app.app_context():
        entry = db.session.get(LedgerEntry, public["ledger_seq"])
        assert entry.kind == "disbursement" and entry.amount == -public["amount"]
    assert client.get("/api/v1/campaigns/aaaaaaaaaaaa/disbursements").status_code == 404
    with app.app_context():
        draft = make_campaign("draft")
        draft_id = draft.public_id
    missing = client.get(f"/api/v1/campaigns/{draft_id}/disbursements")
    assert missing.status_code == 404 and "error" in missing.get_json()


def _reverse_the_first(app, public_id: str) -> int:
    """Reverse the campaign's first disbursement (as recorded in error); its reversal's entry seq."""
    from campaigns.models import Campaign
    with app.test_request_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        first = min(disbursements.for_campaign(campaign), key=lambda d: d.id)
        reversal = disbursements.reverse(first, campaign.treasurer, "Tercatat dua kali, pembayaran yang sama")
        db.session.commit()
        return reversal.ledger_seq


@pytest.mark.files
def test_the_api_marks_a_reversed_disbursement_and_leaves_it_out_of_disbursed(app, client):
    public_id = _two_disbursements(app)
    seq = _reverse_the_first(app, public_id)
    body = client.get(f"/api/v1/campaigns/{public_id}/disbursements").get_json()
    assert body["disbursed"] == 20_000 * 100 and body["balance"] == 980_000 * 100
    by_amount = {item["amount"]: item for item in body["items"]}
    assert by_amount[20_000 * 100]["reversed"] is None
    reversed_ = by_amount[10_000 * 100]["reversed"]
    assert reversed_["reason"] == "Tercatat dua kali, pembayaran yang sama" and reversed_["ledger_seq"] == seq
    assert reversed_["ledger_entry_url"].endswith(f"/ledger/entries/{seq}")
    assert reversed_["reversed_at"]


def test_the_operation_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert disbursement_api.PATH in document["paths"]
    schemas = set(document["components"]["schemas"])
    assert {"Disbursement", "DisbursementList", "DisbursementReversal"} <= schemas


@pytest.mark.files
def test_the_operation_answers_as_documented(app):
    # Positive mode only: a free-form string path parameter has no constraint to break.
    public_id = _two_disbursements(app)
    _reverse_the_first(app, public_id)  # the answer holds a reversed disbursement, too
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[disbursement_api.PATH]["GET"]
    operation.Case(path_parameters={"public_id": public_id}).call_and_validate(checks=CHECKS)

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(max_examples=20, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()


@pytest.mark.files
def test_demo_disbursements_are_real_files_and_loading_twice_adds_nothing(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Disbursement)))
        assert len(rows) >= 3
        assert {r.evidence_type for r in rows} == {"application/pdf", "image/png"}
        assert any(not r.evidence_public for r in rows) and any(r.evidence_public for r in rows)
        for row in rows:
            data = evidence_store.read(row.evidence_sha256)
            assert hashlib.sha256(data).hexdigest() == row.evidence_sha256
            assert evidence_store.sniff(data) == row.evidence_type  # a real, readable document
            assert row.campaign.treasurer_id == row.recorded_by_id
            assert disbursements.available_balance(row.campaign) >= 0
        count = len(rows)
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Disbursement)) == count
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output


@pytest.mark.files
def test_the_list_is_paged_by_next_links_and_totals_cover_every_page(app, client):
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * 100)
        for n in range(7):
            disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
                amount=(n + 1) * 1_000 * 100, paid_on=today_wib() - dt.timedelta(days=n // 3),
                payee_kind="organization", payee_name=f"Toko {n}", purpose="Alat tulis", category="goods",
                evidence=picture(40 + n)))
            db.session.commit()
        public_id = campaign.public_id
        expected = [d.ledger_seq for d in disbursements.for_campaign(campaign)]
    url, seen, pages = f"/api/v1/campaigns/{public_id}/disbursements?limit=3", [], 0
    while url:
        body = client.get(url).get_json()
        assert len(body["items"]) <= 3 and body["disbursed"] == 28_000 * 100  # all 7, on every page
        seen += [item["ledger_seq"] for item in body["items"]]
        url, pages = body["next"], pages + 1
    assert seen == expected and pages == 3  # newest payment first, each once
    assert client.get(f"/api/v1/campaigns/{public_id}/disbursements").get_json()["next"] is None
    for query, field in (("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"),
                         ("before=yesterday", "before"), ("before=2026-02-30_1", "before")):
        response = client.get(f"/api/v1/campaigns/{public_id}/disbursements?{query}")
        assert response.status_code == 400 and response.get_json()["field"] == field, query
