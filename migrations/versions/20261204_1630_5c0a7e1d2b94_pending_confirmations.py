"""Pending confirmations: checkout events waiting for the ledger's append lock, applied in batches.

On PostgreSQL the table is UNLOGGED: its rows are requests for work that no 2xx has answered yet,
or answers read within seconds, so they need no WAL (recording one then costs no WAL flush); a
crash empties it, and the provider delivers those events again.

Revision ID: 5c0a7e1d2b94
Revises: 555c09fe0207
Create Date: 2026-12-04 16:30:00.000000+00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c0a7e1d2b94'
down_revision = '555c09fe0207'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('object', sa.JSON(), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_confirmations'))
    )
    with op.batch_alter_table('pending_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_confirmations_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index('ix_pending_confirmations_waiting', ['id'], unique=False,
                              postgresql_where=sa.text('outcome IS NULL'),
                              sqlite_where=sa.text('outcome IS NULL'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE pending_confirmations SET UNLOGGED')


def downgrade():
    with op.batch_alter_table('pending_confirmations', schema=None) as batch_op:
        batch_op.drop_index('ix_pending_confirmations_waiting')
        batch_op.drop_index(batch_op.f('ix_pending_confirmations_finished_at'))
    op.drop_table('pending_confirmations')
