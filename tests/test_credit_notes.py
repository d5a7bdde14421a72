"""A refund issues a credit note: its own number series, referring to the receipt, which stays as it was."""
from __future__ import annotations

import sqlalchemy as sa

from amanah.extensions import db
from donations import receipts
from donations.documents import Document
from donations.payments import Donation
from tests.documents_helpers import make_campaign, paid_donation, pdf_attachments, pdf_text, refund
from tests.factories import login, make_user


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

