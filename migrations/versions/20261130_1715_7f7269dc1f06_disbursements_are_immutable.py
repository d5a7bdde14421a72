"""Disbursements are immutable once recorded: triggers refuse changing or deleting one.

The ledger entry already fixes the amount, purpose and evidence hash; the row beside it holds the
payee, the category and the date paid that the campaign page shows, and these must not be
quietly rewritten either. Only `recorded_by_id` may change (set NULL when that user is deleted).

Revision ID: 7f7269dc1f06
Revises: f5b8d3c0e421
Create Date: 2026-11-30 17:15:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '7f7269dc1f06'
down_revision = 'f5b8d3c0e421'
branch_labels = None
depends_on = None

FROZEN = ("campaign_id", "amount", "currency", "paid_on", "payee_kind", "payee_name", "purpose", "category",
          "evidence_sha256", "evidence_type", "evidence_size", "evidence_public", "ledger_seq", "created_at")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)
        op.execute(f"""
            CREATE FUNCTION disbursements_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR {changed} THEN
                    RAISE EXCEPTION 'disbursements are immutable: % refused', TG_OP
                        USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN NEW;
            END
            $$
        """)
        op.execute("CREATE TRIGGER disbursements_no_change BEFORE UPDATE OR DELETE ON disbursements "
                   "FOR EACH ROW EXECUTE FUNCTION disbursements_refuse_change()")
        op.execute("ALTER TABLE disbursements ENABLE ALWAYS TRIGGER disbursements_no_change")
        op.execute("""
            CREATE FUNCTION disbursements_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'disbursements are immutable: TRUNCATE refused'
                    USING ERRCODE = 'restrict_violation';
            END
            $$
        """)
        op.execute("CREATE TRIGGER disbursements_no_truncate BEFORE TRUNCATE ON disbursements "
                   "FOR EACH STATEMENT EXECUTE FUNCTION disbursements_refuse_truncate()")
        op.execute("ALTER TABLE disbursements ENABLE ALWAYS TRIGGER disbursements_no_truncate")
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        op.execute("CREATE TRIGGER disbursements_no_change BEFORE UPDATE ON disbursements "
                   f"WHEN {changed} "
                   "BEGIN SELECT RAISE(ABORT, 'disbursements are immutable: UPDATE refused'); END")
        op.execute("CREATE TRIGGER disbursements_no_delete BEFORE DELETE ON disbursements "
                   "BEGIN SELECT RAISE(ABORT, 'disbursements are immutable: DELETE refused'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER disbursements_no_truncate ON disbursements")
        op.execute("DROP FUNCTION disbursements_refuse_truncate()")
        op.execute("DROP TRIGGER disbursements_no_change ON disbursements")
        op.execute("DROP FUNCTION disbursements_refuse_change()")
    else:
        op.execute("DROP TRIGGER disbursements_no_delete")
        op.execute("DROP TRIGGER disbursements_no_change")
