"""Alembic environment for zipshort: runs against the app's engine (Flask-Migrate)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from flask import current_app

from zipshort.extensions import UTCDateTime

config = context.config
db = current_app.extensions["migrate"].db


def render_item(type_, obj, autogen_context):
    """Write zipshort's UTC timestamp type as a plain timezone-aware DateTime in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(url=str(db.engine.url), target_metadata=db.metadata, literal_binds=True,
                      render_as_batch=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=db.metadata, render_as_batch=True,
                          render_item=render_item, compare_type=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Servers starting together on one empty database: one migrates, the others wait for its
                # commit and find nothing left to do (without it the second crashes creating alembic_version).
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended('zipshort-migrations', 0))"))
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
