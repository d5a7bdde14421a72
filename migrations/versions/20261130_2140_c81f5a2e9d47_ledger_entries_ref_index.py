"""Index ledger entries by the entry they refer to, so "the entries that refer to entry N" (a
donation's refunds and fees, a disbursement's correction) is an index range, not a scan.

Revision ID: c81f5a2e9d47
Revises: b7e2f4a91c3d
Create Date: 2026-11-30 21:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c81f5a2e9d47'
down_revision = 'b7e2f4a91c3d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_ref_seq', ['ref', 'seq'], unique=False)


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_ref_seq')
