"""audit log: security-relevant and administrative events

Revision ID: 266f80e513e7
Revises: 7a3f9c2e5b18
Create Date: 2026-12-02 02:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

from zipshort.extensions import UTCDateTime


# revision identifiers, used by Alembic.
revision = '266f80e513e7'
down_revision = "7a3f9c2e5b18"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_log',
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('result', sa.String(length=8), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=True),
        sa.Column('actor_id', sa.String(length=36), nullable=True),
        sa.Column('actor_name', sa.String(length=64), nullable=True),
        sa.Column('account_id', sa.String(length=36), nullable=True),
        sa.Column('target_type', sa.String(length=16), nullable=False),
        sa.Column('target_id', sa.String(length=36), nullable=True),
        sa.Column('target_name', sa.String(length=260), nullable=True),
        sa.Column('address', sa.String(length=45), nullable=True),
        sa.Column('request_id', sa.String(length=128), nullable=True),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_log_account_id_at', ['account_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_log_actor_id_at', ['actor_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_actor_id_at')
        batch_op.drop_index('ix_audit_log_account_id_at')
        batch_op.drop_index('ix_audit_log_at')
    op.drop_table('audit_log')
