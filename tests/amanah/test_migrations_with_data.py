"""Migrations run on databases that hold data, not only on empty ones.

On SQLite a batch migration rebuilds a table (copy, DROP, rename); with foreign keys on, dropping
`documents` while a credit note refers to its receipt failed, so migrations switch them off while
they run and check them afterwards (migrations/env.py). Here a database with receipts, a credit
note, stored PDFs and a reversed disbursement goes down past the revisions that rebuild
`documents` and `disbursements`, and up again.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from amanah.extensions import db
from documents import receipts
from documents.models import Document
from donations.models import Refund
from tests.conftest import make_app
from tests.factories import make_user
from tests.factories.documents import fail_refund, make_campaign, paid_donation, refund

BEFORE_CANCELLATIONS = "c81f5a2e9d47"
DOCUMENT_COLUMNS = "id, kind, serial, donation_id, refund_id, receipt_id, sha256, pdf"


def _documents() -> list[tuple]:
    rows = db.session.execute(sa.text(f"SELECT {DOCUMENT_COLUMNS} FROM documents ORDER BY id")).all()
    db.session.rollback()  # a SQLite transaction holds the write lock, which the migrations need
    return [(*row[:-1], bytes(row[-1]) if row[-1] is not None else None) for row in rows]


def _disbursements() -> list[tuple]:
    rows = db.session.execute(sa.text(
        "SELECT d.id, d.amount, d.evidence_sha256, d.ledger_seq, r.ledger_seq FROM disbursements d "
        "LEFT JOIN disbursement_reversals r ON r.disbursement_id = d.id ORDER BY d.id")).all()
    db.session.rollback()
    return [tuple(row) for row in rows]


def test_documents_survive_a_rebuild_of_their_table_down_and_up(empty_database_url, tmp_path):
    from sqlalchemy.exc import DBAPIError

    from campaigns.services import today_wib
    from tests.factories.treasury import fund, picture
    from tests.factories.treasury import make_campaign as treasury_campaign
    from treasury import disbursements
    app = make_app(empty_database_url, tmp_path / "i")
    try:
        with app.app_context():
            upgrade()
            donation_id = paid_donation(app, make_campaign(), user=make_user())
            paid_donation(app, make_campaign())
        refund(app, donation_id, 10_000_000)
        with app.test_request_context():
            campaign = treasury_campaign()
            fund(campaign, 100_000_000)
            wrong = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
                amount=5_000_000, paid_on=today_wib(), payee_kind="organization", payee_name="Toko",
                purpose="Pipa PVC untuk sumur desa", category="goods", evidence=picture(7)))
            disbursements.reverse(wrong, campaign.treasurer, "Jumlah salah ketik")
            db.session.commit()
            spent = _disbursements()
            assert spent[0][-1] is not None  # reversed
        with app.test_request_context():
            for document in db.session.scalars(sa.select(Document)).all():
                receipts.document_pdf(document)
            refund_id = db.session.scalar(sa.select(Refund.id))
            before = _documents()
            assert [row[1] for row in before] == ["receipt", "receipt", "credit_note"]
            assert all(row[-1] for row in before)  # every PDF stored

            downgrade(revision=BEFORE_CANCELLATIONS)
            assert _documents() == before and _disbursements() == spent
            upgrade()
            assert _documents() == before and _disbursements() == spent
            # The guards came back with the rebuilt table.
            for statement in (f"UPDATE documents SET sha256 = '{'0' * 64}' WHERE id = {before[0][0]}",
                              f"DELETE FROM documents WHERE id = {before[2][0]}",
                              f"UPDATE disbursements SET amount = 1 WHERE id = {spent[0][0]}",
                              f"DELETE FROM disbursements WHERE id = {spent[0][0]}"):
                with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                    db.session.execute(sa.text(statement))
            db.session.rollback()
        # ...and the upgraded database cancels the credit note when its refund fails.
        assert fail_refund(app, refund_id) == "reversed 1"
        with app.app_context():
            cancellation = db.session.scalar(sa.select(Document).where(Document.kind == "cancellation"))
            assert cancellation.cancels_id == before[2][0]
            assert _documents()[:3] == before
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
