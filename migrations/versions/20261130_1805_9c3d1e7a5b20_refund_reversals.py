"""Refund reversals: a refund that failed after succeeding is marked reversed, with its entry.

Stripe can move a refund from succeeded to failed (the donor's bank refused it). The money then
stayed with the campaign, so a `refund_reversal` ledger entry restores it; the refund row keeps
that entry's seq (unique, like ledger_seq) and the new status `reversed`.

Revision ID: 9c3d1e7a5b20
Revises: 7f7269dc1f06
Create Date: 2026-11-30 18:05:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9c3d1e7a5b20'
down_revision = '7f7269dc1f06'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donation_refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversed_seq', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_donation_refunds_reversed_seq'), ['reversed_seq'])
        batch_op.drop_constraint(batch_op.f('ck_donation_refunds_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_donation_refunds_status_known'),
            "status IN ('requested', 'succeeded', 'failed', 'reversed')")
        batch_op.create_check_constraint(
            batch_op.f('ck_donation_refunds_reversed_is_recorded'),
            "status <> 'reversed' OR (ledger_seq IS NOT NULL AND reversed_seq IS NOT NULL)")


def downgrade():
    with op.batch_alter_table('donation_refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_donation_refunds_reversed_is_recorded'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_donation_refunds_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_donation_refunds_status_known'), "status IN ('requested', 'succeeded', 'failed')")
        batch_op.drop_constraint(batch_op.f('uq_donation_refunds_reversed_seq'), type_='unique')
        batch_op.drop_column('reversed_seq')
