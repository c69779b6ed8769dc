"""Shlink's link features and key roles: links.valid_since, forward_query, crawlable, api_key_id;
api_keys.authored_only, domain; the domain_redirects table (special redirects per domain)

Revision ID: c5d6e7f8a9b0
Revises: b4d1e2f3a5c6
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from zipshort.extensions import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'c5d6e7f8a9b0'
down_revision = 'b4d1e2f3a5c6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('valid_since', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('forward_query', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('crawlable', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('api_key_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_links_api_key_id_api_keys'), 'api_keys', ['api_key_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_links_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index('ix_links_crawlable', ['slug'], unique=False,
                              sqlite_where=sa.text('crawlable'), postgresql_where=sa.text('crawlable'))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authored_only', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('domain', sa.String(length=260), nullable=True))
    op.create_table(
        'domain_redirects',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('domain', sa.String(length=260), nullable=False),
        sa.Column('base_url', sa.Text(), nullable=True),
        sa.Column('regular_404', sa.Text(), nullable=True),
        sa.Column('invalid_short_url', sa.Text(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_redirects')),
        sa.UniqueConstraint('domain', name=op.f('uq_domain_redirects_domain')),
    )


def downgrade():
    op.drop_table('domain_redirects')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('domain')
        batch_op.drop_column('authored_only')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index('ix_links_crawlable')
        batch_op.drop_index(batch_op.f('ix_links_api_key_id'))
        batch_op.drop_constraint(batch_op.f('fk_links_api_key_id_api_keys'), type_='foreignkey')
        batch_op.drop_column('api_key_id')
        batch_op.drop_column('crawlable')
        batch_op.drop_column('forward_query')
        batch_op.drop_column('valid_since')
