"""Donor statements and campaign financial reports."""
from __future__ import annotations

import hashlib

import pytest

from accounts.models import Role
from accounts.permissions import Action, can
from amanah.extensions import db
from documents import receipts
from ledger import storage
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation, pdf_text, refund


def _this_year(app):
    from documents.statements import default_range
    with app.app_context():
        return default_range()


def test_statement_lists_own_donations_nets_refunds_and_totals_per_currency(app, client):
    start, end = _this_year(app)
    with app.app_context():
        donor, other = make_user(name="Siti Rahayu", npwp="012345678901234"), make_user()
        idr, usd = make_campaign(), make_campaign(currency="USD", title="Clean water")
        first = paid_donation(app, idr, user=donor, amount=150_000_000)
        paid_donation(app, idr, user=donor, amount=25_000_000)
        paid_donation(app, usd, user=donor, amount=2_500)
        paid_donation(app, idr, user=other, amount=99_900_000)
        refund(app, first, 50_000_000)
        serial = receipts.receipt_of(first).serial
        login(client, donor)
    response = client.get(f"/donations/mine/statement.pdf?from={start}&to={end}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    for expected in ("Siti Rahayu", "01.234.567.8-901.234", serial, "AMN-CN-", "Rp 1.500.000", "Rp 500.000",
                     "Rp 1.000.000", "Rp 250.000", "Rp 1.250.000", "US$ 25,00", "IDR", "USD", start, end):
        assert expected in text, expected
    assert "Rp 999.000" not in text  # another donor's gift


def test_statement_of_another_period_is_empty_and_dashboard_links_receipts(app, client):
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        serial = receipts.receipt_of(donation_id).serial
        login(client, donor)
    text = pdf_text(client.get("/donations/mine/statement.pdf?from=2020-01-01&to=2020-12-31").data)
    assert "Tidak ada donasi terkonfirmasi" in text
    page = client.get("/donations/mine").get_data(as_text=True)
    assert f"/receipts/{serial}.pdf" in page and 'name="from"' in page


@pytest.mark.parametrize("query, message", [
    ("", "Masukkan tanggal from"),
    ("from=2026-01-01", "Masukkan tanggal to"),
    ("from=2026-13-01&to=2026-12-31", "bukan tanggal"),
    ("from=yesterday&to=2026-12-31", "bukan tanggal"),
    ("from=2026-12-31&to=2026-01-01", "tidak boleh sebelum"),
    ("from=2000-01-01&to=2026-01-01", "sepuluh tahun"),
])
def test_bad_statement_ranges_are_refused_with_a_message(app, client, query, message):
    with app.app_context():
        login(client, make_user())
    response = client.get(f"/donations/mine/statement.pdf?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert message in response.get_data(as_text=True)


def test_statement_needs_a_signed_in_donor(client):
    response = client.get("/donations/mine/statement.pdf?from=2026-01-01&to=2026-12-31")
    assert response.status_code == 302 and "/login" in response.location


def _campaign_with_money(app, treasurer):
    campaign = make_campaign(treasurer=treasurer)
    paid_donation(app, campaign, amount=300_000_000)
    evidence = hashlib.sha256(b"nota pembelian pipa").hexdigest()
    storage.append(db.session, kind="disbursement", campaign=campaign.public_id, amount=-120_000_000,
                   currency="IDR", memo="Pembelian pipa air", evidence=evidence)
    db.session.commit()
    return campaign, evidence


REPORT_ROLES = {"anonymous": False, "donor": False, "organizer": False, "campaign treasurer": True,
                "other treasurer": False, "auditor": True, "admin": True}


@pytest.mark.parametrize("who, allowed", REPORT_ROLES.items())
def test_campaign_report_for_treasurer_auditors_and_admins(app, client, who, allowed):
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign, evidence = _campaign_with_money(app, treasurer)
        users = {"donor": make_user(), "organizer": campaign.organizer, "campaign treasurer": treasurer,
                 "other treasurer": make_user(None, Role.TREASURER), "auditor": make_user(None, Role.AUDITOR),
                 "admin": make_user(None, Role.ADMIN)}
        if who in users:
            login(client, users[who])
        assert can(users.get(who), Action.VIEW_CAMPAIGN_REPORT, campaign) == allowed
        public_id = campaign.public_id
    response = client.get(f"/campaigns/{public_id}/documents/report.pdf")
    assert response.status_code == (200 if allowed else 404)
    if allowed:
        text = pdf_text(response.data).replace("\n", " ")
        for expected in ("Air bersih untuk desa", "Rp 3.000.000", "Rp 1.200.000", "Pembelian pipa air",
                         evidence[:40], "Checkpoint", "amanah.localhost/ledger"):
            assert expected in text, expected
        page = client.get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
        assert f"/campaigns/{public_id}/documents/report.pdf" in page


def test_long_statement_numbers_its_pages_and_names_itself_on_each(app, client):
    """Statements run over pages: each carries the title and "page / pages" at its foot."""
    import io

    from pypdf import PdfReader
    start, end = _this_year(app)
    with app.app_context():
        donor = make_user(name="Siti Rahayu")
        campaign = make_campaign()
        for n in range(45):
            paid_donation(app, campaign, user=donor, amount=1_000_000 + n * 100)
        login(client, donor)
    data = client.get(f"/donations/mine/statement.pdf?from={start}&to={end}").data
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in text
        assert f"Laporan donasi {start} sampai {end}" in text.replace("\n", " ")
