"""Engine hooks and transaction helpers shared by every service.

SQLite: WAL, foreign keys, a busy timeout, and explicit ``BEGIN`` so a service can ask for
``BEGIN IMMEDIATE`` (the write lock up front, so a read-then-write can never fail to
upgrade). PostgreSQL: advisory transaction locks serialise work on one key (a code) where
a unique index alone cannot express the rule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import threading
import weakref
from typing import Any, Callable, Iterator, TypeAlias, TypeVar, cast

from sqlalchemy import CursorResult, Engine, Result, String, bindparam, event, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, scoped_session

# One in-process writer at a time for SQLite's tiny hot-path statements: threads queue on
# this lock instead of sleeping in SQLite's busy handler (see ARCHITECTURE.md, The redirect).
sqlite_write_lock = threading.Lock()
_hot_state: "weakref.WeakKeyDictionary[Engine, _HotState]" = weakref.WeakKeyDictionary()
_collations: "weakref.WeakKeyDictionary[Engine, bool]" = weakref.WeakKeyDictionary()

T = TypeVar("T")

AnySession: TypeAlias = "Session | scoped_session[Any]"
"""A session, or the scoped session (``db.session``) that proxies to the current one."""


def binary_collation(session: AnySession) -> bool:
    """Whether the session's database compares text in code point order (SQLite; PostgreSQL with a C
    collation); asked once per engine."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    known = _collations.get(engine)
    if known is None:
        if engine.dialect.name != "postgresql":
            known = True
        else:
            collate = session.scalar(text("SELECT datcollate FROM pg_database WHERE datname = current_database()"))
            known = str(collate).upper() in ("C", "POSIX", "C.UTF-8", "C.UTF8")
        _collations[engine] = known
    return known


def _sqlite_params(params: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as SQLAlchemy stores them in SQLite (naive UTC text), so comparisons agree."""
    return {k: v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, dt.datetime) else v
            for k, v in params.items()}


def as_utc(value: object) -> dt.datetime | None:
    """A hot statement's timestamp as aware UTC (SQLite returns text, PostgreSQL an aware datetime); None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


@functools.lru_cache(maxsize=32)
def _pyformat(sql: str) -> str:
    return re.sub(r":(\w+)", r"%(\1)s", sql)


def _detached_sqlite_connection(engine: Engine) -> Any:
    fairy = engine.raw_connection()  # configured by the connect hook (WAL, autocommit, busy timeout)
    connection = fairy.dbapi_connection
    fairy.detach()
    return connection


def hot_statement(engine: Engine, sql: str, params: dict[str, Any], write: bool) -> tuple[Any, ...] | None:
    """Run one hot-path statement (``:name`` parameters) and return its first row.

    The redirect's statements bypass the ORM and Core: both cost as much as the statement.
    SQLite: reads use a connection per thread, writes one kept connection under
    ``sqlite_write_lock`` (writers queue on the lock instead of sleeping in SQLite's busy
    handler); both autocommit, so each statement is its own transaction.
    PostgreSQL: a pooled connection in autocommit for the one statement.
    """
    rows = hot_rows(engine, sql, params, write)
    return rows[0] if rows else None


def hot_rows(engine: Engine, sql: str, params: dict[str, Any], write: bool = False) -> list[tuple[Any, ...]]:
    """:func:`hot_statement`, every row."""
    if engine.dialect.name == "sqlite":
        state = _sqlite_state(engine)
        params = _sqlite_params(params)
        if write:
            with sqlite_write_lock:
                return _sqlite_writer(engine, state).execute(sql, params).fetchall()
        reader = getattr(state.readers, "connection", None)
        if reader is None:
            reader = state.readers.connection = _detached_sqlite_connection(engine)
            state.all_readers.append(reader)
        return reader.execute(sql, params).fetchall()
    try:
        return _pooled_statement(engine, sql, params)
    except engine.dialect.loaded_dbapi.OperationalError:
        # The server dropped our connections (restart, failover): start a fresh pool, try once more.
        engine.dispose()
        return _pooled_statement(engine, sql, params)


def _sqlite_state(engine: Engine) -> "_HotState":
    state = _hot_state.get(engine)
    if state is None:
        state = _hot_state.setdefault(engine, _HotState())
        event.listen(engine, "engine_disposed", lambda e: (_hot_state.pop(e, _HotState())).close())
    return state


def _sqlite_writer(engine: Engine, state: "_HotState") -> Any:
    """The kept write connection (call with ``sqlite_write_lock`` held)."""
    if state.writer is None:
        state.writer = _detached_sqlite_connection(engine)
    return state.writer


Query: TypeAlias = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]
"""Runs one statement (``:name`` parameters) inside a hot transaction and returns its rows."""


