"""Pruning raw visits: zipshort's batched DELETEs (services/analytics.py ``prune``, next to a BRIN index on
``visits.at`` on PostgreSQL) against the alternative, a ``visits`` table partitioned by month whose expired
partitions are dropped.

    .venv/bin/python bench/prune.py                          # PostgreSQL, 10 million visits over 120 days
    .venv/bin/python bench/prune.py --visits 1000000         # a quicker run
    .venv/bin/python bench/prune.py --write-load             # also time small INSERTs meanwhile
    .venv/bin/python bench/prune.py --sqlite                 # SQLite, 1 million visits: the prune and the fixes

A scratch database is created on ``--postgres`` (default postgresql://postgres@127.0.0.1:5432/test) and
dropped afterwards; the schema comes from zipshort's migrations. The visits are written with INSERT … SELECT
over a generated series, evenly over ``--days`` (120) on ``--links`` links, in time order (as the analytics
writer stores them), so with the default 90-day retention a quarter of them has expired at "now" (the end
of the series). Autovacuum's work is done explicitly (VACUUM, ANALYZE) where it would have run. It prints:

1. ``analytics.prune(rt, engine, now)`` itself (batches of 10,000): wall time, rows/s, the WAL it wrote,
   the batch times and the plan of its DELETE; the VACUUM the deletes leave behind; a round with nothing
   to delete (what the maintenance loop pays every minute) with the planner's statistics stale and fresh;
   a round a day later (a day's expired rows); two fixes in plain SQL for comparison;
2. the sizes: table, each index, what a B-tree on ``at`` would take, and what the BRIN covers once new
   visits fill the space the prune freed;
3. the alternative: a copy of the rows in ``visits_part`` (``PARTITION BY RANGE (at)``, one partition per
   calendar month, the same indexes), the time to DETACH and DROP the months wholly past retention, the
   expired rows a calendar month leaves behind, and the listing of one link's visits (newest first, 100 rows,
   and the count, as services/visitlog.page_visits asks them) on both layouts: EXPLAIN ANALYZE and p50/p99.

With --write-load a thread inserts 20 visits every 10 ms (the writer's shape) and the insert latency is
printed per phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _prune_parts import (  # noqa: E402
    COLUMNS,
    NOW,
    WriteLoad,
    drop_expired,
    listings,
    mb,
    partitioned_copy,
    percentile,
    vacuum,
    wal_lsn,
)

from zipshort import create_app  # noqa: E402
from zipshort.cli import apply_migrations  # noqa: E402
from zipshort.config import load_settings  # noqa: E402
from zipshort.extensions import UTCDateTime  # noqa: E402


def fill(engine: sa.Engine, link_ids: list[str], visits: int, days: int) -> None:
    """``visits`` rows, one every days*86400/visits seconds from NOW - days, round robin over the links, in
    time order (so ids follow ``at``, as they do when the writer stores them)."""
    pg = engine.dialect.name == "postgresql"
    start = NOW - dt.timedelta(days=days)
    span = days * 86400
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMPORARY TABLE bench_links (n INTEGER PRIMARY KEY, id VARCHAR(48))"))
        conn.execute(sa.text("INSERT INTO bench_links VALUES (:n, :id)"),
                     [{"n": n, "id": i} for n, i in enumerate(link_ids)])
        offset = f"s.i::bigint * {span} / {visits}" if pg else f"s.i * {span} / {visits}"
        if pg:
            at = f"(TIMESTAMPTZ '{start.isoformat()}' + ({offset}) * INTERVAL '1 second')"
            source = (f"(SELECT array_agg(id ORDER BY n) AS ids FROM bench_links) l "
                      f"CROSS JOIN generate_series(0, {visits - 1}) AS s(i)")
            link, true, false = f"l.ids[1 + s.i % {len(link_ids)}]", "true", "false"
        else:
            at = f"strftime('%Y-%m-%d %H:%M:%S', '{start:%Y-%m-%d %H:%M:%S}', '+' || ({offset}) || ' seconds')" \
                 " || '.000000'"
            source = (f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {visits - 1}) "
                      f"SELECT i FROM s) AS s JOIN bench_links l ON l.n = s.i % {len(link_ids)}")
            link, true, false = "l.id", "1", "0"
        started = time.perf_counter()
        conn.execute(sa.text(
            f"INSERT INTO visits ({COLUMNS}) SELECT {at}, 'link', {link}, 'https://s.example/x', 's.example', "
            f"'https://ref.example/', 'ref.example', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0', "
            f"'Chrome', '120', 'Windows', 'desktop', CASE WHEN s.i % 10 = 0 THEN {true} ELSE {false} END, "
            f"'en-gb', 'DE', 'https://example.com/some/longer/destination?utm_source=bench', {false} FROM {source}"))
        print(f"  visits: {visits:,} rows in {time.perf_counter() - started:.1f} s")
    vacuum(engine)


class DeleteWatch:
    """Times each statement that deletes from ``visits`` and explains the first one."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.batches: list[float] = []
        self.plan = ""
        self.explain_seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> DeleteWatch:
        sa.event.listen(self.engine, "before_cursor_execute", self.before)
        sa.event.listen(self.engine, "after_cursor_execute", self.after)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self.before)
        sa.event.remove(self.engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith("DELETE FROM VISITS "):
            return
        if not self.plan:  # EXPLAIN in the same transaction, just before: the plan this DELETE gets
            started = time.perf_counter()
            explain = "EXPLAIN (COSTS OFF) " if conn.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
            rows = cursor.connection.execute(explain + statement, parameters).fetchall()
            self.plan = "\n".join("      " + " ".join(str(c) for c in row[-1:]) for row in rows)
            self.explain_seconds = time.perf_counter() - started
        self._started = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM VISITS "):
            self.batches.append(time.perf_counter() - self._started)


def report(label: str, removed: int, seconds: float, watch: DeleteWatch, wal: int | None) -> None:
    rate = f" = {removed / seconds:,.0f} rows/s" if removed else ""
    print(f"  {label}: {removed:,} rows in {seconds:.2f} s{rate}, {len(watch.batches)} batches"
          + (f", WAL {mb(wal)}" if wal is not None else ""))
    if len(watch.batches) > 1:
        b = [x * 1000 for x in watch.batches]
        print(f"    batch ms: first {b[0]:.0f}, p50 {statistics.median(b):.0f}, p99 {percentile(b, 99):.0f}, "
              f"max {max(b):.0f}, last {b[-1]:.0f}")
    if watch.plan:
        print("    plan:\n" + watch.plan)


def timed_prune(rt: Any, engine: sa.Engine, now: dt.datetime, label: str) -> None:
    """zipshort's own prune."""
    from zipshort.services import analytics

    before = wal_lsn(engine)
    with DeleteWatch(engine) as watch:
        started = time.perf_counter()
        removed = analytics.prune(rt, engine, now)
        seconds = time.perf_counter() - started - watch.explain_seconds
    after = wal_lsn(engine)
    report(label, removed, seconds, watch, after - before if after is not None and before is not None else None)


def sql_prune(engine: sa.Engine, cutoff: dt.datetime, variant: str, label: str) -> None:
    """A fix, in SQL (zipshort's code is not changed here): ``bounded`` walks the ids only up to the first visit
    not yet expired (found once per round); ``btree`` finds the expired rows by a B-tree on ``at``."""
    before = wal_lsn(engine)
    params: dict[str, Any] = {"c": cutoff}
    where, order = "at < :c", "at" if variant == "btree" else "id"
    when = sa.bindparam("c", type_=UTCDateTime())  # SQLite stores naive UTC text
    with DeleteWatch(engine) as watch:
        started = time.perf_counter()
        if variant == "bounded":
            with engine.connect() as conn:
                bound = conn.scalar(sa.text("SELECT id FROM visits WHERE at >= :c ORDER BY id LIMIT 1")
                                    .bindparams(when), params)
            if bound is not None:
                where, params["b"] = where + " AND id < :b", bound
        sql = sa.text(f"DELETE FROM visits WHERE id IN (SELECT id FROM visits WHERE {where} ORDER BY {order} "
                      f"LIMIT 10000)").bindparams(when)
        removed = 0
        while True:
            with engine.begin() as conn:
                gone = conn.execute(sql, params).rowcount
            removed += gone
            if gone < 10000:
                break
        seconds = time.perf_counter() - started - watch.explain_seconds
    report(label, removed, seconds, watch, wal_lsn(engine) - before if before is not None else None)


def sizes(conn: sa.Connection, table: str) -> None:
    heap, total = conn.execute(sa.text("SELECT pg_relation_size(:t), pg_total_relation_size(:t)"), {"t": table}).one()
    print(f"  {table}: table {mb(heap)}, with indexes {mb(total)}")
    for name, size in conn.execute(sa.text(
            "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes WHERE relname = :t "
            "ORDER BY 1"), {"t": table}):
        print(f"    {name:<28} {mb(size):>12}")


def btree_instead(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(sa.text("CREATE INDEX bench_btree_at ON visits (at)"))
        built = time.perf_counter() - started
        btree = conn.scalar(sa.text("SELECT pg_relation_size('bench_btree_at')"))
        brin = conn.scalar(sa.text("SELECT pg_relation_size('ix_visits_at')"))
        conn.execute(sa.text("DROP INDEX bench_btree_at"))
    print(f"  BRIN ix_visits_at {mb(brin)}; a B-tree on at would be {mb(btree)} ({btree / brin:,.0f}×, "
          f"built in {built:.1f} s)")


def brin_reach(engine: sa.Engine, cutoff: dt.datetime) -> str:
    """What a BRIN scan for ``at < cutoff`` reads: heap blocks (of all) and rows found, and its time."""
    with engine.connect() as conn:
        for setting in ("enable_seqscan", "enable_indexscan", "max_parallel_workers_per_gather"):
            conn.execute(sa.text(f"SET {setting} = 0"))
        plan = "\n".join(conn.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM visits "
                                               "WHERE at < :c"), {"c": cutoff}).scalars())
        pages = conn.scalar(sa.text("SELECT pg_relation_size('visits') / 8192"))
        conn.rollback()
    blocks = re.search(r"Heap Blocks: lossy=(\d+)", plan)
    found = re.search(r"Bitmap Heap Scan .*rows=(\d+)", plan)
    ms = re.search(r"Execution Time: ([\d.]+)", plan)
    return (f"{int(blocks.group(1)) if blocks else 0:,} of {pages:,} heap blocks read, "
            f"{int(found.group(1)) if found else 0:,} rows found, {float(ms.group(1)) if ms else 0:,.0f} ms")


