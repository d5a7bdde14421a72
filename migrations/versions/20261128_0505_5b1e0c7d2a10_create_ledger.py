"""create the append-only ledger: entries, stored tree hashes, checkpoints, campaign totals

The database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the ledger's
append-only tables, through triggers. On PostgreSQL they are ENABLE ALWAYS triggers, so setting
session_replication_role = replica does not skip them.

Revision ID: 5b1e0c7d2a10
Revises: a366923a01c9
Create Date: 2026-11-28 05:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = "5b1e0c7d2a10"
down_revision = "a366923a01c9"
branch_labels = None
depends_on = None

APPEND_ONLY = ("ledger_entries", "ledger_hashes", "ledger_checkpoints")


def upgrade():
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("prev", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("campaign", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ref", sa.BigInteger(), nullable=True),
        sa.Column("payment", sa.String(length=255), nullable=True),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_ledger_entries_seq_nonnegative")),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_nonzero")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("leaf_hash", name=op.f("uq_ledger_entries_leaf_hash")),
        sa.UniqueConstraint("prev", name=op.f("uq_ledger_entries_prev")),
        sa.UniqueConstraint("kind", "payment", name=op.f("uq_ledger_entries_kind_payment")),
    )
    op.create_index("ix_ledger_entries_campaign_seq", "ledger_entries", ["campaign", "seq"])
    op.create_index("ix_ledger_entries_kind_seq", "ledger_entries", ["kind", "seq"])
    op.create_index("ix_ledger_entries_at", "ledger_entries", ["at"])
    op.create_table(
        "ledger_hashes",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_hashes")),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_campaign_totals",
        sa.Column("campaign", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("raised", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("chargebacks", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("disbursed", sa.BigInteger(), nullable=False),
        sa.Column("donation_count", sa.Integer(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign", name=op.f("pk_ledger_campaign_totals")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers():
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
            )


def _postgresql_triggers():
    op.execute("""
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation';
        END
        $$
    """)
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()")
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change")
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION ledger_refuse_change()")
    else:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    op.drop_table("ledger_campaign_totals")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_hashes")
    op.drop_index("ix_ledger_entries_at", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_kind_seq", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_campaign_seq", table_name="ledger_entries")
    op.drop_table("ledger_entries")
