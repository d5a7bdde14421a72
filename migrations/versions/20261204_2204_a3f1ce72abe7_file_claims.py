"""File claims: each content-addressed upload a committed transaction stored, so that another
transaction's rollback never removes a file a committed row names (amanah.file_claims). Files
stored before this revision have no claim; a rollback never removes a file it did not write.

Revision ID: a3f1ce72abe7
Revises: ec123cb25c1f
Create Date: 2026-12-04 22:04:18.791435+00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f1ce72abe7'
down_revision = 'ec123cb25c1f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('file_claims',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_file_claims'))
    )


def downgrade():
    op.drop_table('file_claims')