def add_day(engine: sa.Engine) -> None:
    """A day of new visits (the visits of a month ago, moved to the day after NOW), and where the table put
    them: the space VACUUM freed at its head."""
    start = NOW - dt.timedelta(days=30)
    with engine.begin() as conn:
        cols = COLUMNS.replace("at, ", "")
        rows = conn.execute(sa.text(
            f"INSERT INTO visits (at, {cols}) SELECT at + INTERVAL '30 days', {cols} FROM visits "
            f"WHERE at >= :a AND at < :b ORDER BY id"), {"a": start, "b": start + dt.timedelta(days=1)}).rowcount
        low, high, pages = conn.execute(sa.text(
            "SELECT min((ctid::text::point)[0])::int, max((ctid::text::point)[0])::int, "
            "pg_relation_size('visits') / 8192 FROM visits WHERE at >= :n"), {"n": NOW}).one()
    print(f"  {rows:,} new visits went to heap blocks {low:,} to {high:,} of {pages:,}")


def run(url: str, instance: Path, args: argparse.Namespace) -> None:
    from zipshort.extensions import db
    from zipshort.services import accounts
    from zipshort.services import links as link_service

    overrides: dict[str, Any] = {"core": {"secret": "bench-" + "x" * 40}, "database": {"url": url},
                                 "ratelimit": {"storage_uri": "memory://"}}
    if args.retention:
        overrides["analytics"] = {"retention_days": args.retention}
    app = create_app(load_settings(overrides, environ={}, instance_path=instance))
    with app.app_context():
        apply_migrations()
        rt = app.extensions["zipshort"]
        engine = db.engine
        retention = rt.settings.analytics.retention_days
        owner = accounts.create_user(rt, "bench", "bench-password-1")
        started = time.perf_counter()
        ids = [link_service.create_link(rt, owner, link_service.NewLink(destination=f"https://example.com/{i}")).id
               for i in range(args.links)]
        db.session.commit()
        db.session.remove()
        print(f"  {args.links} links in {time.perf_counter() - started:.1f} s")
        fill(engine, ids, args.visits, args.days)
        cutoff = NOW - dt.timedelta(days=retention)
        print(f"now {NOW:%Y-%m-%d}, retention {retention} days, cutoff {cutoff:%Y-%m-%d}: "
              f"{args.visits * (args.days - retention) // args.days:,} of {args.visits:,} visits expired")
        if engine.dialect.name == "postgresql":
            postgres_rounds(rt, engine, url, ids, cutoff, args)
        else:
            print("zipshort's prune (batched DELETEs)")
            timed_prune(rt, engine, NOW, "expired rows")
            timed_prune(rt, engine, NOW, "nothing expired")
            timed_prune(rt, engine, NOW + dt.timedelta(days=1), "a day later")
            print("fixes, in SQL (zipshort's code unchanged; ix_visits_at is a B-tree on SQLite)")
            for days, variant, label in ((2, "bounded", "ids only up to the first live visit"),
                                         (3, "btree", "ORDER BY at")):
                sql_prune(engine, cutoff + dt.timedelta(days=days), variant, label + ", a day later")
                sql_prune(engine, cutoff + dt.timedelta(days=days), variant, "the same, nothing expired")
        db.session.remove()
        engine.dispose()


