"""The analytics writer's statements: raw visits and rollup upserts, as each database's driver takes them fastest.

SQLAlchemy's per-row parameter processing cost the writer more than everything else it did, so these statements
go to the driver with values already bound the way the models' column types bind them: on SQLite ``UTCDateTime``
is naive UTC text with microseconds and a date is ISO text (SQLAlchemy's formats), on PostgreSQL psycopg binds
aware datetimes, dates and booleans as PostgreSQL's own types; booleans bind as they are on both (SQLite stores
True as 1, as SQLAlchemy's Boolean does). tests/services/test_visitstore.py checks the stored values against the
ORM's. SQLite gets executemany (one prepared statement, a C loop); PostgreSQL gets ``COPY`` for the raw visits
and, per rollup table, one ``INSERT … SELECT`` over a JSON array of the rows (psycopg dumps the parameters of an
executemany, or the elements of an array, one by one in Python: several times the CPU).

Rows are upserted in the order given (the caller sorts them), so concurrent writers take the rows' locks in the
same order.
"""

from __future__ import annotations

import datetime as dt
import json
from itertools import chain
from typing import Any, Protocol

from sqlalchemy import Connection

VISIT_COLUMNS = ("at", "kind", "link_id", "file_id", "orphan_type", "url", "host", "destination", "referrer",
                 "referrer_host", "user_agent", "browser", "browser_version", "os", "device", "bot", "language",
                 "country", "region", "city", "latitude", "longitude", "timezone", "visitor_key", "address",
                 "counted_only")
OWNER_COLUMNS = ("kind", "link_id", "file_id", "user_id")
HOUR_COLUMNS = ("target", "hour", "bot", "count", "visitors", *OWNER_COLUMNS)
DAY_COLUMNS = ("target", "day", "bot", "dimension", "value", "count", *OWNER_COLUMNS)
KEY_COLUMNS = ("target", "day", "visitor_key")
_ADD_HOURS = " ON CONFLICT (target, hour, bot) DO UPDATE SET count = visit_hours.count + excluded.count, " \
             "visitors = visit_hours.visitors + excluded.visitors"
_ADD_DAYS = " ON CONFLICT (target, day, bot, dimension, value) DO UPDATE SET count = visit_days.count + excluded.count"
_CLAIM = " ON CONFLICT (target, day, visitor_key) DO NOTHING RETURNING target, day, visitor_key"
# PostgreSQL's types of the rollup columns, to read them from JSON
_PG_TYPES = {"target": "varchar", "hour": "timestamptz", "day": "date", "bot": "boolean", "count": "integer",
             "visitors": "integer", "dimension": "varchar", "value": "varchar", "kind": "varchar",
             "link_id": "varchar", "file_id": "varchar", "user_id": "varchar", "visitor_key": "varchar"}

Row = tuple[Any, ...]


class VisitStore(Protocol):
    """Writes one batch's rows inside the caller's transaction; ``time`` and ``day`` bind values for its rows."""

    def time(self, value: dt.datetime) -> Any: ...  # an aware UTC datetime

    def day(self, value: dt.date) -> Any: ...

    def insert_visits(self, conn: Connection, rows: list[Row]) -> None:
        """Rows of ``VISIT_COLUMNS``."""

    def claim_keys(self, conn: Connection, keys: list[Row]) -> list[Row]:
        """Insert (target, day, visitor key) rows; return those that were not there yet, as given."""

    def add_hours(self, conn: Connection, rows: list[Row]) -> None:
        """Add rows of ``HOUR_COLUMNS`` to ``visit_hours``."""

    def add_days(self, conn: Connection, rows: list[Row]) -> None:
        """Add rows of ``DAY_COLUMNS`` to ``visit_days``."""


def store_for(conn: Connection) -> VisitStore:
    """The statements for ``conn``'s database."""
    return SQLiteStore() if conn.dialect.name == "sqlite" else PostgresStore()


def _values(table: str, columns: tuple[str, ...], rows: int = 1) -> str:
    values = ", ".join(["(" + ", ".join(["?"] * len(columns)) + ")"] * rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


class SQLiteStore:
    """SQLite: executemany of prepared rows; new unique keys come back from multi-row ``INSERT … RETURNING``."""

    claims_per_statement = 500  # 1,500 parameters, far below SQLite's limit of 32,766

    @staticmethod
    def time(value: dt.datetime) -> str:
        return value.astimezone(dt.timezone.utc).isoformat(" ", "microseconds")[:26]  # naive: without "+00:00"

    @staticmethod
    def day(value: dt.date) -> str:
        return value.isoformat()

    def insert_visits(self, conn: Connection, rows: list[Row]) -> None:
        conn.exec_driver_sql(_values("visits", VISIT_COLUMNS), rows)

    def claim_keys(self, conn: Connection, keys: list[Row]) -> list[Row]:
        new: list[Row] = []
        for start in range(0, len(keys), self.claims_per_statement):
            chunk = keys[start:start + self.claims_per_statement]
            statement = _values("visit_uniques", KEY_COLUMNS, len(chunk)) + _CLAIM
            new.extend(map(tuple, conn.exec_driver_sql(statement, tuple(chain.from_iterable(chunk))).all()))
        return new

    def add_hours(self, conn: Connection, rows: list[Row]) -> None:
        conn.exec_driver_sql(_values("visit_hours", HOUR_COLUMNS) + _ADD_HOURS, rows)

    def add_days(self, conn: Connection, rows: list[Row]) -> None:
        conn.exec_driver_sql(_values("visit_days", DAY_COLUMNS) + _ADD_DAYS, rows)


def _json_rows(table: str, columns: tuple[str, ...], tail: str) -> str:
    """INSERT … SELECT over the rows of one JSON array, in the array's order (WITH ORDINALITY … ORDER BY).

    One JSON parameter is encoded in C; psycopg would dump an array per column, or a row per execution, in Python.
    """
    values = ", ".join(f"(r->>{i})::{_PG_TYPES[c]}" for i, c in enumerate(columns))
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} "
            f"FROM json_array_elements(%s::json) WITH ORDINALITY AS batch(r, n) ORDER BY n{tail}")


def _json(rows: list[Row]) -> tuple[str]:
    return (json.dumps(rows, default=_iso, separators=(",", ":")),)


def _iso(value: Any) -> str:
    if isinstance(value, dt.date):  # and datetimes: ISO 8601 with the offset, read back as the same instant
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a rollup value")


class PostgresStore:
    """PostgreSQL (psycopg 3): ``COPY`` for the raw visits, rows as one JSON array for the rollups."""

    @staticmethod
    def time(value: dt.datetime) -> dt.datetime:
        return value

    @staticmethod
    def day(value: dt.date) -> dt.date:
        return value

    def insert_visits(self, conn: Connection, rows: list[Row]) -> None:
        # COPY is psycopg's own API: the driver's cursor, on the connection and in the transaction ``conn`` holds
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY visits ({', '.join(VISIT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def claim_keys(self, conn: Connection, keys: list[Row]) -> list[Row]:
        new = conn.exec_driver_sql(_json_rows("visit_uniques", KEY_COLUMNS, _CLAIM), _json(keys)).all()
        return list(map(tuple, new))

    def add_hours(self, conn: Connection, rows: list[Row]) -> None:
        conn.exec_driver_sql(_json_rows("visit_hours", HOUR_COLUMNS, _ADD_HOURS), _json(rows))

    def add_days(self, conn: Connection, rows: list[Row]) -> None:
        conn.exec_driver_sql(_json_rows("visit_days", DAY_COLUMNS, _ADD_DAYS), _json(rows))
