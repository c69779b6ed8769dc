"""Visit stats read benchmark: rollups equivalent to 10 million visits of a year over many links, the raw visits
of the last 90 days, then the stats service's answers, p50/p99:

- one link, a year, interval day; interval month; interval week in Europe/Berlin;
- all the user's links, a year, interval month;
- the whole server, the last 30 days, interval day (orphan visits included);
- one link's raw visits, page 1.

    .venv/bin/python bench/stats_query.py                  # SQLite (fresh temporary instance)
    .venv/bin/python bench/stats_query.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/stats_query.py --keep           # keep the filled database; prints how to --reuse it

Every link has both rollup rows (people, bots) for every hour of the year (3 + 1 visits an hour on average, so
``--visits`` decides how many links there are: 10 million visits are 285 links) and, every day, ``--values``
values per dimension for people and a quarter as many for bots; three orphan kinds get the same. The rows are
written in time order, links interleaved, as the analytics writer leaves them, with INSERT … SELECT over
generated series (no Python loops). With --postgres a scratch database is created on that server and dropped
afterwards (unless --keep). The measured calls are the service functions the API calls (services/visitstats.py,
services/visitlog.py), in-process, so the numbers are the query and shaping time without HTTP.
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

DIMENSIONS = ("referrer", "country", "browser", "os", "device", "language")  # + destination (links) or url (orphans)
ORPHANS = ("base_url", "invalid_short_url", "regular_404")
END = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
START = END - dt.timedelta(days=365)
HOURS = 365 * 24
VISITS_PER_HOUR = 4  # people 1..5 (3 on average), bots 1
OWNER = "bench"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def series(conn: sa.Connection, n: int) -> str:
    """A FROM item yielding integers i = 0..n-1."""
    if conn.dialect.name == "postgresql":
        return f"generate_series(0, {n - 1}) AS s(i)"
    return f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) SELECT i FROM s) AS s"


def time_ordered(conn: sa.Connection, n: int) -> tuple[str, str]:
    """FROM and ORDER BY for the series (outer) crossed with the targets (inner): rows in time order."""
    if conn.dialect.name == "postgresql":
        return f"{series(conn, n)} CROSS JOIN bench_targets t", "ORDER BY s.i, t.n"
    return f"{series(conn, n)} CROSS JOIN bench_targets t", ""  # SQLite nests a CROSS JOIN in the written order


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


def fill(engine: sa.Engine, link_ids: list[str], user_id: str, raw: int, values: int) -> None:
    """The rollups (see the module's docstring) and ``raw`` visits spread over the links and the last 90 days."""
    pg = engine.dialect.name == "postgresql"
    true, false = ("true", "false") if pg else ("1", "0")
    with engine.begin() as conn:
        if pg:  # no foreign-key triggers per generated row (the ids are right by construction); needs a superuser
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("CREATE TEMPORARY TABLE bench_targets (n INTEGER, id VARCHAR(48), kind VARCHAR(8), "
                             "link_id VARCHAR(48), user_id VARCHAR(48), last VARCHAR(16))"))
        conn.execute(sa.text("INSERT INTO bench_targets VALUES (:n, :id, :kind, :link, :user, :last)"),
                     [{"n": n, "id": i, "kind": "link", "link": i, "user": user_id, "last": "destination"}
                      for n, i in enumerate(link_ids)]
                     + [{"n": len(link_ids) + n, "id": f"orphan:{o}", "kind": "orphan", "link": None, "user": None,
                         "last": "url"} for n, o in enumerate(ORPHANS)])
        targets = len(link_ids) + len(ORPHANS)
        started = time.perf_counter()
        source, order = time_ordered(conn, HOURS * 2)
        conn.execute(sa.text(
            f"INSERT INTO visit_hours (target, kind, link_id, user_id, hour, bot, count, visitors) "
            f"SELECT t.id, t.kind, t.link_id, t.user_id, {plus_hours(conn, 's.i / 2')}, s.i % 2 = 1, "
            f"CASE WHEN s.i % 2 = 1 THEN 1 ELSE 1 + (s.i * 7 + t.n) % 5 END, "
            f"CASE WHEN s.i % 2 = 1 THEN 1 ELSE (2 + (s.i * 7 + t.n) % 5) / 2 END "
            f"FROM {source} {order}"))
        print(f"  visit_hours: {HOURS * 2 * targets:,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        bots = max(values // 4, 1)
        per_dimension = values + bots  # people's values, then the bots'
        per_day = (len(DIMENSIONS) + 1) * per_dimension
        source, order = time_ordered(conn, 365 * per_day)
        slot = f"s.i % {per_dimension}"
        conn.execute(sa.text(
            f"INSERT INTO visit_days (target, kind, link_id, user_id, day, bot, dimension, value, count) "
            f"SELECT t.id, t.kind, t.link_id, t.user_id, {plus_days(conn, f's.i / {per_day}')}, {slot} >= {values}, "
            f"CASE (s.i / {per_dimension}) % {len(DIMENSIONS) + 1}"
            + "".join(f" WHEN {k} THEN '{d}'" for k, d in enumerate(DIMENSIONS)) + " ELSE t.last END, "
            f"'value-' || ({slot} % {values}), CASE WHEN {slot} >= {values} THEN 1 ELSE 1 + s.i % 6 END "
            f"FROM {source} {order}"))
        print(f"  visit_days: {365 * per_day * targets:,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        conn.execute(sa.text(
            f"INSERT INTO visits (at, kind, link_id, url, host, referrer, referrer_host, user_agent, browser, "
            f"browser_version, os, device, bot, language, country, destination, counted_only) "
            f"SELECT {plus_seconds(conn, f'CAST({raw} - 1 - s.i AS BIGINT) * {90 * 86400} / {max(raw, 1)}')}, 'link', "
            f"t.id, 'https://s.example/x', 's.example', 'https://ref.example/', 'ref.example', 'Mozilla/5.0', "
            f"'Chrome', '120', 'Windows', 'desktop', CASE WHEN s.i % 10 = 0 THEN {true} ELSE {false} END, 'en-gb', "
            f"'DE', 'https://example.com/', {false} "
            f"FROM {series(conn, raw)} JOIN bench_targets t ON t.n = s.i % {len(link_ids)}"
            + (" ORDER BY s.i" if pg else "")))
        print(f"  visits: {raw:,} rows in {time.perf_counter() - started:.1f} s")
        represented = conn.scalar(sa.text("SELECT SUM(count) FROM visit_hours"))
        print(f"  visits the rollups represent: {represented:,}")
    if pg:  # what autovacuum soon does to tables this size (index-only scans need the visibility map); zipshort
        # never runs ANALYZE on SQLite, so the SQLite database is left without statistics, as a real one is
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))


