"""Documents refuse TRUNCATE on PostgreSQL, like every other immutable table.

The row trigger made when the table was created refuses UPDATE and DELETE, but TRUNCATE fires no
row trigger: one statement could empty the table of issued receipts. A statement trigger refuses
it, enabled ALWAYS so that a session in replica mode cannot skip it either. SQLite has no
TRUNCATE (its `DELETE FROM documents` is a row delete, already refused).

Revision ID: 6d2f8a1c9e57
Revises: 2a2bce2d2c45
Create Date: 2026-12-04 11:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '6d2f8a1c9e57'
down_revision = '2a2bce2d2c45'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION documents_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'documents are immutable: TRUNCATE refused'
                USING ERRCODE = 'restrict_violation';
        END
        $$
    """)
    op.execute("CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents "
               "FOR EACH STATEMENT EXECUTE FUNCTION documents_refuse_truncate()")
    op.execute("ALTER TABLE documents ENABLE ALWAYS TRIGGER documents_no_truncate")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER documents_no_truncate ON documents")
    op.execute("DROP FUNCTION documents_refuse_truncate()")
