"""Receipts: numbering in the confirmation, content, one-time rendering, access, the QR proof."""
from __future__ import annotations

import base64
import io
import re

import pytest
import sqlalchemy as sa

from accounts.models import Role
from accounts.permissions import Action, can
from amanah.extensions import db
from documents import receipts
from documents.models import Document
from donations.models import Donation
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation, pdf_attachments, pdf_text


def test_receipt_numbered_in_confirmation_and_pdf_holds_every_field(app, client):
    with app.app_context():
        donor = make_user(name="Siti Rahayu", npwp="0123456789012345", nik="3201234567890123")
        campaign = make_campaign()
        donation_id = paid_donation(app, campaign, user=donor)
        doc = receipts.receipt_of(donation_id)
        year = doc.issued_at.year
        assert re.fullmatch(rf"AMN-{year}-000001", doc.serial)
        seq = db.session.get(Donation, donation_id).ledger_seq
        login(client, donor)
        serial = doc.serial
    response = client.get(f"/receipts/{serial}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    for expected in (serial, "Yayasan Amanah Demo", "Siti Rahayu", "0123456789012345", "3201234567890123",
                     "Rp 1.500.000", "satu juta lima ratus ribu rupiah", "Air bersih untuk desa",
                     "Sandbox", "tanpa imbalan barang atau jasa", f"entri {seq}"):
        assert expected in text, expected
    # One page: no page footer, and the way to check it offline is named (the page the QR opens).
    assert "/ledger/receipt-proof" in text.replace("\n", "") and "1 / 1" not in text
    from pypdf import PdfReader
    assert len(PdfReader(io.BytesIO(response.data)).pages) == 1
    files = pdf_attachments(response.data)
    assert set(files) == {f"ledger-entry-{seq}.json", f"ledger-entry-{seq}.tlog-proof"}


def test_pdf_is_rendered_once_and_later_template_changes_do_not_touch_it(app, client, monkeypatch):
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        serial = receipts.receipt_of(donation_id).serial
        login(client, donor)
    first = client.get(f"/receipts/{serial}.pdf")
    with app.app_context():
        stored = db.session.execute(sa.select(Document.pdf, Document.sha256).where(
            Document.serial == serial)).one()
        import hashlib
        assert bytes(stored.pdf) == first.data and stored.sha256 == hashlib.sha256(first.data).hexdigest()
    # A later deployment changes the template: stored receipts keep their bytes.
    from documents import pdf

    def changed(template, context, locale):
        return "<html><head><title>x</title></head><body>CHANGED</body></html>"

    monkeypatch.setattr(pdf, "render_html", changed)
    again = client.get(f"/receipts/{serial}.pdf")
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    conditional = client.get(f"/receipts/{serial}.pdf", headers={"If-None-Match": first.headers["ETag"]})
    assert conditional.status_code == 304


def test_database_refuses_to_change_or_delete_a_document(app, client):
    from sqlalchemy.exc import DBAPIError
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        doc = receipts.receipt_of(donation_id)
        receipts.document_pdf(doc)
        doc_id = doc.id
        forged = {"pdf": b"forged", "sha256": "0" * 64}
        for statement in (sa.update(Document).where(Document.id == doc_id).values(**forged),
                          sa.update(Document).where(Document.id == doc_id).values(serial="AMN-1999-000001"),
                          sa.delete(Document).where(Document.id == doc_id)):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(statement)


def test_receipt_in_english_says_the_amount_in_english_words(app, client):
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor, amount=2_575_000_00, locale="en")
        serial = receipts.receipt_of(donation_id).serial
        login(client, donor)
    text = pdf_text(client.get(f"/receipts/{serial}.pdf").data)
    assert "two million five hundred seventy-five thousand rupiah" in text
    assert "No goods or services were given in return" in text and "Donation receipt" in text


ROLES = ["anonymous", "other donor", "donor", "organizer", "campaign treasurer", "other treasurer",
         "auditor", "admin", "guest with token", "guest with bad token"]
ALLOWED = {"donor", "campaign treasurer", "admin", "guest with token"}


