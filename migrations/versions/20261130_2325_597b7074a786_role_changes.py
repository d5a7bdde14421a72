"""Role changes: a permanent record of who granted or revoked which role, and when.

One row per grant or revocation (action 'granted' or 'revoked'), written in the same transaction
as the change by donations.accounts.grant_role/revoke_role; changed_by_id NULL means the command
line. The rows are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
Users are deactivated, never deleted, so both foreign keys RESTRICT.

The history starts complete for the roles held today: one 'granted' row is backfilled per existing
user_roles row, with its granted_at and granted_by_id (NULL there means the command line, or a
granter whose account was deleted). Roles revoked before this revision were never recorded
anywhere but the application log, so those revocations (and the grants they undid) are missing.

Revision ID: 597b7074a786
Revises: 2b9e6f0c4d71
Create Date: 2026-11-30 23:25:33.228015

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '597b7074a786'
down_revision = '2b9e6f0c4d71'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('role_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('granted', 'revoked')", name=op.f('ck_role_changes_action_known')),
    sa.CheckConstraint("role IN ('organizer', 'treasurer', 'auditor', 'admin')", name=op.f('ck_role_changes_role_known')),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_role_changes_changed_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_changes_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_changes'))
    )
    with op.batch_alter_table('role_changes', schema=None) as batch_op:
        batch_op.create_index('ix_role_changes_user_id_changed_at', ['user_id', 'changed_at'], unique=False)

    op.execute("INSERT INTO role_changes (user_id, role, action, changed_by_id, changed_at) "
               "SELECT user_id, role, 'granted', granted_by_id, granted_at FROM user_roles "
               "ORDER BY granted_at, user_id, role")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION role_changes_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'role changes are append-only: % refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$
        """)
        op.execute("CREATE TRIGGER role_changes_no_change BEFORE UPDATE OR DELETE ON role_changes "
                   "FOR EACH ROW EXECUTE FUNCTION role_changes_refuse_change()")
        op.execute("ALTER TABLE role_changes ENABLE ALWAYS TRIGGER role_changes_no_change")
        op.execute("CREATE TRIGGER role_changes_no_truncate BEFORE TRUNCATE ON role_changes "
                   "FOR EACH STATEMENT EXECUTE FUNCTION role_changes_refuse_change()")
        op.execute("ALTER TABLE role_changes ENABLE ALWAYS TRIGGER role_changes_no_truncate")
    else:
        op.execute("CREATE TRIGGER role_changes_no_update BEFORE UPDATE ON role_changes "
                   "BEGIN SELECT RAISE(ABORT, 'role changes are append-only: UPDATE refused'); END")
        op.execute("CREATE TRIGGER role_changes_no_delete BEFORE DELETE ON role_changes "
                   "BEGIN SELECT RAISE(ABORT, 'role changes are append-only: DELETE refused'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER role_changes_no_truncate ON role_changes")
        op.execute("DROP TRIGGER role_changes_no_change ON role_changes")
        op.execute("DROP FUNCTION role_changes_refuse_change()")
    else:
        op.execute("DROP TRIGGER role_changes_no_delete")
        op.execute("DROP TRIGGER role_changes_no_update")
    with op.batch_alter_table('role_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_role_changes_user_id_changed_at')

    op.drop_table('role_changes')
