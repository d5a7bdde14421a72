"""A refund that fails after succeeding: its credit note stays, and a numbered cancellation says so."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from amanah.extensions import db
from documents import receipts, statements
from documents.models import Document
from donations import giving, sandbox
from donations.models import Donation, Refund
from tests.factories import login, make_user
from tests.factories.documents import (
    fail_refund,
    make_campaign,
    paid_donation,
    pdf_attachments,
    pdf_text,
    refund,
)


def refund_ids(donation_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(Refund.id).where(Refund.donation_id == donation_id)
                                   .order_by(Refund.id)))


def documents(kind: str) -> list[Document]:
    return list(db.session.scalars(sa.select(Document).where(Document.kind == kind).order_by(Document.id)))


def test_a_reversed_refund_cancels_its_credit_note_once(app, client):
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        login(client, donor)
    refund(app, donation_id, 50_000_000)
    refund(app, donation_id, 20_000_000)
    with app.app_context():
        first, _second = refund_ids(donation_id)
    assert fail_refund(app, first) == "reversed 1"
    assert fail_refund(app, first) == "duplicate"  # the same event again changes nothing
    with app.test_request_context():
        # another event for the same failed refund (a redelivery under a new id) changes nothing either
        data = sandbox._get(db.session.get(Refund, first).provider_id)
        assert giving.handle_event({"id": "evt_again", "object": "event", "type": "refund.updated",
                                    "data": {"object": data}}) == "unchanged"
        db.session.commit()
    with app.app_context():
        notes = documents("credit_note")
        (cancellation,) = documents("cancellation")
        year = cancellation.year
        assert cancellation.serial == f"AMN-CX-{year}-000001"
        assert cancellation.cancels_id == notes[0].id and cancellation.receipt_id == notes[0].receipt_id
        assert cancellation.refund_id is None
        reversed_seq = db.session.get(Refund, first).reversed_seq
        assert cancellation.content["ledger"]["seq"] == reversed_seq
        assert cancellation.content["amount"] == 50_000_000
        assert cancellation.content["remaining"] == 150_000_000 - 20_000_000  # only the second refund left
        serials = (cancellation.serial, notes[0].serial, receipts.receipt_of(donation_id).serial)
        note_pdf = bytes(receipts.document_pdf(notes[0])[0]) if notes[0].pdf is None else bytes(notes[0].pdf)
    response = client.get(f"/receipts/{serials[0]}.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    for expected in (serials[0], f"Membatalkan nota kredit {serials[1]}", f"Merujuk kuitansi {serials[2]}",
                     "Rp 500.000", "lima ratus ribu rupiah", "Rp 1.300.000", f"entri {reversed_seq}"):
        assert expected in text, (expected, text)
    assert f"ledger-entry-{reversed_seq}.json" in pdf_attachments(response.data)
    # The credit note itself is never re-rendered or changed.
    assert client.get(f"/receipts/{serials[1]}.pdf").data == note_pdf
    # The donor sees it among the donation's documents.
    page = client.get("/donations/mine").get_data(as_text=True)
    assert serials[0] in page


def test_the_cancellation_in_english_and_for_others(app, client):
    from donations.dashboard import guest_token
    with app.app_context():
        donation_id = paid_donation(app, make_campaign(), locale="en")
    refund(app, donation_id, 50_000_000)
    with app.app_context():
        (refund_id,) = refund_ids(donation_id)
    assert fail_refund(app, refund_id) == "reversed 1"
    with app.app_context():
        (cancellation,) = documents("cancellation")
        serial = cancellation.serial
        token = guest_token(db.session.get(Donation, donation_id))
        stranger = make_user(email="stranger@example.test")
        login(client, stranger)
        other = paid_donation(app, make_campaign())
        other_token = guest_token(db.session.get(Donation, other))
    guest = app.test_client()
    response = guest.get(f"/donations/view/{token}/documents/{serial}.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert "Cancellation of a credit note" in text and "five hundred thousand rupiah" in text
    assert "no longer applies" in text
    view = guest.get(f"/donations/view/{token}").get_data(as_text=True)
    assert serial in view and ("Cancellation of a credit note" in view or "Pembatalan nota kredit" in view)
    assert guest.get(f"/donations/view/{other_token}/documents/{serial}.pdf").status_code == 404
    assert guest.get(f"/receipts/{serial}.pdf").status_code in (302, 303, 401, 404)
    assert client.get(f"/receipts/{serial}.pdf").status_code == 404


def test_a_reversed_refund_without_a_credit_note_issues_no_cancellation(app):
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
    refund(app, donation_id, 10_000_000)
    with app.app_context():
        (refund_id,) = refund_ids(donation_id)
        # A refund recorded before credit notes existed has none: nothing to cancel.
        db.session.execute(sa.text("DROP TRIGGER IF EXISTS documents_no_delete")
                           if db.engine.dialect.name == "sqlite" else
                           sa.text("ALTER TABLE documents DISABLE TRIGGER documents_no_change"))
        db.session.execute(sa.delete(Document).where(Document.refund_id == refund_id))
        db.session.commit()
    try:
        assert fail_refund(app, refund_id) == "reversed 1"
        with app.app_context():
            assert documents("cancellation") == []
            assert db.session.get(Refund, refund_id).status == "reversed"
    finally:
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            with app.app_context():
                db.session.execute(sa.text("ALTER TABLE documents ENABLE ALWAYS TRIGGER documents_no_change"))
                db.session.commit()


@pytest.mark.parametrize("reversed_in_period", [True, False])
def test_statements_count_a_refund_only_while_it_stood(app, monkeypatch, reversed_in_period):
    from amanah.db import now_utc
    from campaigns.services import today_wib
    with app.app_context():
        donor = make_user()
        donation_id = paid_donation(app, make_campaign(), user=donor)
        donor_id = donor.id
    refund(app, donation_id, 50_000_000)
    with app.app_context():
        (refund_id,) = refund_ids(donation_id)
    if not reversed_in_period:  # the bank sent the refund back two days later
        later = now_utc() + dt.timedelta(days=2)
        monkeypatch.setattr("ledger.storage.now_utc", lambda: later)
        monkeypatch.setattr("documents.receipts.now_utc", lambda: later)
    assert fail_refund(app, refund_id) == "reversed 1"
    with app.test_request_context():
        donor = db.session.get(type(donor), donor_id)
        today = today_wib()
        statement = statements.donor_statement(donor, today - dt.timedelta(days=1), today, "id")
        (line,) = statement["lines"]
        if reversed_in_period:
            assert (line["refunded"], line["net"]) == ("", "Rp 1.500.000")
        else:  # within the period the refund stood
            assert (line["refunded"], line["net"]) == ("Rp 500.000", "Rp 1.000.000")
        credit_note, cancellation = documents("credit_note")[0].serial, documents("cancellation")[0].serial
        if reversed_in_period:
            assert line["credit_notes"] == f"{credit_note}, {cancellation}"
        else:  # the cancellation was issued after the period
            assert line["credit_notes"] == credit_note


def test_the_database_keeps_what_a_cancellation_cancels(app):
    from sqlalchemy.exc import DBAPIError, IntegrityError
    with app.app_context():
        donation_id = paid_donation(app, make_campaign())
    refund(app, donation_id, 50_000_000)
    with app.app_context():
        (refund_id,) = refund_ids(donation_id)
    fail_refund(app, refund_id)
    with app.app_context():
        (note,) = documents("credit_note")
        (cancellation,) = documents("cancellation")
        receipt = receipts.receipt_of(donation_id)
        # Not yet rendered, so only the frozen columns stop the change.
        for statement in (
                sa.update(Document).where(Document.id == cancellation.id).values(cancels_id=receipt.id),
                sa.update(Document).where(Document.id == receipt.id).values(cancels_id=note.id)):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(statement)
        # A credit note is cancelled at most once, and only a cancellation cancels.
        base = {"series": "AMN-CX", "year": 2026, "donation_id": donation_id, "content": {},
                "receipt_id": receipt.id}
        for number, values in ((90, {"kind": "cancellation", "cancels_id": note.id}),
                               (91, {"kind": "receipt", "cancels_id": receipt.id}),
                               (92, {"kind": "cancellation", "cancels_id": None})):
            with pytest.raises(IntegrityError), db.session.begin_nested():
                db.session.execute(sa.insert(Document).values(
                    **base, **values, number=number, serial=f"AMN-CX-2026-{number:06d}"))


def _mails(app) -> list:
    import email
    import email.policy
    from pathlib import Path
    paths = sorted((Path(app.instance_path) / "outbox").glob("*.eml"))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in paths]


def test_the_donor_is_told_of_the_refund_and_of_its_reversal(app):
    import shutil
    from pathlib import Path
    from urllib.parse import urlsplit
    with app.app_context():
        donation_id = paid_donation(app, make_campaign(), name="Budi")
    shutil.rmtree(Path(app.instance_path) / "outbox", ignore_errors=True)  # the thank-you mail
    refund(app, donation_id, 50_000_000)
    (refunded,) = _mails(app)
    body = refunded.get_body(("plain",)).get_content()
    assert refunded["To"] == "siti@example.test" and "Pengembalian dana" in refunded["Subject"]
    assert "Rp 500.000" in body and "Rp 1.000.000" in body and "AMN-CN-" in body
    assert body.startswith("Sandbox: bukan uang sungguhan")  # the sandbox provider says so everywhere
    link = next(w for w in body.split() if "/documents/AMN-CN-" in w)
    guest = app.test_client()  # no session: the signed link alone opens the credit note
    response = guest.get(urlsplit(link).path)
    assert response.status_code == 200 and "Rp 500.000" in pdf_text(response.data)
    with app.app_context():
        (refund_id,) = refund_ids(donation_id)
    assert fail_refund(app, refund_id) == "reversed 1"
    assert fail_refund(app, refund_id) == "duplicate"  # told once, however often Stripe says it
    mails = _mails(app)
    assert len(mails) == 2
    reversed_mail = next(m for m in mails if m["Subject"] != refunded["Subject"])
    body = reversed_mail.get_body(("plain",)).get_content()
    assert "Rp 500.000" in body and "Rp 1.500.000" in body and "AMN-CX-" in body
    link = next(w for w in body.split() if "/documents/AMN-CX-" in w)
    assert guest.get(urlsplit(link).path).status_code == 200


def test_a_refund_mail_is_in_the_donors_language(app):
    with app.app_context():
        donation_id = paid_donation(app, make_campaign(), locale="en")
    refund(app, donation_id, 20_000_000)
    subjects = [m["Subject"] for m in _mails(app)]
    assert "A refund of your donation" in subjects
