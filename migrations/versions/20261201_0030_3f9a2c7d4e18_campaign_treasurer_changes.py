"""Treasurer changes: a permanent record of every hand-over of a public campaign's money.

Once a campaign is public only an admin (never its organizer) may change its treasurer, with a
reason; campaigns.services.change_treasurer writes one row per change in the same transaction as the
change itself. The rows are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL). Users are deactivated, never deleted, so every foreign key RESTRICTs. Changes made
before this revision (through the organizer's edit form) were never recorded and cannot be rebuilt.

Revision ID: 3f9a2c7d4e18
Revises: 8e4c1a7f3b92
Create Date: 2026-12-01 00:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3f9a2c7d4e18'
down_revision = '8e4c1a7f3b92'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('campaign_treasurer_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('from_user_id', sa.Integer(), nullable=False),
    sa.Column('to_user_id', sa.Integer(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('from_user_id <> to_user_id',
                       name=op.f('ck_campaign_treasurer_changes_changes_treasurer')),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_campaign_treasurer_changes_has_reason')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                            name=op.f('fk_campaign_treasurer_changes_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'],
                            name=op.f('fk_campaign_treasurer_changes_changed_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['from_user_id'], ['users.id'],
                            name=op.f('fk_campaign_treasurer_changes_from_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['to_user_id'], ['users.id'],
                            name=op.f('fk_campaign_treasurer_changes_to_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_treasurer_changes'))
    )
    with op.batch_alter_table('campaign_treasurer_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_treasurer_changes_campaign_id'), ['campaign_id'],
                              unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION campaign_treasurer_changes_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'treasurer changes are append-only: % refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$
        """)
        op.execute("CREATE TRIGGER campaign_treasurer_changes_no_change "
                   "BEFORE UPDATE OR DELETE ON campaign_treasurer_changes "
                   "FOR EACH ROW EXECUTE FUNCTION campaign_treasurer_changes_refuse_change()")
        op.execute("ALTER TABLE campaign_treasurer_changes ENABLE ALWAYS TRIGGER campaign_treasurer_changes_no_change")
        op.execute("CREATE TRIGGER campaign_treasurer_changes_no_truncate "
                   "BEFORE TRUNCATE ON campaign_treasurer_changes "
                   "FOR EACH STATEMENT EXECUTE FUNCTION campaign_treasurer_changes_refuse_change()")
        op.execute("ALTER TABLE campaign_treasurer_changes "
                   "ENABLE ALWAYS TRIGGER campaign_treasurer_changes_no_truncate")
    else:
        op.execute("CREATE TRIGGER campaign_treasurer_changes_no_update BEFORE UPDATE ON campaign_treasurer_changes "
                   "BEGIN SELECT RAISE(ABORT, 'treasurer changes are append-only: UPDATE refused'); END")
        op.execute("CREATE TRIGGER campaign_treasurer_changes_no_delete BEFORE DELETE ON campaign_treasurer_changes "
                   "BEGIN SELECT RAISE(ABORT, 'treasurer changes are append-only: DELETE refused'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER campaign_treasurer_changes_no_truncate ON campaign_treasurer_changes")
        op.execute("DROP TRIGGER campaign_treasurer_changes_no_change ON campaign_treasurer_changes")
        op.execute("DROP FUNCTION campaign_treasurer_changes_refuse_change()")
    else:
        op.execute("DROP TRIGGER campaign_treasurer_changes_no_delete")
        op.execute("DROP TRIGGER campaign_treasurer_changes_no_update")
    with op.batch_alter_table('campaign_treasurer_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_treasurer_changes_campaign_id'))

    op.drop_table('campaign_treasurer_changes')
