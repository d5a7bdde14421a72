"""Disbursements: recording through the form, the ledger entry and its evidence, errors, access."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
import sqlalchemy as sa

from accounts.models import Role, User
from amanah import evidence as evidence_store
from amanah.db import now_utc
from amanah.extensions import db
from campaigns.models import Campaign
from campaigns.services import today_wib
from ledger import storage
from ledger.models import CampaignTotal, LedgerEntry
from tests.factories import login, make_user
from tests.factories.treasury import EN, RP, form_data, fund, make_campaign, pdf, picture, stored_nothing
from treasury import disbursements
from treasury.models import Disbursement


def _campaign(public_id: str) -> Campaign:
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))


# ---- recording through the form ----

@pytest.mark.files
def test_treasurer_records_a_disbursement_through_the_form(app, client, funded):
    public_id, treasurer_id = funded
    with app.app_context():
        login(client, db.session.get(User, treasurer_id))
    page = client.get(f"/treasury/{public_id}/disbursements/new", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Available balance: IDR 960,000" in html and 'enctype="multipart/form-data"' in html
    document = pdf(7)
    response = client.post(f"/treasury/{public_id}/disbursements/new", data=form_data(
        amount="250,000", evidence=(document, "invoice.PDF")),
        headers={"Accept-Language": "en"}, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.location.endswith("#disbursements")
    sha = hashlib.sha256(document).hexdigest()
    with app.app_context():
        row = db.session.scalar(sa.select(Disbursement))
        assert (row.amount, row.currency, row.category, row.payee_kind) == (250_000 * RP, "IDR", "goods",
                                                                            "organization")
        assert row.evidence_sha256 == sha and row.evidence_type == "application/pdf" and row.evidence_public
        assert row.recorded_by_id == treasurer_id
        entry = db.session.get(LedgerEntry, row.ledger_seq)
        leaf = json.loads(entry.leaf)
        assert leaf["kind"] == "disbursement" and leaf["amount"] == -250_000 * RP
        assert leaf["evidence"] == sha and leaf["memo"] == "Pipa PVC untuk jaringan air bersih"
        assert b"Sinar Jaya" not in entry.leaf  # the payee stays beside the ledger
        totals = db.session.get(CampaignTotal, public_id)
        assert (totals.disbursed, totals.balance) == (250_000 * RP, 710_000 * RP)
        assert evidence_store.read(sha) == document
        seq = row.ledger_seq

    # The campaign page lists it with a link to its entry and to the public evidence.
    campaign_page = client.get(f"/campaigns/{public_id}/air-bersih", headers={"Accept-Language": "en"})
    text = campaign_page.get_data(as_text=True)
    assert "Toko Bangunan Sinar Jaya" in text and "Program goods" in text and "IDR 250,000" in text
    assert f'href="/ledger/entries/{seq}"' in text and f'href="/evidence/{sha}"' in text

    # The served file is exactly the one the ledger entry names.
    with client.get(f"/evidence/{sha}") as served:
        assert served.status_code == 200
        assert hashlib.sha256(served.data).hexdigest() == leaf["evidence"]
        assert served.mimetype == "application/pdf"
        assert served.headers["Content-Disposition"].startswith("attachment;")
        assert f"evidence-{sha[:16]}.pdf" in served.headers["Content-Disposition"]
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        etag = served.headers["ETag"]
    with client.get(f"/evidence/{sha}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304

    # The ledger entry page links the public evidence.
    entry_page = client.get(f"/ledger/entries/{seq}", headers=EN).get_data(as_text=True)
    assert f'href="/evidence/{sha}"' in entry_page and "Open the evidence document" in entry_page


@pytest.mark.files
def test_an_image_is_served_inline_with_its_sniffed_type(app, funded):
    public_id, _ = funded
    document = picture(3, "JPEG")
    with app.test_request_context():
        campaign = _campaign(public_id)
        row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=10_000 * RP, paid_on=today_wib(), payee_kind="individual", payee_name="Ibu Sari",
            purpose="Bantuan langsung untuk keluarga", category="direct_aid", evidence=document))
        db.session.commit()
        assert row.evidence_type == "image/jpeg"
    with app.test_client().get(f"/evidence/{row.evidence_sha256}") as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert served.headers["Content-Disposition"].startswith("inline;")
        assert served.data == document
    page = app.test_client().get(f"/campaigns/{public_id}/air-bersih", headers={"Accept-Language": "en"})
    assert "Ibu Sari" in page.get_data(as_text=True) and "private person" in page.get_data(as_text=True)


@pytest.mark.files
def test_withheld_evidence_is_only_for_treasurer_admins_and_auditors(app, funded):
    public_id, _ = funded
    with app.test_request_context():
        campaign = _campaign(public_id)
        row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=5_000 * RP, paid_on=today_wib(), payee_kind="individual", payee_name="Pak Darto",
            purpose="Ongkos angkut material", category="services", evidence=picture(4),
            evidence_public=False))
        db.session.commit()
        sha, seq = row.evidence_sha256, row.ledger_seq
        users = {"donor": make_user(), "auditor": make_user(None, Role.AUDITOR),
                 "admin": make_user(None, Role.ADMIN), "other treasurer": make_user(None, Role.TREASURER),
                 "treasurer": campaign.treasurer}
        user_ids = {who: user.id for who, user in users.items()}
    expected = {"anonymous": 404, "donor": 404, "other treasurer": 404, "auditor": 200, "admin": 200,
                "treasurer": 200}
    for who, status in expected.items():
        client = app.test_client()
        if who != "anonymous":
            with app.app_context():
                login(client, db.session.get(User, user_ids[who]))
        with client.get(f"/evidence/{sha}") as response:
            assert response.status_code == status, who
            if status == 200:
                assert hashlib.sha256(response.data).hexdigest() == sha
                assert response.headers["Cache-Control"] == "private, no-store"
    public = app.test_client()
    page = public.get(f"/campaigns/{public_id}/air-bersih", headers=EN).get_data(as_text=True)
    assert "Withheld" in page and f"/evidence/{sha}" not in page
    entry = public.get(f"/ledger/entries/{seq}", headers=EN).get_data(as_text=True)
    assert sha in entry and f"/evidence/{sha}" not in entry and "withheld" in entry


def test_unknown_evidence_is_404(client):
    assert client.get("/evidence/" + "0" * 64).status_code == 404
    assert client.get("/evidence/not-a-hash").status_code == 404


# ---- form errors: a clear message for every bad field, in both languages, and nothing stored ----

FUTURE = (now_utc() + dt.timedelta(days=3)).date().isoformat()
BAD_FIELDS = [
    ("zero", {"amount": "0"}, "amount", "more than zero", "lebih dari nol"),
    ("negative", {"amount": "-5000"}, "amount", "must be positive", "harus positif"),
    ("not a number", {"amount": "lima ribu"}, "amount", "Enter the amount in digits",
     "Masukkan jumlah dalam angka"),
    ("absurd", {"amount": "99999999999999999999"}, "amount", "too large", "terlalu besar"),
    ("empty amount", {"amount": ""}, "amount", "Enter the amount paid", "Masukkan jumlah yang dibayarkan"),
    ("over balance", {"amount": "960001"}, "amount", "available balance of",
     "melebihi saldo tersedia kampanye"),
    ("future date", {"paid_on": FUTURE}, "paid_on", "cannot be in the future", "tidak boleh di masa depan"),
    ("no date", {"paid_on": ""}, "paid_on", "Enter a date such as", "Masukkan tanggal seperti"),
    ("ancient date", {"paid_on": "1999-01-01"}, "paid_on", "before the campaign was created",
     "sebelum kampanye dibuat"),
    ("empty payee", {"payee_name": "  "}, "payee_name", "Enter who was paid", "Masukkan siapa yang dibayar"),
    ("long payee", {"payee_name": "A" * 121}, "payee_name", "At most 120 characters",
     "Paling banyak 120 karakter"),
    ("payee phone", {"payee_kind": "individual", "payee_name": "Sari 0812 3456 7890"}, "payee_name",
     "Only a name", "Hanya nama: tanpa alamat email"),
    ("no payee kind", {"payee_kind": "robot"}, "payee_kind", "organization or a private person",
     "adalah organisasi atau perorangan"),
    ("empty purpose", {"purpose": ""}, "purpose", "Enter what the money paid for",
     "Masukkan untuk apa uang itu dibayarkan"),
    ("long purpose", {"purpose": "b" * 501}, "purpose", "At most 500 characters",
     "Paling banyak 500 karakter"),
    ("purpose e-mail", {"purpose": "Transfer ke sari@example.org"}, "purpose",
     "published in the ledger forever", "diterbitkan di buku besar"),
    ("unknown category", {"category": "bribes"}, "category", "Choose a spending category",
     "Pilih kategori pengeluaran dari daftar"),
    ("no evidence", {"evidence": (b"", "")}, "evidence", "Attach the invoice",
     "Lampirkan faktur atau bukti transfer"),
    ("text as pdf", {"evidence": (b"just some text, not an invoice", "nota.pdf")}, "evidence",
     "as a PDF, JPEG or PNG file", "sebagai berkas PDF, JPEG, atau PNG"),
    ("html as png", {"evidence": (b"<html><script>alert(1)</script></html>", "slip.png")},
     "evidence", "as a PDF, JPEG or PNG file", "sebagai berkas PDF, JPEG, atau PNG"),
    ("truncated pdf", {"evidence": (b"%PDF-1.4\n1 0 obj\n<<>>\n", "nota.pdf")}, "evidence",
     "cannot be read", "tidak dapat dibaca"),
    ("broken png", {"evidence": (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "slip.png")}, "evidence",
     "cannot be read", "tidak dapat dibaca"),
    ("webp", {"evidence": (picture(5, "WEBP"), "slip.webp")}, "evidence",
     "as a PDF, JPEG or PNG file", "sebagai berkas PDF, JPEG, atau PNG"),
    ("oversized", {"evidence": (pdf(9) + b"\n" * 70_000 + b"%%EOF\n", "big.pdf")}, "evidence",
     "larger than 64 KB", "lebih besar dari 64 KB"),
    ("bad visibility", {"evidence_visibility": "everyone"}, "evidence_visibility", "published or withheld",
     "diterbitkan atau dirahasiakan"),
]


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize(("name", "override", "field", "en", "id_"), BAD_FIELDS,
                         ids=[b[0] for b in BAD_FIELDS])
@pytest.mark.files
def test_bad_field_gets_a_clear_error_and_nothing_is_stored(app, funded, lang, name, override, field,
                                                             en, id_):
    public_id, treasurer_id = funded
    app.config["EVIDENCE_MAX_BYTES"] = 64 * 1024
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, treasurer_id))
    response = client.post(f"/treasury/{public_id}/disbursements/new", data=form_data(**override),
                           headers={"Accept-Language": lang}, content_type="multipart/form-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (en if lang == "en" else id_) in html, html[html.find("error-summary"):][:1500]
    assert f'id="{field}-error"' in html or f'href="#{field}' in html
    if name == "over balance":
        assert ("IDR 960,000" if lang == "en" else "Rp 960.000") in html
    assert stored_nothing(app)


@pytest.mark.files
def test_same_document_cannot_prove_two_payments(app, funded):
    public_id, _ = funded
    document = pdf(11)
    with app.test_request_context(headers=EN):
        campaign = _campaign(public_id)
        data = disbursements.DisbursementInput(
            amount=1_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
            purpose="Pembelian alat tulis", category="goods", evidence=document)
        disbursements.record(campaign, campaign.treasurer, data)
        db.session.commit()
        with pytest.raises(disbursements.ValidationError) as refused:
            disbursements.record(campaign, campaign.treasurer, data)
        assert "already the evidence" in refused.value.errors["evidence"]
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Disbursement)) == 1
        assert evidence_store.exists(hashlib.sha256(document).hexdigest())


@pytest.mark.files
def test_a_failed_transaction_leaves_no_evidence_file(app, funded):
    """The file is put in place inside the transaction; a rollback after that removes it again."""
    public_id, _ = funded
    document = picture(12)
    with app.test_request_context():
        campaign = _campaign(public_id)
        disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=1_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
            purpose="Pembelian alat tulis", category="goods", evidence=document))
        sha = hashlib.sha256(document).hexdigest()
        assert evidence_store.exists(sha)
        db.session.rollback()
        assert not evidence_store.exists(sha)
    assert stored_nothing(app)


@pytest.mark.files
def test_balance_counts_refunds_chargebacks_fees_and_earlier_disbursements(app):
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 100_000 * RP, fee=3_000 * RP)
        first = storage.append(db.session, kind="donation", campaign=campaign.public_id, amount=50_000 * RP,
                               currency="IDR")
        storage.append(db.session, kind="refund", campaign=campaign.public_id, amount=-20_000 * RP,
                       currency="IDR", ref=first.seq)
        storage.append(db.session, kind="chargeback", campaign=campaign.public_id, amount=-10_000 * RP,
                       currency="IDR", ref=first.seq)
        db.session.commit()
        assert disbursements.available_balance(campaign) == 117_000 * RP

        def data(amount, n):
            return disbursements.DisbursementInput(
                amount=amount, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
                purpose="Pembelian alat tulis", category="goods", evidence=picture(20 + n))

        disbursements.record(campaign, campaign.treasurer, data(100_000 * RP, 1))
        db.session.commit()
        with pytest.raises(disbursements.ValidationError) as refused:
            disbursements.record(campaign, campaign.treasurer, data(17_001 * RP, 2))
        assert "17.000" in refused.value.errors["amount"]
        db.session.rollback()
        disbursements.record(campaign, campaign.treasurer, data(17_000 * RP, 3))  # exactly what is left
        db.session.commit()
        assert disbursements.available_balance(campaign) == 0


def test_payment_date_is_judged_by_the_easternmost_indonesian_clock(app):
    # 16:30 UTC is 23:30 in Jakarta but already 01:30 the next day in Jayapura.
    now = dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)
    assert disbursements.latest_paid_on(now) == dt.date(2026, 12, 1)
    with app.test_request_context():
        campaign = make_campaign()
        ok = disbursements.DisbursementInput(
            amount=1, paid_on=dt.date(2026, 12, 1), payee_kind="organization", payee_name="Toko",
            purpose="Alat tulis", category="goods", evidence=b"x")
        assert "paid_on" not in disbursements.check(campaign, ok, now)
        ok.paid_on = dt.date(2026, 12, 2)
        assert "paid_on" in disbursements.check(campaign, ok, now)


@pytest.mark.parametrize(("text", "personal"), [
    ("Pembelian 20 sak semen", False), ("Tahap 2026 - 2027", False), ("Rp 1.500.000 untuk beras", False),
    ("hubungi 0812-3456-7890", True), ("rekening 1234567890", True), ("NIK 3201234567890001", True),
    ("kirim ke sari@example.org", True), ("+62 812 3456 7890", True),
])
def test_personal_data_is_kept_out_of_the_ledger(text, personal):
    assert disbursements._personal_data(text) is personal


def test_an_entry_whose_evidence_is_not_ours_gets_no_link_and_no_withheld_note(app, client):
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 1_000 * RP)
        sha = hashlib.sha256(b"a document kept elsewhere").hexdigest()
        entry = storage.append(db.session, kind="disbursement", campaign=campaign.public_id,
                               amount=-500 * RP, currency="IDR", memo="Dicatat tanpa berkas", evidence=sha)
        db.session.commit()
    page = client.get(f"/ledger/entries/{entry.seq}", headers=EN).get_data(as_text=True)
    assert sha in page and "/evidence/" not in page and "withheld" not in page


@pytest.mark.files
def test_database_refuses_to_change_or_delete_a_disbursement(app):
    """What the campaign page shows beside the ledger entry cannot be rewritten either."""
    from sqlalchemy.exc import DBAPIError

    from treasury.models import Disbursement
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 100_000 * RP)
        row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=10_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
            purpose="Pembelian alat tulis", category="goods", evidence=picture(77)))
        db.session.commit()
        where = Disbursement.id == row.id
        for statement in (sa.update(Disbursement).where(where).values(payee_name="Toko Lain"),
                          sa.update(Disbursement).where(where).values(amount=1),
                          sa.update(Disbursement).where(where).values(evidence_public=False),
                          sa.delete(Disbursement).where(where)):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(statement)
        # Deleting the user who recorded it may still clear the reference.
        with db.session.begin_nested():
            db.session.execute(sa.update(Disbursement).where(where).values(recorded_by_id=None))
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(sa.text("TRUNCATE disbursements CASCADE"))


@pytest.mark.files
def test_campaign_page_lists_the_latest_disbursements_and_links_to_all(app, funded):
    """A campaign page lists the 25 latest disbursements; with more, it links to all of them in the
    public ledger (paged there), instead of growing without end."""
    from treasury.panels import CAMPAIGN_PAGE_DISBURSEMENTS as LISTED
    public_id, _ = funded
    with app.test_request_context():
        campaign = _campaign(public_id)
        for n in range(LISTED + 2):
            disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
                amount=1_000 * RP, paid_on=today_wib() - dt.timedelta(days=n // 2), payee_kind="organization",
                payee_name=f"Toko nomor {n:02d}", purpose="Alat tulis", category="goods",
                evidence=picture(100 + n)))
            db.session.commit()
    page = app.test_client().get(f"/campaigns/{public_id}/air-bersih", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert text.count('id="disbursement-') == LISTED
    # The latest paid first (and of one day, the latest recorded first): all but the two oldest.
    by_recency = sorted(range(LISTED + 2), key=lambda n: (n // 2, -n))
    for n in by_recency[:LISTED]:
        assert f"Toko nomor {n:02d}" in text
    for n in by_recency[LISTED:]:
        assert f"Toko nomor {n:02d}" not in text
    link = f'href="/ledger?kind=disbursement&amp;campaign={public_id}"'
    assert link in text and "See every disbursement in the public ledger" in text
    listing = app.test_client().get(f"/ledger?kind=disbursement&campaign={public_id}").get_data(as_text=True)
    assert listing.count('class="entry-link"') == LISTED + 2
