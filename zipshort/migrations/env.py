"""Alembic environment for zipshort: runs against the app's engine (Flask-Migrate)."""

from __future__ import annotations

import contextlib
from typing import Iterator

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
        with sqlite_migration_lock(connection), sqlite_foreign_keys_off(connection):
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # Servers starting together on one empty database: one migrates, the others wait for its
                    # commit and find nothing left to do (without it the second crashes creating alembic_version).
                    connection.execute(sa.text(
                        "SELECT pg_advisory_xact_lock(hashtextextended('zipshort-migrations', 0))"))
                context.run_migrations()


@contextlib.contextmanager
def sqlite_migration_lock(connection) -> Iterator[None]:
    """On SQLite, servers starting together on one database file migrate one after the other: an exclusive
    lock on ``<database>.migrate-lock`` (SQLite's DDL is not transactional, so the second would otherwise
    fail on the first one's half-done work). The next reads the revision after the lock and finds nothing to do."""
    database = connection.engine.url.database if connection.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # Windows: one server process per database file there
        yield
        return
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def sqlite_foreign_keys_off(connection) -> Iterator[None]:
    """On SQLite, run the migrations with foreign keys off, then check them.

    A batch operation rebuilds a table (copy, DROP, rename). With foreign keys on, the DROP runs the
    ON DELETE actions of every table pointing at it: rebuilding ``users`` would delete every row a user
    owns, rebuilding ``links`` every link's tags. SQLite's own procedure for altering a table switches
    them off around it; the switch only works outside a transaction, so it goes to the driver directly
    (the engine's ``begin`` hook would open one first). Afterwards ``foreign_key_check`` must find nothing.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migrations left rows pointing at missing rows: {broken[:10]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
