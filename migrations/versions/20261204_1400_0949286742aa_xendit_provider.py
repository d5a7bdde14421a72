"""Xendit as a payment provider: donations may be made with it, and say how the donor paid.

`provider` admits 'xendit'; `payment_method` names the method the donor chose (card, QRIS, a
bank's virtual account, an e-wallet). A fee booked as an estimate is marked, and its correction
(the actual fee, and where its entries are) is kept beside it. An anomaly may now be a payment of another amount than the
donation's (a virtual account paid short or over).

Revision ID: 0949286742aa
Revises: 0af95a03f3eb
Create Date: 2026-12-04 14:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0949286742aa'
down_revision = '0af95a03f3eb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_method', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('fee_estimated', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('actual_fee', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('fee_corrected_seq', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_donations_fee_corrected_seq'), ['fee_corrected_seq'])
        batch_op.drop_constraint(batch_op.f('ck_donations_provider_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_donations_provider_known'), "provider IN ('stripe', 'xendit', 'sandbox')")
    with op.batch_alter_table('payment_anomalies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payment_anomalies_kind_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_payment_anomalies_kind_known'),
            "kind IN ('foreign_payment', 'overdrawn', 'currency', 'amount')")


def downgrade():
    with op.batch_alter_table('payment_anomalies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payment_anomalies_kind_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_payment_anomalies_kind_known'), "kind IN ('foreign_payment', 'overdrawn', 'currency')")
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_donations_provider_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_donations_provider_known'), "provider IN ('stripe', 'sandbox')")
        batch_op.drop_constraint(batch_op.f('uq_donations_fee_corrected_seq'), type_='unique')
        batch_op.drop_column('fee_corrected_seq')
        batch_op.drop_column('actual_fee')
        batch_op.drop_column('fee_estimated')
        batch_op.drop_column('payment_method')
