"""Analytics writer benchmark: how many visits per second the background writer stores, on SQLite and PostgreSQL.

    .venv/bin/python bench/visit_writer.py [--visits 40000] [--agents 300] [--addresses 5000]
    .venv/bin/python bench/visit_writer.py --postgres postgresql://postgres@127.0.0.1:5432/test

Builds an app on a fresh database (SQLite in a temporary instance; with --postgres a new database on that
server, dropped afterwards), 20 links, and visits spread over them with a mix of real user agents (each
repeated many times, as in real traffic), addresses and referrers; then times the writer's own code
(``analytics.write_batch`` in batches of ``analytics.batch_size``): agent parsing, places, keys, the raw
INSERT and the rollup upserts. Prints visits/s with cold caches (every agent and address new) and warm ones, and
the CPU time the writer's thread spent per visit: the writer runs in the server's process, so that time is taken
from the request threads (less SQLite's own work, which runs without the GIL), and it moves less than the wall
time when other programs load the machine.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENT_TEMPLATES = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {v}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (compatible; Googlebot/2.{v}; +http://www.google.com/bot.html)",
    "curl/8.{v}.0",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visits", type=int, default=40_000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--addresses", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=0, help="visits per transaction (default: analytics.batch_size)")
    parser.add_argument("--links", type=int, default=20,
                        help="links the visits spread over (many: most rollup rows of a batch are new)")
    parser.add_argument("--postgres", default="", help="a PostgreSQL server URL (a scratch database is made there)")
    args = parser.parse_args()

    scratch = None
    if args.postgres:
        admin = sa.make_url(args.postgres).set(drivername="postgresql+psycopg")
        scratch = f"zipshort_bench_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
        engine.dispose()
        database_url = str(admin.set(database=scratch).render_as_string(hide_password=False))
    else:
        database_url = ""
    try:
        run(args, database_url)
    finally:
        if scratch:
            engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            engine.dispose()


def run(args: argparse.Namespace, database_url: str) -> None:
    instance = Path(tempfile.mkdtemp(prefix="zipshort-bench-"))
    try:
        measure(args, database_url, instance)
    finally:
        shutil.rmtree(instance, ignore_errors=True)  # the SQLite database of every run: 100+ MB each


def measure(args: argparse.Namespace, database_url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    from zipshort import create_app
    from zipshort.config import load_settings
    from zipshort.events import LinkVisited, Visitor
    from zipshort.extensions import db
    from zipshort.models import Role
    from zipshort.services import accounts, analytics, links

    overrides = {"core": {"secret": "bench-" + "x" * 40}, "security": {"argon2_memory_cost": 8, "argon2_time_cost": 1,
                                                                        "argon2_parallelism": 1}}
    if database_url:
        overrides["database"] = {"url": database_url}
    if args.batch:
        overrides["analytics"] = {"batch_size": args.batch}
    settings = load_settings(overrides, environ={}, instance_path=instance)
    app = create_app(settings)
    rng = random.Random(7)
    with app.app_context():
        upgrade(directory=str(ROOT / "zipshort" / "migrations"))
        rt = app.extensions["zipshort"]
        owner = accounts.create_user(rt, "bench", "bench-password", Role.USER)
        ids = [links.create_link(rt, owner, links.NewLink(destination=f"https://example.com/{i}")).id
               for i in range(args.links)]
        agents = [rng.choice(AGENT_TEMPLATES).format(v=rng.randint(1, 130)) + f" n{i}" for i in range(args.agents)]
        addresses = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                     for _ in range(args.addresses)]
        referrers = ["", "", "https://www.google.com/", "https://t.co/abc", "https://news.ycombinator.com/item?id=1"]

        def visits(n: int) -> list[LinkVisited]:
            return [LinkVisited(link_id=rng.choice(ids), code="x", destination="https://example.com/",
                                visitor=Visitor(address=rng.choice(addresses), user_agent=rng.choice(agents),
                                                referrer=rng.choice(referrers), accept_language="en-US,en;q=0.9",
                                                url="https://s.example/go/x"))
                    for _ in range(n)]

        batch = settings.analytics.batch_size
        backend = "PostgreSQL" if database_url else "SQLite"
        print(f"visit writer: {args.visits} visits in batches of {batch}, {args.agents} agents, "
              f"{args.addresses} addresses, {args.links} links, database={backend}")
        for label in ("cold caches", "warm caches"):
            planned = visits(args.visits)
            started, cpu = time.perf_counter(), time.thread_time()
            for start in range(0, len(planned), batch):
                analytics.write_batch(rt, db.engine, planned[start:start + batch])
            elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
            print(f"  {label:<12} {args.visits / elapsed:>9,.0f} visits/s  ({elapsed * 1e6 / args.visits:.0f} µs each, "
                  f"{cpu * 1e6 / args.visits:.0f} µs of CPU in the writer's thread)")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