def postgres_rounds(rt: Any, engine: sa.Engine, url: str, ids: list[str], cutoff: dt.datetime,
                    args: argparse.Namespace) -> None:
    day = dt.timedelta(days=1)
    print("sizes")
    with engine.connect() as conn:
        sizes(conn, "visits")
    btree_instead(engine)
    parts = []
    if not args.no_partitions:
        print("monthly partitions (the alternative)")
        parts = partitioned_copy(engine, args.days)
        print("listing one link's visits, newest first (services/visitlog.page_visits)")
        listings(engine, ids, args.runs, rt.settings.analytics.retention_days)
    load = WriteLoad(url, ids[0]).start() if args.write_load else None

    def phase(name: str, table: str = "visits") -> None:
        if load:
            load.switch(table, name)

    time.sleep(3 if load else 0)
    print("zipshort's prune (batched DELETEs; BRIN on at)")
    phase("during prune")
    timed_prune(rt, engine, NOW, "expired rows")
    phase("during vacuum")
    print(f"  VACUUM visits afterwards (autovacuum's job): {vacuum(engine, 'visits', analyze=False):.1f} s")
    phase("between")
    with engine.connect() as conn:
        sizes(conn, "visits")
    phase("during idle round")
    timed_prune(rt, engine, NOW, "nothing expired, statistics from before the prune")
    phase("between")
    vacuum(engine, "visits")
    phase("during idle round")
    timed_prune(rt, engine, NOW, "nothing expired, after ANALYZE")
    phase("between")
    print(f"  BRIN for at < cutoff now: {brin_reach(engine, cutoff)}")
    add_day(engine)
    print(f"  BRIN for at < cutoff + 1 day: {brin_reach(engine, cutoff + day)}")
    phase("during day prune")
    timed_prune(rt, engine, NOW + day, "a day later")
    phase("between")
    print("fixes, in SQL (zipshort's code unchanged)")
    sql_prune(engine, cutoff + 2 * day, "bounded", "ids only up to the first live visit, a day later")
    sql_prune(engine, cutoff + 2 * day, "bounded", "the same, nothing expired")
    phase("during CREATE INDEX")  # (it blocks inserts: CREATE INDEX CONCURRENTLY would not)
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(sa.text("CREATE INDEX bench_btree_at ON visits (at)"))
    print(f"  (a B-tree on at built in {time.perf_counter() - started:.1f} s)")
    phase("between")
    vacuum(engine, "visits")
    sql_prune(engine, cutoff + 3 * day, "btree", "B-tree on at, ORDER BY at, a day later")
    sql_prune(engine, cutoff + 3 * day, "btree", "the same, nothing expired")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX bench_btree_at"))
    if parts:
        print("monthly partitions: dropping the months wholly past retention")
        drop_expired(engine, parts, cutoff, load)
    if load:
        load.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL URL; a scratch database is created there and dropped")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead (the prune and the fixes only)")
    parser.add_argument("--visits", type=int, default=None, help="raw visits (default 10,000,000; SQLite 1,000,000)")
    parser.add_argument("--days", type=int, default=120, help="the visits span this many days up to now")
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--retention", type=int, default=None, help="analytics.retention_days (default zipshort's)")
    parser.add_argument("--runs", type=int, default=50, help="runs per listing query")
    parser.add_argument("--no-partitions", action="store_true", help="skip the partitioned copy")
    parser.add_argument("--write-load", action="store_true", help="time small INSERTs during prune and drop")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="zipshort-bench-prune-"))
    if args.sqlite:
        args.visits = args.visits or 1_000_000
        print(f"SQLite ({instance})")
        try:
            run("", instance, args)
        finally:
            shutil.rmtree(instance, ignore_errors=True)
        return
    args.visits = args.visits or 10_000_000
    admin_url = sa.make_url(args.postgres).set(drivername="postgresql+psycopg")
    scratch = f"zipshort_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
        print(f"PostgreSQL {conn.scalar(sa.text('SHOW server_version'))} ({scratch}), shared_buffers "
              f"{conn.scalar(sa.text('SHOW shared_buffers'))}, autovacuum {conn.scalar(sa.text('SHOW autovacuum'))}")
    try:
        run(admin_url.set(database=scratch).render_as_string(hide_password=False), instance, args)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
