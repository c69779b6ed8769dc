"""visits: latitude, longitude and time zone of the visitor's city (from a city database; Shlink's visitLocation)

Revision ID: e1f2a3b4c5d6
Revises: c4e1a9d27b35
Create Date: 2026-12-01 22:50:00.000000

Three nullable columns without defaults: PostgreSQL adds them without rewriting the table, and SQLite's batch
mode uses ALTER TABLE ADD COLUMN (no copy of the visits), so the upgrade is instant whatever the visits' size.
Visits stored before it have no coordinates.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e1f2a3b4c5d6'
down_revision = 'c4e1a9d27b35'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_column('timezone')
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')