def measure(label: str, fn, runs: int) -> None:
    fn()  # warm caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"  {label:<46} p50 {statistics.median(samples):8.1f} ms   p99 {percentile(samples, 99):8.1f} ms"
          f"   ({runs} runs)", flush=True)


def prepare(rt, visits: int, raw: int | None, values: int):
    """The owner and their link ids: made and filled, or found in a reused database."""
    from zipshort.extensions import db
    from zipshort.models import Link, User
    from zipshort.services import accounts
    from zipshort.services import links as link_service

    owner = db.session.scalar(sa.select(User).where(User.username == OWNER))
    if owner is not None:
        ids = list(db.session.scalars(sa.select(Link.id).where(Link.user_id == owner.id).order_by(Link.id)))
        print(f"  reusing {len(ids)} links and their rollups")
        return owner, ids
    owner = accounts.create_user(rt, OWNER, "bench-password-1")
    links = max(1, round(visits / (HOURS * VISITS_PER_HOUR)))
    ids = [link_service.create_link(rt, owner, link_service.NewLink(destination=f"https://example.com/{i}")).id
           for i in range(links)]
    db.session.commit()
    print(f"  {links} links")
    fill(db.engine, ids, owner.id, raw if raw is not None else visits * 90 // 365, values)
    return owner, ids


def run(url: str, instance: Path, args: argparse.Namespace) -> None:
    from zipshort.extensions import db
    from zipshort.services import visitlog, visitstats

    settings = load_settings({"core": {"secret": "bench-" + "x" * 40}, "database": {"url": url},
                              "ratelimit": {"storage_uri": "memory://"}}, environ={}, instance_path=instance)
    app = create_app(settings)
    with app.app_context():
        started = time.perf_counter()
        before, after = apply_migrations()
        if before != after:
            print(f"  migrations {before} → {after} in {time.perf_counter() - started:.1f} s")
        owner, ids = prepare(app.extensions["zipshort"], args.visits, args.raw, args.values)
        year = {"start": START.isoformat(), "end": (END - dt.timedelta(seconds=1)).isoformat()}
        month = {"start": (END - dt.timedelta(days=30)).isoformat(), "end": (END - dt.timedelta(seconds=1)).isoformat()}
        few = max(args.runs // 5, 5)
        cases = [
            ("one link, 1 year, interval day", visitstats.parse_query(interval="day", **year),
             lambda q: visitstats.link_stats(owner, ids[0], q), args.runs),
            ("one link, 1 year, interval month", visitstats.parse_query(interval="month", **year),
             lambda q: visitstats.link_stats(owner, ids[0], q), args.runs),
            ("one link, 1 year, interval week, Europe/Berlin",
             visitstats.parse_query(interval="week", tz="Europe/Berlin", **year),
             lambda q: visitstats.link_stats(owner, ids[0], q), args.runs),
            (f"all {len(ids)} links of the user, 1 year, month", visitstats.parse_query(interval="month", **year),
             lambda q: visitstats.user_stats(owner, q), few),
            ("the server, 30 days, interval day", visitstats.parse_query(interval="day", **month),
             visitstats.server_stats, few),
        ]
        for label, query, call, runs in cases:
            if args.only and not any(word in label for word in args.only):
                continue
            measure(label, lambda call=call, query=query: call(query), runs)
            db.session.rollback()
        which = visitlog.target_filter(owner, "link", ids[0], visitlog.VisitFilter())
        measure("raw visits of one link, page 1 of 100", lambda: visitlog.page_visits(which, 1, 100), args.runs)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a scratch database is created there and dropped")
    parser.add_argument("--visits", type=int, default=10_000_000, help="visits the rollups represent (10,000,000)")
    parser.add_argument("--raw", type=int, default=None, help="raw visits (default: the last 90 days' share)")
    parser.add_argument("--values", type=int, default=20, help="people's values per dimension per day (20)")
    parser.add_argument("--runs", type=int, default=50, help="runs per one-link measurement (a fifth for the rest)")
    parser.add_argument("--keep", action="store_true", help="keep the filled database and say how to reuse it")
    parser.add_argument("--reuse", help="a kept database (made and filled when missing): the SQLite instance folder or "
                        "the PostgreSQL database name")
    parser.add_argument("--only", nargs="*", help="measure only the cases whose label holds one of these words")
    args = parser.parse_args()
    if not args.postgres:
        instance = Path(args.reuse or tempfile.mkdtemp(prefix="zipshort-bench-stats-"))
        print(f"SQLite ({instance})")
        run("", instance, args)
        if args.keep:
            print(f"  kept: --reuse {instance}")
        return
    admin_url = sa.make_url(args.postgres).set(drivername="postgresql+psycopg")
    scratch = args.reuse or f"zipshort_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": scratch}):
            conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    try:
        print(f"PostgreSQL ({scratch})")
        run(admin_url.set(database=scratch).render_as_string(hide_password=False),
            Path(tempfile.mkdtemp(prefix="zipshort-bench-stats-")), args)
    finally:
        if args.keep or args.reuse:
            print(f"  kept: --reuse {scratch}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
