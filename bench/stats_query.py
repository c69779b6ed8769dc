"""Visit stats read benchmark: a year of rollups for one link among many, millions of raw visits, then the
stats service's answers for that link over one year (interval day and month), p50/p99 over 50 runs.

    .venv/bin/python bench/stats_query.py                  # SQLite (fresh temporary instance)
    .venv/bin/python bench/stats_query.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

With --postgres a scratch database is created on that server and dropped afterwards. The rows are written
with INSERT … SELECT over generated series (no Python loops), in the columns the analytics writer fills;
the measured calls are the service functions the API calls (services/visitstats.py, services/visitlog.py),
in-process, so the numbers are the query and shaping time without HTTP.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zipshort import create_app  # noqa: E402
from zipshort.cli import apply_migrations  # noqa: E402
from zipshort.config import load_settings  # noqa: E402

DIMENSIONS = ("referrer", "country", "browser", "os", "device", "language", "destination")
END = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
START = END - dt.timedelta(days=365)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def series(conn: sa.Connection, n: int) -> str:
    """A FROM clause yielding integers i = 0..n-1."""
    if conn.dialect.name == "postgresql":
        return f"generate_series(0, {n - 1}) AS s(i)"
    return f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) SELECT i FROM s) AS s"


def plus_hours(conn: sa.Connection, expr: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(TIMESTAMPTZ '{START.isoformat()}' + ({expr}) * INTERVAL '1 hour')"
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', '{START:%Y-%m-%d %H:%M:%S}', '+' || ({expr}) || ' hours')"


def plus_days(conn: sa.Connection, expr: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(DATE '{START.date()}' + ({expr}))"
    return f"date('{START.date()}', '+' || ({expr}) || ' days')"


def plus_seconds(conn: sa.Connection, expr: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(TIMESTAMPTZ '{END.isoformat()}' - ({expr}) * INTERVAL '1 second')"
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', '{END:%Y-%m-%d %H:%M:%S}', '-' || ({expr}) || ' seconds')"


def fill(engine: sa.Engine, link_ids: list[str], user_id: str, raw: int, value_count: int) -> None:
    """Rollups: every hour of the year for every link (bots and people), every day × dimension × value_count
    values; raw visits spread over the links and the last 90 days."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMPORARY TABLE bench_links (n INTEGER, id VARCHAR(48))"))
        conn.execute(sa.text("INSERT INTO bench_links VALUES (:n, :id)"),
                     [{"n": n, "id": i} for n, i in enumerate(link_ids)])
        hours = 365 * 24
        started = time.perf_counter()
        conn.execute(sa.text(
            f"INSERT INTO visit_hours (target, kind, link_id, user_id, hour, bot, count, visitors) "
            f"SELECT l.id, 'link', l.id, :user, {plus_hours(conn, 's.i / 2')}, s.i % 2 = 1, "
            f"1 + (s.i * 7 + l.n) % 13, 1 + (s.i * 7 + l.n) % 5 "
            f"FROM bench_links l CROSS JOIN {series(conn, hours * 2)}"), {"user": user_id})
        print(f"  visit_hours: {hours * 2 * len(link_ids):,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        per_day = 2 * len(DIMENSIONS) * value_count
        conn.execute(sa.text(
            f"INSERT INTO visit_days (target, kind, link_id, user_id, day, bot, dimension, value, count) "
            f"SELECT l.id, 'link', l.id, :user, {plus_days(conn, f's.i / {per_day}')}, "
            f"(s.i / {len(DIMENSIONS) * value_count}) % 2 = 1, "
            + "CASE (s.i / " + str(value_count) + ") % " + str(len(DIMENSIONS))
            + "".join(f" WHEN {k} THEN '{d}'" for k, d in enumerate(DIMENSIONS)) + " END, "
            f"'value-' || (s.i % {value_count}), 1 + s.i % 17 "
            f"FROM bench_links l CROSS JOIN {series(conn, 365 * per_day)}"), {"user": user_id})
        print(f"  visit_days: {365 * per_day * len(link_ids):,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        true = "true" if pg else "1"
        false = "false" if pg else "0"
        conn.execute(sa.text(
            f"INSERT INTO visits (at, kind, link_id, url, host, referrer, referrer_host, user_agent, browser, "
            f"browser_version, os, device, bot, language, country, destination, counted_only) "
            f"SELECT {plus_seconds(conn, f's.i * {90 * 86400 // max(raw, 1)} % {90 * 86400}')}, 'link', l.id, "
            f"'https://s.example/x', 's.example', 'https://ref.example/', 'ref.example', 'Mozilla/5.0', 'Chrome', "
            f"'120', 'Windows', 'desktop', CASE WHEN s.i % 10 = 0 THEN {true} ELSE {false} END, 'en-gb', 'DE', "
            f"'https://example.com/', {false} "
            f"FROM {series(conn, raw)} JOIN bench_links l ON l.n = s.i % {len(link_ids)}"))
        print(f"  visits: {raw:,} rows in {time.perf_counter() - started:.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))


def measure(label: str, fn, runs: int) -> None:
    fn()  # warm caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"  {label:<44} p50 {statistics.median(samples):7.1f} ms   p99 {percentile(samples, 99):7.1f} ms")


def run(url: str, instance: Path, links: int, raw: int, values: int, runs: int) -> None:
    from zipshort.extensions import db
    from zipshort.services import accounts, visitlog, visitstats
    from zipshort.services import links as link_service

    settings = load_settings({"core": {"secret": "bench-" + "x" * 40}, "database": {"url": url},
                              "ratelimit": {"storage_uri": "memory://"}}, environ={}, instance_path=instance)
    app = create_app(settings)
    with app.app_context():
        apply_migrations()
        rt = app.extensions["zipshort"]
        owner = accounts.create_user(rt, "bench", "bench-password-1")
        started = time.perf_counter()
        ids = [link_service.create_link(rt, owner, link_service.NewLink(destination=f"https://example.com/{i}")).id
               for i in range(links)]
        print(f"  {links} links in {time.perf_counter() - started:.1f} s")
        db.session.commit()
        fill(db.engine, ids, owner.id, raw, values)
        year = {"start": START.isoformat(), "end": (END - dt.timedelta(seconds=1)).isoformat()}
        for interval in ("day", "month"):
            q = visitstats.parse_query(interval=interval, **year)
            measure(f"one link, 1 year, interval {interval}", lambda q=q: visitstats.link_stats(owner, ids[0], q), runs)
            db.session.rollback()
        q = visitstats.parse_query(interval="week", tz="Europe/Berlin", **year)
        measure("one link, 1 year, week, Europe/Berlin", lambda: visitstats.link_stats(owner, ids[0], q), runs)
        q = visitstats.parse_query(interval="day", start=(END - dt.timedelta(days=30)).isoformat(),
                                   end=END.isoformat())
        measure(f"all {links} links of the user, 30 days", lambda: visitstats.user_stats(owner, q), max(runs // 5, 5))
        which = visitlog.target_filter(owner, "link", ids[0], visitlog.VisitFilter())
        measure("raw visits of one link, page 1 of 100", lambda: visitlog.page_visits(which, 1, 100), runs)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a scratch database is created there and dropped")
    parser.add_argument("--links", type=int, default=None, help="links (default: 200 PostgreSQL, 50 SQLite)")
    parser.add_argument("--raw", type=int, default=None, help="raw visits (default: 10,000,000 PostgreSQL, 1,000,000 "
                                                              "SQLite)")
    parser.add_argument("--values", type=int, default=20, help="values per dimension per day")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="zipshort-bench-stats-"))
    if not args.postgres:
        print("SQLite")
        run("", instance, args.links or 50, args.raw if args.raw is not None else 1_000_000, args.values, args.runs)
        return
    admin_url = sa.make_url(args.postgres).set(drivername="postgresql+psycopg")
    scratch = f"zipshort_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    try:
        print(f"PostgreSQL ({scratch})")
        run(admin_url.set(database=scratch).render_as_string(hide_password=False), instance, args.links or 200,
            args.raw if args.raw is not None else 10_000_000, args.values, args.runs)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
