"""Cancellations: a refund that fails after succeeding cancels its credit note with a new document.

A credit note is immutable, so when the provider reverses its refund (the money never left) a
`cancellation` document is issued that names it (`cancels_id`, unique: a credit note is cancelled
at most once). The immutability triggers are re-created so that `cancels_id` is frozen as well.

Revision ID: d3a8f1c6b250
Revises: c81f5a2e9d47
Create Date: 2026-12-01 00:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd3a8f1c6b250'
down_revision = 'c81f5a2e9d47'
branch_labels = None
depends_on = None

FROZEN_BEFORE = ("kind", "serial", "series", "year", "number", "donation_id", "refund_id", "receipt_id",
                 "issued_at")
FROZEN = (*FROZEN_BEFORE, "cancels_id")


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if not postgresql:
        _drop_sqlite_triggers()  # the batch below rebuilds the table, which would drop them anyway
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancels_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_documents_cancels_id'), ['cancels_id'])
        batch_op.create_foreign_key(batch_op.f('fk_documents_cancels_id_documents'), 'documents',
                                    ['cancels_id'], ['id'], ondelete='RESTRICT')
        batch_op.drop_constraint(batch_op.f('ck_documents_kind_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_documents_kind_known'), "kind IN ('receipt', 'credit_note', 'cancellation')")
        batch_op.drop_constraint(batch_op.f('ck_documents_credit_note_refers'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_documents_credit_note_refers'),
            "kind <> 'credit_note' OR (refund_id IS NOT NULL AND receipt_id IS NOT NULL)")
        batch_op.create_check_constraint(
            batch_op.f('ck_documents_cancellation_refers'),
            "kind <> 'cancellation' OR (cancels_id IS NOT NULL AND receipt_id IS NOT NULL "
            "AND refund_id IS NULL)")
        batch_op.create_check_constraint(
            batch_op.f('ck_documents_only_cancellations_cancel'), "kind = 'cancellation' OR cancels_id IS NULL")
    if postgresql:
        _postgresql_function(FROZEN)
    else:
        _sqlite_triggers(FROZEN)


def downgrade():
    # Refused by the kind check while cancellations exist: documents are never deleted.
    postgresql = op.get_bind().dialect.name == "postgresql"
    if not postgresql:
        _drop_sqlite_triggers()
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_documents_only_cancellations_cancel'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_documents_cancellation_refers'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_documents_credit_note_refers'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_documents_credit_note_refers'),
            "kind = 'receipt' OR (refund_id IS NOT NULL AND receipt_id IS NOT NULL)")
        batch_op.drop_constraint(batch_op.f('ck_documents_kind_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_documents_kind_known'), "kind IN ('receipt', 'credit_note')")
        batch_op.drop_constraint(batch_op.f('fk_documents_cancels_id_documents'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_documents_cancels_id'), type_='unique')
        batch_op.drop_column('cancels_id')
    if postgresql:
        _postgresql_function(FROZEN_BEFORE)
    else:
        _sqlite_triggers(FROZEN_BEFORE)


def _drop_sqlite_triggers():
    op.execute("DROP TRIGGER IF EXISTS documents_no_change")
    op.execute("DROP TRIGGER IF EXISTS documents_no_delete")


def _sqlite_triggers(frozen):
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in (*frozen, "content"))
    op.execute("CREATE TRIGGER documents_no_change BEFORE UPDATE ON documents "
               f"WHEN OLD.pdf IS NOT NULL OR {changed} "
               "BEGIN SELECT RAISE(ABORT, 'documents are immutable: only the first rendering may be stored'); END")
    op.execute("CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents "
               "BEGIN SELECT RAISE(ABORT, 'documents are immutable: DELETE refused'); END")


def _postgresql_function(frozen):
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in frozen)
    op.execute(f"""
        CREATE OR REPLACE FUNCTION documents_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.pdf IS NOT NULL OR {changed}
               OR NEW.content::text IS DISTINCT FROM OLD.content::text THEN
                RAISE EXCEPTION 'documents are immutable: % refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END
        $$
    """)
