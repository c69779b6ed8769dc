"""custom domains (h/domains): one verified claim per hostname, several pending ones

Anyone could block a hostname by adding it first; now a hostname is unique among verified domains only
(a partial unique index), and once per user.

Revision ID: 3c1d5e7a9b20
Revises: 3c5e0f1a9b21
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1d5e7a9b20'
down_revision = '3c5e0f1a9b21'
branch_labels = None
depends_on = None

VERIFIED = sa.text('verified_at IS NOT NULL')


def upgrade():
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.drop_constraint('uq_custom_domains_hostname', type_='unique')
        batch_op.create_unique_constraint('uq_custom_domains_user_id_hostname', ['user_id', 'hostname'])
        batch_op.create_index('ix_custom_domains_hostname', ['hostname'], unique=False)
    op.create_index('uq_custom_domains_verified_hostname', 'custom_domains', ['hostname'], unique=True,
                    sqlite_where=VERIFIED, postgresql_where=VERIFIED)


def downgrade():
    op.drop_index('uq_custom_domains_verified_hostname', table_name='custom_domains')
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.drop_index('ix_custom_domains_hostname')
        batch_op.drop_constraint('uq_custom_domains_user_id_hostname', type_='unique')
        batch_op.create_unique_constraint('uq_custom_domains_hostname', ['hostname'])
