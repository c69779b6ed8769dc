"""leaders: which server process runs the background work that runs once (maintenance)

Revision ID: 3b8d1f0c7a21
Revises: 266f80e513e7
Create Date: 2026-12-02 06:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

from zipshort.extensions import UTCDateTime


# revision identifiers, used by Alembic.
revision = '3b8d1f0c7a21'
down_revision = "266f80e513e7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'leaders',
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=64), nullable=False),
        sa.Column('until', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('role', name=op.f('pk_leaders')),
    )


def downgrade():
    op.drop_table('leaders')
