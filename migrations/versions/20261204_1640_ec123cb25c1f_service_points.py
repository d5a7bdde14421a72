"""Service points: the places organizations serve (the map), the campaigns that fund each, and an
index on campaigns (region, status) for "nearest to me".

Revision ID: ec123cb25c1f
Revises: ed2fcc18b63f
Create Date: 2026-12-04 16:40:00.000000+00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'ec123cb25c1f'
down_revision = 'ed2fcc18b63f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('service_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('city', sa.String(length=80), nullable=False),
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('opening_hours', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('social', 'education', 'health', 'economy', 'culture', 'digital')", name=op.f('ck_service_points_category_known')),
    sa.CheckConstraint("province IN ('11', '12', '13', '14', '15', '16', '17', '18', '19', '21', '31', '32', '33', '34', '35', '36', '51', '52', '53', '61', '62', '63', '64', '65', '71', '72', '73', '74', '75', '76', '81', '82', '91', '92', '94', '95', '96', '97')", name=op.f('ck_service_points_province_known')),
    sa.CheckConstraint('latitude BETWEEN -11.2 AND 6.2', name=op.f('ck_service_points_latitude_in_indonesia')),
    sa.CheckConstraint('longitude BETWEEN 94.7 AND 141.2', name=op.f('ck_service_points_longitude_in_indonesia')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_service_points_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_points'))
    )
    with op.batch_alter_table('service_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_points_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_service_points_province_category', ['province', 'category'], unique=False)

    op.create_table('service_point_campaigns',
    sa.Column('service_point_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_service_point_campaigns_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_point_id'], ['service_points.id'], name=op.f('fk_service_point_campaigns_service_point_id_service_points'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_point_id', 'campaign_id', name=op.f('pk_service_point_campaigns'))
    )
    with op.batch_alter_table('service_point_campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_point_campaigns_campaign_id'), ['campaign_id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_region_status', ['region', 'status'], unique=False)



def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_region_status')

    with op.batch_alter_table('service_point_campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_point_campaigns_campaign_id'))

    op.drop_table('service_point_campaigns')
    with op.batch_alter_table('service_points', schema=None) as batch_op:
        batch_op.drop_index('ix_service_points_province_category')
        batch_op.drop_index(batch_op.f('ix_service_points_organization_id'))

    op.drop_table('service_points')