def hot_transaction(engine: Engine, work: Callable[[Query], T]) -> T:
    """Run ``work(query)`` as one short write transaction on the hot path's connections, committed on return.

    For the few statements that must see and change rows together (the redirect's grouped view counts).
    SQLite: the kept write connection under ``sqlite_write_lock``, ``BEGIN IMMEDIATE`` (so other processes
    wait for the commit). PostgreSQL: a pooled connection; ``work`` locks what it reads (``FOR UPDATE``).
    Rolled back on any error; a connection the server dropped is replaced and the work runs once more.
    """
    if engine.dialect.name == "sqlite":
        state = _sqlite_state(engine)
        with sqlite_write_lock:
            writer = _sqlite_writer(engine, state)
            writer.execute("BEGIN IMMEDIATE")
            try:
                result = work(lambda sql, params: writer.execute(sql, _sqlite_params(params)).fetchall())
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            writer.execute("COMMIT")
            return result
    try:
        return _pooled_transaction(engine, work)
    except engine.dialect.loaded_dbapi.OperationalError:
        engine.dispose()
        return _pooled_transaction(engine, work)


def _pooled_transaction(engine: Engine, work: Callable[[Query], T]) -> T:
    connection = engine.raw_connection()
    driver: Any = connection.dbapi_connection
    try:
        with driver.cursor() as cursor:
            def query(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
                cursor.execute(_pyformat(sql), params)
                return cursor.fetchall() if cursor.description is not None else []

            try:
                result = work(query)
                driver.commit()
            except BaseException:
                if not driver.closed:
                    driver.rollback()
                raise
        return result
    except engine.dialect.loaded_dbapi.OperationalError:
        connection.invalidate()
        raise
    finally:
        connection.close()  # back to the pool


def _pooled_statement(engine: Engine, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    connection = engine.raw_connection()
    driver: Any = connection.dbapi_connection  # psycopg's: autocommit, closed and a cursor that is a context manager
    try:
        driver.autocommit = True  # one statement, one round trip: no BEGIN/COMMIT
        try:
            with driver.cursor() as cursor:
                cursor.execute(_pyformat(sql), params)
                rows = cursor.fetchall()
        finally:
            if not driver.closed:
                driver.autocommit = False
    except engine.dialect.loaded_dbapi.OperationalError:
        connection.invalidate()
        raise
    finally:
        connection.close()  # back to the pool
    return rows


class _HotState:
    """The SQLite connections the hot path keeps per engine."""

    def __init__(self) -> None:
        self.writer: Any = None
        self.readers = threading.local()
        self.all_readers: list[Any] = []

    def close(self) -> None:
        for connection in [self.writer, *self.all_readers]:
            if connection is not None:
                connection.close()


def exclusive_writer(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """For a background writer's short transaction on SQLite: the in-process lock the hot path's writers queue
    on, so they wait for the transaction on the lock rather than sleeping in SQLite's busy handler (which
    sleeps in growing steps). Nothing on PostgreSQL, whose row locks need no help."""
    return sqlite_write_lock if engine.dialect.name == "sqlite" else contextlib.nullcontext()


def checkpoint_wal(engine: Engine, min_bytes: int = 32 * 1024 * 1024,
                   wait_ms: int = 2000) -> tuple[int, int, int] | None:
    """SQLite: when the write-ahead log has grown past ``min_bytes``, copy it into the database and truncate it
    (``PRAGMA wal_checkpoint(TRUNCATE)``); return SQLite's (busy, log frames, frames checkpointed), else None.

    SQLite's own checkpoints after each commit copy what they can but restart the log only when no reader is
    using it, which never happens while many threads read without pause (the redirect's readers, in several
    worker processes, while visits are written): measured, the log grew by 12 MB a second and every page read
    searched more of it. A TRUNCATE checkpoint holds writers off while it waits: readers that start meanwhile
    find the log fully copied and read the database file, so the readers of the moment finish and the log
    restarts. It waits up to ``wait_ms`` (writers wait as long), then gives up (busy = 1) until next time.
    """
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    try:
        if os.path.getsize(engine.url.database + "-wal") < min_bytes:
            return None
    except OSError:  # no log (yet)
        return None
    connection = _detached_sqlite_connection(engine)
    try:
        connection.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        row = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    return int(row[0]), int(row[1]), int(row[2])


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
def write_transaction(session: AnySession) -> Iterator[Session]:
    """Run one unit of work in its own write transaction, committed on success.

    Any read transaction the session holds is ended first, so on SQLite the new one starts
    with the write lock (``BEGIN IMMEDIATE``) and concurrent writers queue instead of failing.
    """
    current = session() if isinstance(session, scoped_session) else session
    if current.in_transaction():
        current.commit()
    current.connection(execution_options={"sqlite_immediate": True})
    try:
        yield current
        current.commit()
    except BaseException:
        current.rollback()
        raise


PENDING_EVENTS = "zipshort.pending_events"


def publish_after_commit(session: AnySession, dispatcher: Any, *events: Any) -> None:
    """Publish ``events`` through ``dispatcher`` when the session's transaction commits; drop them on rollback.

    Doors call this beside the change that the event describes, so an event is published exactly once
    per committed change and never for one that rolled back (a savepoint's rollback keeps them: the
    outer transaction decides).
    """
    if isinstance(session, scoped_session):
        session = session()
    session.info.setdefault(PENDING_EVENTS, []).extend((dispatcher, e) for e in events)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """The dispatchers' transactional subscribers see the events inside the outermost transaction, before it
    commits (a savepoint's release is not the commit: its events wait for the outer one)."""
    if session.in_nested_transaction():
        return
    pending = session.info.get(PENDING_EVENTS)
    if not pending:
        return
    by_dispatcher: dict[int, tuple[Any, list[Any]]] = {}
    for dispatcher, item in pending:
        by_dispatcher.setdefault(id(dispatcher), (dispatcher, []))[1].append(item)
    for dispatcher, items in by_dispatcher.values():
        dispatcher.write_in_transaction(session, items)


@event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's release: the outer transaction has not committed yet
        return
    pending = session.info.pop(PENDING_EVENTS, None)
    for dispatcher, item in pending or ():
        dispatcher.publish(item)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        session.info.pop(PENDING_EVENTS, None)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (``Session.execute`` is typed to return a plain ``Result``,
    but for these statements it is the driver's ``CursorResult``)."""
    return cast("CursorResult[Any]", result).rowcount


def lock_key(session: AnySession, key: str) -> None:
    """Serialise transactions that touch ``key`` until commit (PostgreSQL advisory lock).

    SQLite needs nothing here: a write transaction already holds the database's only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def existing_values(session: AnySession, column: Any, values: list[str], *where: Any) -> set[str]:
    """Which of ``values`` occur in the ORM ``column`` (rows also matching ``where``), for thousands of values.

    PostgreSQL joins the column's table to one unnested array parameter, so the work stays linear
    whatever plan it picks: an index probe per value once the table is analysed, one hash join while
    it is not. (``IN (...)``/``= ANY`` over hundreds of values turns into a filter comparing every
    candidate row with every value when a freshly filled table has no statistics yet: 10,000
    external ids against 30,000 rows took 6 s.) SQLite always probes the index for ``IN`` and gets
    the values in chunks below its variable limit.
    """
    found: set[str] = set()
    if not values:
        return found
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam("values", values, type_=ARRAY(String))
        given = func.unnest(array).table_valued("value").render_derived(name="given")
        stmt = select(column).select_from(given).join(column.class_, column == given.c.value).where(*where)
        found.update(session.scalars(stmt))
        return found
    for start in range(0, len(values), 500):
        found.update(session.scalars(select(column).where(column.in_(values[start:start + 500]), *where)))
    return found


def reachable(session: AnySession) -> bool:
    """Whether the database answers a round trip (health checks); ends the session's transaction either way."""
    try:
        session.execute(text("SELECT 1"))
        return True
    except Exception:  # any database failure means unhealthy
        return False
    finally:
        session.rollback()
