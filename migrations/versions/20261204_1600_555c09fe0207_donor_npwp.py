"""The donor's NPWP on a donation (optional, from the donate form), for the receipt.

Revision ID: 555c09fe0207
Revises: 348935ad8cb2
Create Date: 2026-12-04 16:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '555c09fe0207'
down_revision = '348935ad8cb2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('donor_npwp', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f('ck_donations_donor_npwp_length'), "donor_npwp IS NULL OR length(donor_npwp) IN (15, 16)")


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_donations_donor_npwp_length'), type_='check')
        batch_op.drop_column('donor_npwp')
