"""visit analytics: raw visits, hourly and daily rollups, daily unique keys and their salts

Revision ID: a3c5e7f9b214
Revises: 7d2e4a6c8b13
Create Date: 2026-12-01 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

from zipshort.extensions import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'a3c5e7f9b214'
down_revision = '7d2e4a6c8b13'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _owners():
    return [
        sa.Column('link_id', sa.String(length=36), nullable=True),
        sa.Column('file_id', sa.String(length=36), nullable=True),
    ]


def upgrade():
    op.create_table(
        'visits',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        *_owners(),
        sa.Column('orphan_type', sa.String(length=20), nullable=True),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('referrer', sa.String(length=1024), nullable=False),
        sa.Column('referrer_host', sa.String(length=255), nullable=False),
        sa.Column('user_agent', sa.String(length=512), nullable=False),
        sa.Column('browser', sa.String(length=64), nullable=False),
        sa.Column('browser_version', sa.String(length=16), nullable=False),
        sa.Column('os', sa.String(length=64), nullable=False),
        sa.Column('device', sa.String(length=8), nullable=False),
        sa.Column('bot', sa.Boolean(), nullable=False),
        sa.Column('language', sa.String(length=35), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=True),
        sa.Column('region', sa.String(length=128), nullable=True),
        sa.Column('city', sa.String(length=128), nullable=True),
        sa.Column('destination', sa.Text(), nullable=True),
        sa.Column('visitor_key', sa.String(length=32), nullable=True),
        sa.Column('address', sa.String(length=45), nullable=True),
        sa.Column('counted_only', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_visits_link_id_links'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_visits_file_id_files'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    )
    op.create_index('ix_visits_link_id_at', 'visits', ['link_id', 'at'])
    op.create_index('ix_visits_file_id_at', 'visits', ['file_id', 'at'])
    op.create_index('ix_visits_kind_at', 'visits', ['kind', 'at'])
    # BRIN on PostgreSQL: visits arrive in time order, so a block-range index is tiny and prunes well
    op.create_index('ix_visits_at', 'visits', ['at'], postgresql_using='brin')

    op.create_table(
        'visit_hours',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('target', sa.String(length=48), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        *_owners(),
        sa.Column('user_id', sa.String(length=36), nullable=True),
        sa.Column('hour', UTCDateTime(), nullable=False),
        sa.Column('bot', sa.Boolean(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('visitors', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_visit_hours_link_id_links'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_visit_hours_file_id_files'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_visit_hours_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_hours')),
        sa.UniqueConstraint('target', 'hour', 'bot', name='uq_visit_hours_target_hour_bot'),
    )
    op.create_index('ix_visit_hours_user_id_hour', 'visit_hours', ['user_id', 'hour'])
    op.create_index('ix_visit_hours_hour', 'visit_hours', ['hour'])

    op.create_table(
        'visit_days',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('target', sa.String(length=48), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        *_owners(),
        sa.Column('user_id', sa.String(length=36), nullable=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('bot', sa.Boolean(), nullable=False),
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_visit_days_link_id_links'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_visit_days_file_id_files'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_visit_days_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_days')),
        sa.UniqueConstraint('target', 'day', 'bot', 'dimension', 'value', name='uq_visit_days_key'),
    )
    op.create_index('ix_visit_days_user_id_day', 'visit_days', ['user_id', 'day'])
    op.create_index('ix_visit_days_day', 'visit_days', ['day'])

    op.create_table(
        'visit_uniques',
        sa.Column('target', sa.String(length=48), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('visitor_key', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('target', 'day', 'visitor_key', name=op.f('pk_visit_uniques')),
    )
    op.create_table(
        'visit_salts',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('salt', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_visit_salts')),
    )


def downgrade():
    op.drop_table('visit_salts')
    op.drop_table('visit_uniques')
    for table in ('visit_days', 'visit_hours', 'visits'):
        op.drop_table(table)