@pytest.mark.parametrize("who", ROLES)
def test_who_may_download_a_receipt(app, client, who):
    from donations.dashboard import guest_token
    with app.app_context():
        donor, treasurer = make_user(), make_user("t@example.test", Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        donation_id = paid_donation(app, campaign, user=donor)
        donation = db.session.get(Donation, donation_id)
        serial, token = receipts.receipt_of(donation_id).serial, guest_token(donation)
        users = {"other donor": make_user(), "donor": donor, "organizer": campaign.organizer,
                 "campaign treasurer": treasurer, "other treasurer": make_user(None, Role.TREASURER),
                 "auditor": make_user(None, Role.AUDITOR), "admin": make_user(None, Role.ADMIN)}
        if who in users:
            login(client, users[who])
            assert can(users[who], Action.VIEW_DONATION_DOCUMENT, donation) == (who in ALLOWED)
    if who == "guest with token":
        url = f"/donations/view/{token}/receipt.pdf"
    elif who == "guest with bad token":
        url = f"/donations/view/{token[:-2]}xx/receipt.pdf"
    else:
        url = f"/receipts/{serial}.pdf"
    response = client.get(url)
    assert response.status_code == (200 if who in ALLOWED else 404)
    if who in ALLOWED:
        assert serial in pdf_text(response.data)


def test_qr_payload_is_the_proof_url_and_verifies_offline(app, client, tmp_path):
    import io

    import segno
    from pypdf import PdfReader

    from ledger import checkpoints, tree
    from ledger.verify import main, verify_tlog_proof
    with app.app_context():
        donor = make_user()
        campaign = make_campaign()
        paid_donation(app, campaign)
        donation_id = paid_donation(app, campaign, user=donor)
        donation = db.session.get(Donation, donation_id)
        seq, doc = donation.ledger_seq, receipts.receipt_of(donation_id)
        key = checkpoints.verifier_key_text()
        login(client, donor)
        serial = doc.serial
    data = client.get(f"/receipts/{serial}.pdf").data
    files = pdf_attachments(data)
    proof_text = files[f"ledger-entry-{seq}.tlog-proof"].decode()
    leaf = files[f"ledger-entry-{seq}.json"]
    cp, leaf_hash = verify_tlog_proof(proof_text, key, leaf=leaf)
    assert leaf_hash == tree.leaf_hash(leaf) and cp.size > seq
    assert verify_tlog_proof(proof_text, key)[1] == leaf_hash  # the QR alone: the hash in its extra line
    # The QR code in the PDF is exactly the code of the proof link, and the link carries that proof.
    with app.test_request_context():
        page_url = receipts.proof_page_url()
    assert page_url.endswith("://localhost/ledger/receipt-proof")
    # The link names the entry and its leaf hash; the proof itself is attached to the PDF.
    proof_url = page_url + f"#{seq}-" + base64.urlsafe_b64encode(leaf_hash).decode().rstrip("=")
    with app.test_request_context():
        assert receipts.proof_link(seq, leaf_hash) == proof_url
    assert len(proof_url) < 110
    image = next(img for page in PdfReader(io.BytesIO(data)).pages for img in page.images)
    expected = segno.make(proof_url, error="l", mask=receipts.MASK)
    pixels = image.image.convert("L")
    modules = [[pixels.getpixel((x, y)) < 128 for x in range(pixels.width)] for y in range(pixels.height)]
    inner = [row[4:-4] for row in modules[4:-4]]  # a quiet zone of 4 light modules surrounds the code
    assert inner == [[bool(v) for v in row] for row in expected.matrix]
    assert not any(modules[0]) and not any(modules[-1])
    # The command-line verifier agrees, and refuses a changed entry or a forged leaf hash.
    (tmp_path / "key.txt").write_text(key)
    (tmp_path / "r.tlog-proof").write_text(proof_text)
    (tmp_path / "entry.json").write_bytes(leaf)
    (tmp_path / "forged.json").write_bytes(leaf.replace(b"150000000", b"950000000"))
    common = ["--tlog-proof", str(tmp_path / "r.tlog-proof"), "--key", str(tmp_path / "key.txt")]
    assert main(common) == 0
    assert main([*common, "--leaf", str(tmp_path / "entry.json")]) == 0
    assert main([*common, "--leaf", str(tmp_path / "forged.json")]) == 1
    lines = proof_text.split("\n")
    lines[1] = "extra " + base64.b64encode(tree.leaf_hash(leaf.replace(b"150000000", b"950000000"))).decode()
    (tmp_path / "bad.tlog-proof").write_text("\n".join(lines))
    assert main(["--tlog-proof", str(tmp_path / "bad.tlog-proof"), "--key", str(tmp_path / "key.txt")]) == 1


def test_proof_page_carries_key_and_script_without_inline_code(app, client):
    page = client.get("/ledger/receipt-proof")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/static/js/receipt-proof.js"' in html and "data-key=" in html
    assert "python -m ledger.verify --tlog-proof" in html
    script = client.get("/static/js/receipt-proof.js")
    assert script.status_code == 200 and b"crypto.subtle" in script.data
    script.close()


def test_paid_mail_and_guest_page_link_the_receipt(app, client):
    from flask import render_template

    from donations.dashboard import guest_token
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
        donation = db.session.get(Donation, donation_id)
        token = guest_token(donation)
        with app.test_request_context():
            body = render_template("mail/donation_paid.txt", donation=donation, link="L",
                                   receipt_link=f"http://localhost/donations/view/{token}/receipt.pdf")
        assert f"/donations/view/{token}/receipt.pdf" in body
    page = client.get(f"/donations/view/{token}")
    assert f"/donations/view/{token}/documents/AMN-" in page.get_data(as_text=True)


def test_the_paid_mail_carries_a_working_receipt_link(app, client):
    import email
    import email.policy
    from pathlib import Path
    with app.app_context():
        campaign = make_campaign()
        public_id = campaign.public_id
    form = {"preset": "custom", "custom_amount": "50.000", "name": "Budi", "email": "budi@example.org",
            "confirmed": "1"}
    checkout = client.post(f"/campaigns/{public_id}/give", data=form).location
    assert client.post(checkout, data={"choice": "pay"}).status_code == 303
    (path,) = (Path(app.instance_path) / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Sandbox: bukan uang sungguhan")  # a sandbox payment says so in its mail too
    link = next(word for word in body.split() if word.endswith("/receipt.pdf"))
    from urllib.parse import urlsplit
    response = app.test_client().get(urlsplit(link).path)  # a guest: no session, only the signed link
    assert response.status_code == 200 and "Budi" in pdf_text(response.data)


@pytest.mark.parametrize(("provider", "channel", "english", "indonesian"), [
    ("stripe", "card", "Credit or debit card (Stripe)", "Kartu kredit atau debit (Stripe)"),
    ("xendit", "qris", "QRIS (Xendit)", "QRIS (Xendit)"),
    ("xendit", "va_bca", "Bank transfer: BCA virtual account (Xendit)",
     "Transfer bank: virtual account BCA (Xendit)"),
    ("xendit", "dana", "DANA (Xendit)", "DANA (Xendit)"),
    ("sandbox", "ovo", "OVO (Sandbox, no real money)", "OVO (Sandbox, tanpa uang sungguhan)"),
    # Receipts issued before they named the channel keep saying only who processed the payment.
    ("xendit", None, "QRIS, bank transfer or e-wallet (Xendit)",
     "QRIS, transfer bank, atau dompet digital (Xendit)"),
    ("stripe", None, "Card payment (Stripe)", "Pembayaran kartu (Stripe)"),
])
def test_a_receipt_names_the_channel_the_donor_paid_with(app, provider, channel, english, indonesian):
    from flask_babel import force_locale
    with app.test_request_context():
        for locale, text in (("en", english), ("id", indonesian)):
            with force_locale(locale):
                assert receipts.payment_text(provider, channel) == text


def test_the_channel_is_stored_with_the_receipt_and_printed(app, client):
    with app.app_context():
        donor = make_user(name="Budi Santoso")
        donation_id = paid_donation(app, make_campaign(), user=donor, locale="en")
        document = receipts.receipt_of(donation_id)
        assert document.content["payment_channel"] == "card"  # the sandbox stands in for Stripe's card
        serial = document.serial
        login(client, donor)
    text = pdf_text(client.get(f"/receipts/{serial}.pdf").data)
    assert "Credit or debit card (Sandbox, no real money)" in " ".join(text.split())
