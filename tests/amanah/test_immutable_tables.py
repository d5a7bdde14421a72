"""Every immutable table refuses UPDATE, DELETE and (on PostgreSQL) TRUNCATE, by the triggers the
migrations create (issue 14, item 10: `TRUNCATE documents` was let through on PostgreSQL)."""
import pytest
import sqlalchemy as sa

from accounts.models import RoleChange
from amanah.extensions import db
from campaigns.models import CampaignIndicator, CampaignRevision
from campaigns.services import today_wib
from donations.models import Donation
from ledger import checkpoints
from reports import services as report_services
from tests.factories import make_user
from tests.factories.documents import paid_donation
from tests.factories.treasury import make_campaign, picture
from treasury import disbursements
from treasury.models import CampaignTreasurerChange

# Each immutable table, with an UPDATE that changes a column its trigger protects.
IMMUTABLE = {
    "ledger_entries": "amount = amount + 1",
    "ledger_hashes": "idx = idx + 1000000",
    "ledger_checkpoints": "size = size + 1000000",
    "documents": "serial = serial || 'X'",
    "disbursements": "amount = amount + 1",
    "disbursement_reversals": "reason = reason || 'X'",
    "campaign_revisions": "editor_id = editor_id",
    "campaign_treasurer_changes": "reason = reason || 'X'",
    "role_changes": "action = action",
    "progress_reports": "narrative = narrative || 'X'",
    "progress_report_values": "value = value + 1",
    "progress_report_evidence": "title = title || 'X'",
    "progress_report_disbursements": "disbursement_id = disbursement_id",
}


def _tables_with_refusing_triggers() -> set[str]:
    """The tables the migrations made immutable, read back from the migrated database: those with
    a trigger refusing DELETE (`<table>_no_change` on PostgreSQL, `<table>_no_delete` on SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(sa.text(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal"))
        return {table for table, name in rows if name == f"{table}_no_change"}
    rows = db.session.execute(sa.text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
    return {table for table, name in rows if name == f"{table}_no_delete"}


def _a_row_in_every_immutable_table(app) -> None:
    with app.test_request_context():
        campaign = make_campaign()
        donation_id = paid_donation(app, campaign, amount=1_000_000_00)  # entries, hashes, a receipt
        checkpoints.checkpoint_for_current_size(db.session)
        campaign = db.session.get(Donation, donation_id).campaign
        spent = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=100_000_00, paid_on=today_wib(), payee_kind="organization",
            payee_name="Toko Maju", purpose="Pembelian alat tulis", category="goods", evidence=picture(1)))
        disbursements.reverse(spent, campaign.treasurer, "Salah catat")
        admin, other = make_user(), make_user()
        db.session.add_all([
            RoleChange(user=other, role="auditor", action="granted", changed_by=admin),
            CampaignRevision(campaign_id=campaign.id, editor_id=admin.id, changes={"title": {}}),
            CampaignTreasurerChange(campaign_id=campaign.id, from_user_id=campaign.treasurer_id,
                                    to_user_id=other.id, changed_by_id=admin.id, reason="Pindah tugas"),
        ])
        db.session.commit()
        indicator = CampaignIndicator(campaign_id=campaign.id, name="Sumur", unit="sumur", kind="count",
                                      direction="increase", baseline=0, target=400,
                                      due=disbursements.now_utc().date(), created_by_id=admin.id)
        db.session.add(indicator)
        db.session.flush()
        report_services.post_report(campaign, make_user(None, "admin"), report_services.ReportInput(
            title="Laporan pertama", narrative="Sumur pertama selesai.", values={indicator.id: "1"},
            evidence=[report_services.EvidenceUpload(picture(2), "Foto sumur")], disbursement_ids=[spent.id]))
        db.session.commit()


def _refused(statement: str) -> bool:
    try:
        with db.session.begin_nested():
            db.session.execute(sa.text(statement))
    except sa.exc.DatabaseError as exc:
        return any(word in str(exc.orig) for word in ("refused", "immutable", "append-only"))
    return False


def test_every_immutable_table_refuses_update_delete_and_truncate(app, backend):
    _a_row_in_every_immutable_table(app)
    with app.app_context():
        assert _tables_with_refusing_triggers() == set(IMMUTABLE)
        statements = []
        for table, change in IMMUTABLE.items():
            assert db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() > 0, table
            statements += [f"UPDATE {table} SET {change}", f"DELETE FROM {table}"]
            if backend == "postgresql":
                statements.append(f"TRUNCATE {table} CASCADE")
        let_through = [statement for statement in statements if not _refused(statement)]
        assert let_through == []


@pytest.mark.parametrize("table", sorted(IMMUTABLE))
def test_postgresql_refuses_truncate_even_as_replica(app, backend, table):
    """ENABLE ALWAYS: a session in replica mode (which skips ordinary triggers) is refused too."""
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with app.app_context():
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        assert _refused(f"TRUNCATE {table} CASCADE")
        db.session.rollback()
