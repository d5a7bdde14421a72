"""Witness cosignatures of ledger checkpoints (C2SP tlog-cosignature), one per witness and size.

Revision ID: 348935ad8cb2
Revises: c306eeea2802
Create Date: 2026-12-04 15:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '348935ad8cb2'
down_revision = 'c306eeea2802'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ledger_cosignatures',
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('witness', sa.String(length=255), nullable=False),
        sa.Column('key_id', sa.LargeBinary(length=4), nullable=False),
        sa.Column('timestamp', sa.BigInteger(), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['size'], ['ledger_checkpoints.size'],
                                name=op.f('fk_ledger_cosignatures_size_ledger_checkpoints')),
        sa.PrimaryKeyConstraint('size', 'witness', name=op.f('pk_ledger_cosignatures')),
    )


def downgrade():
    op.drop_table('ledger_cosignatures')
