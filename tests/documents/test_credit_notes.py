"""A refund issues a credit note: its own number series, referring to the receipt, which stays as it was."""
from __future__ import annotations

import sqlalchemy as sa

from amanah.db import now_utc
from amanah.extensions import db
from documents import receipts
from documents.models import Document
from donations.models import Donation
from ledger import storage
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation, pdf_attachments, pdf_text, refund


def test_each_refund_issues_a_numbered_credit_note_and_the_receipt_is_unchanged(app, client):
    from donations.dashboard import guest_token
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        receipt = receipts.receipt_of(donation_id)
        login(client, donor)
        receipt_serial = receipt.serial
    before = client.get(f"/receipts/{receipt_serial}.pdf").data
    refund(app, donation_id, 50_000_000)
    refund(app, donation_id, 20_000_000)
    with app.app_context():
        notes = db.session.execute(sa.select(Document).where(Document.kind == "credit_note")
                                   .order_by(Document.id)).scalars().all()
        year = notes[0].year
        assert [n.serial for n in notes] == [f"AMN-CN-{year}-000001", f"AMN-CN-{year}-000002"]
        assert {n.receipt_id for n in notes} == {receipt.id}
        donation = db.session.get(Donation, donation_id)
        seqs = [r.ledger_seq for r in donation.refunds]
        assert [n.content["ledger"]["seq"] for n in notes] == seqs
        token = guest_token(donation)
        serials = [n.serial for n in notes]
    assert client.get(f"/receipts/{receipt_serial}.pdf").data == before
    first = client.get(f"/receipts/{serials[0]}.pdf")
    assert first.status_code == 200
    text = pdf_text(first.data)
    for expected in (serials[0], f"Merujuk kuitansi {receipt_serial}", "Rp 500.000", "lima ratus ribu rupiah",
                     "Rp 1.000.000", f"entri {seqs[0]}", "tidak diubah"):
        assert expected in text, expected
    assert f"ledger-entry-{seqs[0]}.json" in pdf_attachments(first.data)
    second = pdf_text(client.get(f"/receipts/{serials[1]}.pdf").data)
    assert "Rp 200.000" in second and "Rp 800.000" in second  # the remaining amount after both refunds
    # The guest link reaches the credit notes of its own donation only.
    client = app.test_client()  # a guest, signed in as nobody
    guest = client.get(f"/donations/view/{token}/documents/{serials[1]}.pdf")
    assert guest.status_code == 200 and guest.data == client.get(
        f"/donations/view/{token}/documents/{serials[1]}.pdf").data
    with app.app_context():
        other = paid_donation(app, make_campaign())
        other_token = guest_token(db.session.get(Donation, other))
    assert client.get(f"/donations/view/{other_token}/documents/{serials[1]}.pdf").status_code == 404



def test_donations_paid_before_receipts_existed_get_numbered_receipts_once(app, runner):
    from donations.models import DonationStatus
    from ledger.entry import donor_commitment
    with app.app_context():
        campaign = make_campaign()
        paid_donation(app, campaign)
        # A donation confirmed by an older version: paid, in the ledger, but without a receipt.
        old = Donation(campaign=campaign, donor_name="Lama", donor_email="lama@example.test",
                       amount=1_000_000, total=1_000_000, currency="IDR", provider="sandbox",
                       donor_secret="ab" * 32)
        db.session.add(old)
        db.session.flush()
        entry = storage.append(db.session, kind="donation", campaign=campaign.public_id, amount=1_000_000,
                               currency="IDR", donor=donor_commitment(old.donor_secret), payment="pi_old")
        old.ledger_seq, old.paid_at, old.status = entry.seq, now_utc(), DonationStatus.PAID.value
        db.session.commit()
        old_id = old.id
    result = runner.invoke(args=["documents", "issue-missing"])
    assert result.exit_code == 0 and "1 receipts issued" in result.output
    assert "0 receipts issued" in runner.invoke(args=["documents", "issue-missing"]).output
    with app.app_context():
        receipt = receipts.receipt_of(old_id)
        assert receipt.number == 2 and receipt.content["donor"]["name"] == "Lama"
