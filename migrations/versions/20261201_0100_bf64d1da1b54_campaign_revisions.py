"""Campaign revisions: a permanent record of every edit of a public campaign.

Donors give on the strength of a campaign's story and goal; its organizer may still edit a
published campaign. campaigns.services.update_campaign writes one row per edit of a public
(published or closed) campaign that changes anything, in the same transaction as the edit, with
each changed field's value before and after. The rows are append-only: triggers refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL). Users are deactivated, never deleted, so every foreign key
RESTRICTs. Edits made before this revision were never recorded and cannot be rebuilt.

Revision ID: bf64d1da1b54
Revises: 3f9a2c7d4e18
Create Date: 2026-12-01 01:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'bf64d1da1b54'
down_revision = '3f9a2c7d4e18'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('campaign_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                            name=op.f('fk_campaign_revisions_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'],
                            name=op.f('fk_campaign_revisions_editor_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_revisions'))
    )
    with op.batch_alter_table('campaign_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_revisions_campaign_id'), ['campaign_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION campaign_revisions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'campaign revisions are append-only: % refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$
        """)
        op.execute("CREATE TRIGGER campaign_revisions_no_change "
                   "BEFORE UPDATE OR DELETE ON campaign_revisions "
                   "FOR EACH ROW EXECUTE FUNCTION campaign_revisions_refuse_change()")
        op.execute("ALTER TABLE campaign_revisions ENABLE ALWAYS TRIGGER campaign_revisions_no_change")
        op.execute("CREATE TRIGGER campaign_revisions_no_truncate "
                   "BEFORE TRUNCATE ON campaign_revisions "
                   "FOR EACH STATEMENT EXECUTE FUNCTION campaign_revisions_refuse_change()")
        op.execute("ALTER TABLE campaign_revisions ENABLE ALWAYS TRIGGER campaign_revisions_no_truncate")
    else:
        op.execute("CREATE TRIGGER campaign_revisions_no_update BEFORE UPDATE ON campaign_revisions "
                   "BEGIN SELECT RAISE(ABORT, 'campaign revisions are append-only: UPDATE refused'); END")
        op.execute("CREATE TRIGGER campaign_revisions_no_delete BEFORE DELETE ON campaign_revisions "
                   "BEGIN SELECT RAISE(ABORT, 'campaign revisions are append-only: DELETE refused'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER campaign_revisions_no_truncate ON campaign_revisions")
        op.execute("DROP TRIGGER campaign_revisions_no_change ON campaign_revisions")
        op.execute("DROP FUNCTION campaign_revisions_refuse_change()")
    else:
        op.execute("DROP TRIGGER campaign_revisions_no_delete")
        op.execute("DROP TRIGGER campaign_revisions_no_update")
    with op.batch_alter_table('campaign_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_revisions_campaign_id'))

    op.drop_table('campaign_revisions')
