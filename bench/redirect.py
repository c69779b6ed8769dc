"""Redirect benchmark: zipshort's GET /go/<code> against a bare-Flask redirect, same server, same run.

    .venv/bin/python bench/redirect.py [--duration 10] [--connections 32] [--threads N] [--runs 3] [--observe]
    .venv/bin/python bench/redirect.py --workers 2 --smart --codes 100000   # the production mode (granian)

Starts a bare Flask app and two zipshort servers, visit analytics off and on (fresh SQLite instances, or
one DATABASE_URL), creates on each a plain link and a link with max views (10^9, so it never runs out),
then alternates wrk runs (-t1) over the five targets and prints the median requests/s, p50 and p99 of
the runs, zipshort as a share of bare Flask, and the CPU time per request of the serving process and of its
children (the visit writer process), the writer's last batch of each run included: unlike requests/s, these
move little when other programs share the cores. Between runs it waits until every server is idle, so the
analytics writer's last batch (up to ``analytics.flush_seconds`` of visits) is not charged to the next target.
``--observe`` adds, beside the analytics-on server, one with metrics on and one with metrics and the access log on
(issue 14: the redirect pays nothing measurable for metrics), and prints what their GET /metrics counted.
At the end it stops the analytics server (which stores what is queued) and compares the views it counted
with the visits it stored. Uses a Python load driver when wrk is not installed. ``--workers N`` serves both zipshort
(``zipshort serve --workers N``) and bare Flask with granian's N worker processes; CPU is then the workers'
(and granian's main process), the children being their visit writers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from urllib.parse import urlsplit

import requests
from _common import (
    BIN,
    ROOT,
    free_port,
    load,
    median_of,
    start_zipshort,
    stop,
    tree_cpu,
    wait_healthy,
    wait_idle,
)

METRICS_TOKEN = "bench-metrics-token-" + "m" * 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None,
                        help="zipshort's server.threads, and bare Flask's waitress threads (default: 4 under waitress; "
                             "under granian the server's default of 8, which also sizes each worker's database pool: "
                             "database.pool_size + server.threads connections)")
    parser.add_argument("--workers", type=int, default=0,
                        help="0: waitress (zipshort serve); N: the production mode, granian with N worker processes, "
                             "for zipshort and bare Flask alike")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codes", type=int, default=0,
                        help="also N distinct random codes per server, each request one at random (cache misses)")
    parser.add_argument("--smart", action="store_true",
                        help="also a smart link (a redirect rule, UTM, a preview title) and the password pages "
                             "of a link and a file (GET)")
    parser.add_argument("--thread-writer", action="store_true",
                        help='also a server with analytics.writer = "thread" (the writer in the server process)')
    parser.add_argument("--observe", action="store_true",
                        help="also servers with metrics on (GET /metrics) and with metrics and the access log on, "
                             "beside the same server without them")
    args = parser.parse_args()
    if args.threads is None:
        args.threads = 8 if args.workers else 4

    database = os.environ.get("DATABASE_URL", "")
    env_extra = {"DATABASE_URL": database} if database else {}
    bare_port = free_port()
    bare = subprocess.Popen([str(BIN / "python"), str(ROOT / "bench" / "bare_flask.py"), "--port", str(bare_port),
                             "--threads", str(_bare_threads(args)), "--codes", str(args.codes),
                             "--workers", str(args.workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare_url = f"http://127.0.0.1:{bare_port}"
    # Two zipshort servers, visit analytics on and off (on PostgreSQL they share the database, with their own links)
    modes = {"off": {"ZIPSHORT_ANALYTICS_ENABLED": "false"}, "on": {"ZIPSHORT_ANALYTICS_ENABLED": "true"}}
    if args.thread_writer:
        modes["on-thread"] = {"ZIPSHORT_ANALYTICS_ENABLED": "true", "ZIPSHORT_ANALYTICS_WRITER": "thread"}
    if args.observe:  # the access log goes where the servers' stderr goes (/dev/null): formatted and written
        metrics = {"ZIPSHORT_ANALYTICS_ENABLED": "true", "ZIPSHORT_METRICS_ENABLED": "true",
                   "ZIPSHORT_METRICS_TOKEN": METRICS_TOKEN}
        modes["on-metrics"] = metrics
        modes["on-observed"] = {**metrics, "ZIPSHORT_LOGGING_ACCESS": "true"}
    servers = {mode: start_zipshort(args.threads, {**env_extra, **flags}, args.workers)
               for mode, flags in modes.items()}
    try:
        wait_healthy(bare_url, "/go/plain")
        kinds = [("plain", "plain link"), ("limited", "link with max views")]
        if args.smart:
            kinds += [("smart", "smart link (rules, UTM)"), ("locked", "password page (GET)")]
        locked_files: dict[str, str] = {}
        for mode, (_, url, token, _) in servers.items():
            for kind, extra in (("plain", {}), ("limited", {"x-zipline-max-views": "1000000000"}),
                                ("locked", {"x-zipline-password": "bench-secret"})):
                if kind == "locked" and not args.smart:
                    continue
                requests.post(url + "/api/user/urls", headers={"Authorization": token, **extra},
                              json={"destination": f"https://example.com/{kind}", "vanity": f"{kind}-{mode}"}
                              ).raise_for_status()
            if args.smart:  # a file with a password: its page (GET /u/<name>)
                res = requests.post(url + "/api/upload", headers={"Authorization": token,
                                                                  "x-zipline-password": "bench-secret"},
                                    files={"file": ("locked.txt", b"locked", "text/plain")})
                res.raise_for_status()
                locked_files[mode] = urlsplit(res.json()["files"][0]["url"]).path
            if args.smart:  # a link with a rule (Android visitors elsewhere) and UTM tags, through Shlink's API
                requests.post(url + "/rest/v3/short-urls", headers={"X-Api-Key": token},
                              json={"longUrl": "https://example.com/smart?utm_source=bench", "customSlug":
                                    f"smart-{mode}", "title": "A card for link previews"}).raise_for_status()
                requests.post(url + f"/rest/v3/short-urls/smart-{mode}/redirect-rules", headers={"X-Api-Key": token},
                              json={"redirectRules": [{"longUrl": "https://example.com/android", "conditions": [
                                  {"type": "device", "matchKey": None, "matchValue": "android"}]}]}
                              ).raise_for_status()
        targets = {"bare Flask (dict lookup)": (bare_url + "/go/plain", bare.pid)}
        paths: dict[str, list[str]] = {}
        if args.codes:
            paths["bare"] = [f"/go/c{i}" for i in range(args.codes)]  # bare_flask.py answers /go/c<n> for any n
            targets[f"bare Flask, {args.codes:,} codes"] = (bare_url, bare.pid)
            for mode, (_, url, token, _) in servers.items():
                paths[mode] = _many_links(url, token, args.codes)
                targets[f"zipshort {args.codes:,} codes, analytics {mode}"] = (url, servers[mode][0].pid)
        for kind, label in kinds:
            for mode in servers:
                targets[f"zipshort {label}, analytics {mode}"] = (f"{servers[mode][1]}/go/{kind}-{mode}",
                                                                  servers[mode][0].pid)
        for mode, path in locked_files.items():
            targets[f"zipshort file password page (GET), analytics {mode}"] = (servers[mode][1] + path,
                                                                              servers[mode][0].pid)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        everyone = [bare.pid] + [server[0].pid for server in servers.values()]
        for _ in range(args.runs):
            for name, (target, pid) in targets.items():
                own, kids = tree_cpu(pid, args.workers)
                key = "bare" if name.startswith("bare Flask, ") else name.rsplit(" ", 1)[-1]
                result = load(target, args.duration, args.connections, paths.get(key) if "codes" in name else None)
                wait_idle(everyone)  # the writer's last batch of this run is part of its cost
                served = max(1.0, result["rps"] * args.duration)
                after_own, after_kids = tree_cpu(pid, args.workers)
                result["server_us"] = (after_own - own) / served * 1e6
                result["writer_us"] = (after_kids - kids) / served * 1e6
                results[name].append(result)
        backend = "PostgreSQL" if database else "SQLite"
        front = (f"granian, {args.workers} workers, {_bare_threads(args)} threads each" if args.workers
                 else f"waitress threads={args.threads}")
        print(f"redirect benchmark: {args.runs} runs x {args.duration}s, {args.connections} connections, "
              f"{front}, database={backend}")
        print(f"{'target':<58} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8} "
              f"{'server µs':>10} {'child µs':>9}")
        base = median_of(results["bare Flask (dict lookup)"])["rps"]
        for name, runs in results.items():
            m = median_of(runs)
            print(f"{name:<58} {m['rps']:>9.0f} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {m['errors']:>7.0f} "
                  f"{m['rps'] / base:>8.0%} {m['server_us']:>10.0f} {m['writer_us']:>9.0f}")
        for mode in ("on-metrics", "on-observed"):
            if mode in servers:
                print(f"analytics {mode}: {_redirects_counted(servers[mode][1])}")
    finally:
        proc, _, _, instance = servers["on"]
        proc.terminate()  # a graceful stop: the writer stores what is queued
        proc.wait(timeout=60)
        views, stored = _views_and_visits(database or f"sqlite:///{instance / 'zipshort.db'}")
        print(f"analytics on: {views} views counted, {stored} visits stored "
              f"({'exact' if views == stored else f'{views - stored} dropped'})")
        for proc, _, _, instance in servers.values():
            stop(proc, instance)
        bare.terminate()
        bare.wait()


def _bare_threads(args: argparse.Namespace) -> int:
    """bare Flask's threads: waitress's ``--threads``; under granian, as many Python threads per worker as
    ``zipshort serve --workers`` gives its workers with the default connection limit (zipshort/serving.py)."""
    return max(args.threads, min(64, 1000 // (2 * args.workers))) if args.workers else args.threads


def _many_links(url: str, token: str, n: int) -> list[str]:
    """Create ``n`` links with random codes through hoko's bulk API (10,000 a request); return their paths."""
    session = requests.Session()
    session.headers["Authorization"] = token
    folder = session.post(url + "/api/user/folders", json={"name": "codes"}).json()["id"]
    made: list[str] = []
    while len(made) < n:
        items = [{"url": f"https://example.com/many/{len(made) + i}", "collectionId": folder}
                 for i in range(min(10_000, n - len(made)))]
        res = session.post(url + "/api/links", json=items)
        res.raise_for_status()
        made += [urlsplit(link["shortUrl"]).path for link in res.json()]
    return made


def _redirects_counted(url: str) -> str:
    """What the server's GET /metrics says about its redirects (shows the metrics were on and counting)."""
    from prometheus_client.parser import text_string_to_metric_families

    res = requests.get(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    res.raise_for_status()
    counted = {s.labels["outcome"]: int(s.value) for f in text_string_to_metric_families(res.text)
               for s in f.samples if s.name == "zipshort_redirects_total"}
    return "zipshort_redirects_total " + ", ".join(f"{k}={v}" for k, v in counted.items())


def _views_and_visits(database_url: str) -> tuple[int, int]:
    """Views counted on the analytics-on server's links and the visits stored for them."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            views = conn.scalar(sa.text("SELECT coalesce(sum(views), 0) FROM links WHERE vanity LIKE '%-on'"))
            stored = conn.scalar(sa.text("SELECT count(*) FROM visits JOIN links ON links.id = visits.link_id "
                                         "WHERE links.vanity LIKE '%-on'"))
        return int(views), int(stored)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
