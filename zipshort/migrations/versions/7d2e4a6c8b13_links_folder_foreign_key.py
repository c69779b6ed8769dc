"""links.folder_id becomes a foreign key to folders.id (ON DELETE SET NULL)

Revision ID: 7d2e4a6c8b13
Revises: 5b9186b4df41
Create Date: 2026-11-24 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d2e4a6c8b13'
down_revision = '5b9186b4df41'
branch_labels = None
depends_on = None


def upgrade():
    # A link could keep the id of a folder deleted before the key existed; such ids point nowhere, so
    # they become NULL first (the constraint could not be created over them).
    op.execute(sa.text("UPDATE links SET folder_id = NULL WHERE folder_id IS NOT NULL "
                       "AND folder_id NOT IN (SELECT id FROM folders)"))
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_links_folder_id_folders'), 'folders', ['folder_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_links_folder_id_folders'), type_='foreignkey')
