"""view leases: views of limited links granted in advance to a server process

Revision ID: b4d1e2f3a5c6
Revises: ed67c91cf81d
Create Date: 2026-12-01 19:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

from zipshort.extensions import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'b4d1e2f3a5c6'
down_revision = 'ed67c91cf81d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'view_leases',
        sa.Column('link_id', sa.String(length=36), nullable=False),
        sa.Column('holder', sa.String(length=36), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('renewed_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_view_leases_link_id_links'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('link_id', 'holder', name=op.f('pk_view_leases')),
    )
    with op.batch_alter_table('view_leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_view_leases_renewed_at'), ['renewed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('view_leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_view_leases_renewed_at'))
    op.drop_table('view_leases')
