"""uploads: quota reservations of chunked uploads, received byte ranges, session state

Revision ID: 5b9186b4df41
Revises: 3c1d5e7a9b20
Create Date: 2026-11-22 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b9186b4df41'
down_revision = '3c1d5e7a9b20'
branch_labels = None
depends_on = None


def upgrade():
    # Sessions open during the upgrade hold no reservation, so they could not be finished correctly:
    # they are dropped (Zipline's sessions do not survive a restart either); their temp files go with
    # the next storage clean-up.
    op.execute(sa.text("DELETE FROM partial_uploads"))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reserved_bytes', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reserved_files', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_users_reserved_bytes_nonnegative'), 'reserved_bytes >= 0')
        batch_op.create_check_constraint(batch_op.f('ck_users_reserved_files_nonnegative'), 'reserved_files >= 0')

    with op.batch_alter_table('partial_uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ranges', sa.JSON(), nullable=False))
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False))


def downgrade():
    op.execute(sa.text("DELETE FROM partial_uploads"))
    with op.batch_alter_table('partial_uploads', schema=None) as batch_op:
        batch_op.drop_column('state')
        batch_op.drop_column('ranges')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_reserved_files_nonnegative'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_users_reserved_bytes_nonnegative'), type_='check')
        batch_op.drop_column('reserved_files')
        batch_op.drop_column('reserved_bytes')
