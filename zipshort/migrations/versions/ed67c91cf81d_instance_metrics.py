"""instance metrics: snapshots of the instance's counts for Zipline's /api/stats

Revision ID: ed67c91cf81d
Revises: a3c5e7f9b214
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from zipshort.extensions import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'ed67c91cf81d'
down_revision = 'a3c5e7f9b214'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'metrics',
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metrics')),
    )
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.create_index('ix_metrics_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_metrics_created_at')
    op.drop_table('metrics')
