"""Disbursement reversals: a disbursement recorded in error is corrected by a visible counter-entry.

One row per reversed disbursement (disbursement_id is unique: at most one reversal each), written
in the same transaction as its `disbursement_reversal` ledger entry (ledger_seq), with the public
reason (the entry's memo) and who reversed it. Like disbursements, the rows are immutable: triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL); only `reversed_by_id` may change (set NULL
when that user is deleted).

Revision ID: b7e2f4a91c3d
Revises: 9c3d1e7a5b20
Create Date: 2026-11-30 18:03:58.637967

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e2f4a91c3d'
down_revision = '9c3d1e7a5b20'
branch_labels = None
depends_on = None

FROZEN = ("disbursement_id", "reason", "ledger_seq", "created_at")


def upgrade():
    op.create_table('disbursement_reversals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disbursement_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('reversed_by_id', sa.Integer(), nullable=True),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_disbursement_reversals_reason_present')),
    sa.ForeignKeyConstraint(['disbursement_id'], ['disbursements.id'], name=op.f('fk_disbursement_reversals_disbursement_id_disbursements'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reversed_by_id'], ['users.id'], name=op.f('fk_disbursement_reversals_reversed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disbursement_reversals')),
    sa.UniqueConstraint('disbursement_id', name=op.f('uq_disbursement_reversals_disbursement_id')),
    sa.UniqueConstraint('ledger_seq', name=op.f('uq_disbursement_reversals_ledger_seq'))
    )
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)
        op.execute(f"""
            CREATE FUNCTION disbursement_reversals_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR {changed} THEN
                    RAISE EXCEPTION 'disbursement reversals are immutable: % refused', TG_OP
                        USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN NEW;
            END
            $$
        """)
        op.execute("CREATE TRIGGER disbursement_reversals_no_change BEFORE UPDATE OR DELETE "
                   "ON disbursement_reversals "
                   "FOR EACH ROW EXECUTE FUNCTION disbursement_reversals_refuse_change()")
        op.execute("ALTER TABLE disbursement_reversals ENABLE ALWAYS TRIGGER disbursement_reversals_no_change")
        op.execute("""
            CREATE FUNCTION disbursement_reversals_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'disbursement reversals are immutable: TRUNCATE refused'
                    USING ERRCODE = 'restrict_violation';
            END
            $$
        """)
        op.execute("CREATE TRIGGER disbursement_reversals_no_truncate BEFORE TRUNCATE ON disbursement_reversals "
                   "FOR EACH STATEMENT EXECUTE FUNCTION disbursement_reversals_refuse_truncate()")
        op.execute("ALTER TABLE disbursement_reversals ENABLE ALWAYS TRIGGER disbursement_reversals_no_truncate")
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        op.execute("CREATE TRIGGER disbursement_reversals_no_change BEFORE UPDATE ON disbursement_reversals "
                   f"WHEN {changed} "
                   "BEGIN SELECT RAISE(ABORT, 'disbursement reversals are immutable: UPDATE refused'); END")
        op.execute("CREATE TRIGGER disbursement_reversals_no_delete BEFORE DELETE ON disbursement_reversals "
                   "BEGIN SELECT RAISE(ABORT, 'disbursement reversals are immutable: DELETE refused'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER disbursement_reversals_no_truncate ON disbursement_reversals")
        op.execute("DROP FUNCTION disbursement_reversals_refuse_truncate()")
        op.execute("DROP TRIGGER disbursement_reversals_no_change ON disbursement_reversals")
        op.execute("DROP FUNCTION disbursement_reversals_refuse_change()")
    else:
        op.execute("DROP TRIGGER disbursement_reversals_no_delete")
        op.execute("DROP TRIGGER disbursement_reversals_no_change")
    op.drop_table('disbursement_reversals')
