"""Redirect benchmark: zipshort's GET /go/<code> against a bare-Flask redirect, same server, same run.

    .venv/bin/python bench/redirect.py [--duration 10] [--connections 32] [--threads 4] [--runs 3]

Starts a bare Flask app and a zipshort server (fresh SQLite instance, or DATABASE_URL), creates a plain
link and a link with max views (10^9, so it never runs out), then alternates wrk runs (-t1) over the
three targets and prints the median requests/s, p50 and p99 of the runs, and zipshort as a share of
bare Flask. Uses a Python load driver when wrk is not installed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import requests
from _common import BIN, ROOT, free_port, load, median_of, start_zipshort, stop, wait_healthy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=4, help="waitress threads for both servers")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    env_extra = {"DATABASE_URL": os.environ["DATABASE_URL"]} if os.environ.get("DATABASE_URL") else {}
    bare_port = free_port()
    bare = subprocess.Popen([str(BIN / "python"), str(ROOT / "bench" / "bare_flask.py"), "--port", str(bare_port),
                             "--threads", str(args.threads)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare_url = f"http://127.0.0.1:{bare_port}"
    proc, url, token, instance = start_zipshort(args.threads, env_extra)
    try:
        wait_healthy(bare_url, "/go/plain")
        headers = {"Authorization": token}
        for vanity, extra in (("plain", {}), ("limited", {"x-zipline-max-views": "1000000000"})):
            requests.post(url + "/api/user/urls", headers={**headers, **extra},
                          json={"destination": f"https://example.com/{vanity}", "vanity": vanity}).raise_for_status()
        targets = {
            "bare Flask (dict lookup)": bare_url + "/go/plain",
            "zipshort plain link": url + "/go/plain",
            "zipshort link with max views": url + "/go/limited",
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.runs):
            for name, target in targets.items():
                results[name].append(load(target, args.duration, args.connections))
        backend = "PostgreSQL" if env_extra else "SQLite"
        print(f"redirect benchmark: {args.runs} runs x {args.duration}s, {args.connections} connections, "
              f"waitress threads={args.threads}, database={backend}")
        print(f"{'target':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}")
        base = median_of(results["bare Flask (dict lookup)"])["rps"]
        for name, runs in results.items():
            m = median_of(runs)
            print(f"{name:<32} {m['rps']:>9.0f} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {m['errors']:>7.0f} "
                  f"{m['rps'] / base:>8.0%}")
        views = requests.get(url + "/api/user/urls?searchField=vanity&searchQuery=limited", headers=headers).json()
        print(f"views counted on the limited link: {views[0]['views']}")
    finally:
        stop(proc, instance)
        bare.terminate()
        bare.wait()


if __name__ == "__main__":
    sys.exit(main())
