"""Evidence can be used again once the disbursement that used it was reversed.

A disbursement recorded in error (a wrong amount, say) is corrected by a reversal, and the
treasurer then records the right one with the same invoice. The unique constraint on
`evidence_sha256` refused that. Now one document may prove only one disbursement that stands:
the check runs under the ledger's append lock (as the balance check does), so two treasurers
cannot both use it; reversed ones no longer count. A plain index keeps the lookups fast.

Revision ID: 8e4c1a7f3b92
Revises: 597b7074a786
Create Date: 2026-12-01 01:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '8e4c1a7f3b92'
down_revision = '597b7074a786'
branch_labels = None
depends_on = None

FROZEN = ("campaign_id", "amount", "currency", "paid_on", "payee_kind", "payee_name", "purpose", "category",
          "evidence_sha256", "evidence_type", "evidence_size", "evidence_public", "ledger_seq", "created_at")


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_sqlite_triggers()  # the batch below rebuilds the table, which would drop them anyway
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_disbursements_evidence_sha256'), type_='unique')
        batch_op.create_index(batch_op.f('ix_disbursements_evidence_sha256'), ['evidence_sha256'], unique=False)
    if sqlite:
        _sqlite_triggers()


def downgrade():
    # Refused by the database while a document proves more than one disbursement.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_sqlite_triggers()
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disbursements_evidence_sha256'))
        batch_op.create_unique_constraint(batch_op.f('uq_disbursements_evidence_sha256'), ['evidence_sha256'])
    if sqlite:
        _sqlite_triggers()


def _drop_sqlite_triggers():
    op.execute("DROP TRIGGER IF EXISTS disbursements_no_change")
    op.execute("DROP TRIGGER IF EXISTS disbursements_no_delete")


def _sqlite_triggers():
    # As created by 7f7269dc1f06.
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    op.execute("CREATE TRIGGER disbursements_no_change BEFORE UPDATE ON disbursements "
               f"WHEN {changed} "
               "BEGIN SELECT RAISE(ABORT, 'disbursements are immutable: UPDATE refused'); END")
    op.execute("CREATE TRIGGER disbursements_no_delete BEFORE DELETE ON disbursements "
               "BEGIN SELECT RAISE(ABORT, 'disbursements are immutable: DELETE refused'); END")
