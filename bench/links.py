"""Link API benchmarks: hoko bulk create (10,000 links in one request) and hozip listing/filtering
over one user's 1,000,000 links (p50/p99 of sequential requests).

    .venv/bin/python bench/links.py                       # SQLite in a temporary instance
    .venv/bin/python bench/links.py --postgres postgresql://postgres@127.0.0.1:5432/test

The million rows are written straight into the database (bulk INSERTs, same columns the service
writes) so the set-up takes seconds; every measured request goes through the real server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests
import sqlalchemy as sa
from _common import start_zipshort, stop


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(session: requests.Session, method: str, url: str, n: int, **kwargs) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.request(method, url, **kwargs)
        samples.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return statistics.median(samples), percentile(samples, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="admin URL; a scratch database is created and dropped")
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--bulk-runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="requests per listing measurement")
    args = parser.parse_args()

    env, scratch, admin_engine = {}, None, None
    if args.postgres:
        scratch = f"zipshort_bench_{uuid.uuid4().hex[:8]}"
        admin_engine = sa.create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://"),
                                        isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
        env["DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + "/" + scratch
    proc, url, token, instance = start_zipshort(4, env)
    try:
        s = requests.Session()
        s.headers["Authorization"] = token
        folder = s.post(url + "/api/user/folders", json={"name": "bench"}).json()["id"]
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"link benchmarks, database={backend}, waitress threads=4")
        durations = []
        for run in range(args.bulk_runs):
            items = [{"url": f"https://bulk.example/{run}/{i}", "collectionId": folder, "externalId": f"r{run}-{i}",
                      "title": f"Item {i}", "utm": {"source": "bench"}} for i in range(10_000)]
            start = time.perf_counter()
            res = s.post(url + "/api/links", json=items, headers={"Authorization": f"Bearer {token}"})
            durations.append(time.perf_counter() - start)
            assert res.status_code == 201 and len(res.json()) == 10_000, res.text[:200]
        print(f"hoko bulk create, 10,000 links per request: median {statistics.median(durations):.2f} s "
              f"(runs: {', '.join(f'{d:.2f}' for d in durations)})")

        user_id = s.get(url + "/api/user").json()["user"]["id"]
        db_url = env.get("DATABASE_URL", "").replace("postgresql://", "postgresql+psycopg://") or \
            f"sqlite:///{instance}/zipshort.db"
        engine = sa.create_engine(db_url)
        links = sa.Table("links", sa.MetaData(), autoload_with=engine)
        base = datetime(2025, 1, 1, tzinfo=timezone.utc)
        start = time.perf_counter()
        with engine.begin() as conn:
            for chunk in range(0, args.links, 50_000):
                rows = []
                for i in range(chunk, min(chunk + 50_000, args.links)):
                    code = f"m{i:07d}"
                    when = base + timedelta(seconds=i)
                    rows.append({"id": str(uuid.uuid4()), "user_id": user_id, "domain": "", "slug": code,
                                 "slug_key": code, "code": code, "destination": f"https://site{i % 100}.example/p/{i}",
                                 "destination_type": "link", "views": 0, "enabled": True, "cloaking": False,
                                 "deep_linking": False, "smart": False, "folder_id": folder,
                                 "created_at": when if args.postgres else when.replace(tzinfo=None),
                                 "updated_at": when if args.postgres else when.replace(tzinfo=None)})
                conn.execute(links.insert(), rows)
            users = sa.Table("users", sa.MetaData(), autoload_with=engine)  # what the service keeps per create
            conn.execute(users.update().where(users.c.id == user_id).values(url_count=users.c.url_count + args.links))
        if args.postgres:  # what autovacuum does within a minute of a load this size; plans need the statistics
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE links"))
        engine.dispose()
        print(f"set-up: {args.links:,} more links written directly in {time.perf_counter() - start:.1f} s")
        api = url + "/api/v1/external/links"
        h = {"Authorization": f"Token {token}"}
        cases = [
            ("first page (limit 20)", {}),
            ("page 100 (offset 2000)", {"offset": 2000}),
            ("limit 100", {"limit": 100}),
            ("exact long_url", {"long_url": "https://site7.example/p/500007"}),
            ("startswith (1% of links)", {"long_url": "https://site42.example/", "match": "startswith"}),
            ("startswith, one match", {"long_url": "https://site3.example/p/999903", "match": "startswith"}),
        ]
        print(f"hozip GET /api/v1/external/links over {args.links + 10_000 * args.bulk_runs:,} links of one user "
              f"({args.requests} sequential requests each):")
        for label, params in cases:
            p50, p99 = timed(s, "GET", api, args.requests, params=params, headers=h)
            total = s.get(api, params=params, headers=h).json()["total"]
            print(f"  {label:<28} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   total={total:,}")
    finally:
        stop(proc, instance)
        if admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin_engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
