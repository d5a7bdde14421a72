"""Payment anomalies and reconciliation runs.

An anomaly is what a provider reported that the ledger must not take in (somebody else's payment
naming one of our donations, a refund beyond what a donation received): recorded once, with no
entry. A reconciliation run is one comparison of the provider's records with ours.

Revision ID: 2a2bce2d2c45
Revises: bf64d1da1b54
Create Date: 2026-12-04 10:44:37.867658

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '2a2bce2d2c45'
down_revision = 'bf64d1da1b54'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_reconciliations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=10), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.Column('applied', sa.Integer(), nullable=False),
    sa.Column('unsettled', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_reconciliations'))
    )
    op.create_table('payment_anomalies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=10), nullable=False),
    sa.Column('provider_object', sa.String(length=255), nullable=False),
    sa.Column('donation_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('foreign_payment', 'overdrawn', 'currency')", name=op.f('ck_payment_anomalies_kind_known')),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_payment_anomalies_donation_id_donations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_anomalies')),
    sa.UniqueConstraint('kind', 'provider_object', name=op.f('uq_payment_anomalies_kind_provider_object'))
    )
    with op.batch_alter_table('payment_anomalies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_anomalies_donation_id'), ['donation_id'], unique=False)



def downgrade():
    with op.batch_alter_table('payment_anomalies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_anomalies_donation_id'))

    op.drop_table('payment_anomalies')
    op.drop_table('payment_reconciliations')
