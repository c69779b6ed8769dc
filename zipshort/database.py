"""Engine hooks and transaction helpers shared by every service.

SQLite: WAL, foreign keys, a busy timeout, and explicit ``BEGIN`` so a service can ask for
``BEGIN IMMEDIATE`` (the write lock up front, so a read-then-write can never fail to
upgrade). PostgreSQL: advisory transaction locks serialise work on one key (a code) where
a unique index alone cannot express the rule.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, scoped_session

# One in-process writer at a time for SQLite's tiny hot-path statements: threads queue on
# this lock instead of sleeping in SQLite's busy handler (see reference/performance.md).
sqlite_write_lock = threading.Lock()


def install_engine_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    """Configure a freshly created engine for zipshort's transaction model."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised through every test
        dbapi_connection.isolation_level = None  # autocommit at the driver; BEGIN is ours
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def write_transaction(session: Session | scoped_session) -> Iterator[Session]:
    """Run one unit of work in its own write transaction, committed on success.

    Any read transaction the session holds is ended first, so on SQLite the new one starts
    with the write lock (``BEGIN IMMEDIATE``) and concurrent writers queue instead of failing.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={"sqlite_immediate": True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def lock_key(session: Session, key: str) -> None:
    """Serialise transactions that touch ``key`` until commit (PostgreSQL advisory lock).

    SQLite needs nothing here: a write transaction already holds the database's only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
