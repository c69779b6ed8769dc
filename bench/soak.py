"""Soak benchmark: minutes of mixed traffic against a restarted server; throughput must not decay.

    .venv/bin/python bench/soak.py [--minutes 5] [--window 30] [--connections 32] [--threads 8] [--links 20000]
    .venv/bin/python bench/soak.py --workers 2     # the production mode (granian), bare Flask likewise

A long-running server once pinned a database snapshot from start-up: SQLite's write-ahead log could
never be checkpointed, grew without bound, and random-code redirects fell from about 690 to 165 per
second within three minutes. This benchmark reproduces that workload: it starts zipshort on a fresh
instance (SQLite, or DATABASE_URL), creates links, *restarts* the server (users exist, as on every
real restart), then for ``--minutes`` drives wrk (-t1) at random codes (most visits miss the link
cache: a read, the view batched) while a second client creates links and uploads small files, two
per second. It prints requests/s per window, the WAL size (SQLite), and a bare-Flask redirect
measured in the same run before and after, and the last window as a share of the first. It also prints the
server's resident memory (all its processes) when idle and after each window, with the redirects served so far.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import BIN, ROOT, SECRET, children, free_port, load, stop, wait_healthy

LUA = """
codes = {}
for line in io.lines("%s") do codes[#codes + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/go/" .. codes[math.random(#codes)])
end
"""


def serve(instance: Path, threads: int, env_extra: dict[str, str], workers: int = 0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_"))}
    env.update({"ZIPSHORT_INSTANCE": str(instance), "CORE_SECRET": SECRET, "ZIPSHORT_ADMIN_USERNAME": "bench",
                "ZIPSHORT_ADMIN_PASSWORD": "bench-password", **env_extra})
    proc = subprocess.Popen([str(BIN / "zipshort"), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", str(threads), "--workers", str(workers)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return proc, url


def token_of(url: str) -> str:
    session = requests.Session()
    session.post(url + "/api/auth/login", json={"username": "bench", "password": "bench-password"}).raise_for_status()
    return session.get(url + "/api/user/token").json()["token"]


def make_links(url: str, token: str, count: int) -> list[str]:
    codes: list[str] = []
    folder = requests.post(url + "/api/user/folders", headers={"Authorization": token}, json={"name": "soak"})
    folder.raise_for_status()
    while len(codes) < count:
        batch = [{"url": f"https://example.com/{len(codes) + i}", "collectionId": folder.json()["id"]}
                 for i in range(min(5000, count - len(codes)))]
        res = requests.post(url + "/api/links", headers={"Authorization": f"Bearer {token}"}, json=batch, timeout=120)
        res.raise_for_status()
        codes += [item["shortUrl"].rsplit("/", 1)[1] for item in res.json()]
    return codes


def writer(url: str, token: str, stop_event: threading.Event, counts: dict[str, int]) -> None:
    """Link creations and small uploads, two a second, alongside the redirects."""
    headers = {"Authorization": token}
    while not stop_event.wait(0.5):
        try:
            if random.random() < 0.5:
                res = requests.post(url + "/api/user/urls", headers=headers, timeout=10,
                                    json={"destination": f"https://example.org/{random.random()}"})
            else:
                res = requests.post(url + "/api/upload", headers=headers, timeout=10,
                                    files={"file": ("soak.txt", os.urandom(2048), "text/plain")})
            counts["ok" if res.status_code == 200 else "failed"] += 1
        except requests.RequestException:
            counts["failed"] += 1


def rss_mib(pid: int) -> float:
    """Resident memory of a server: its process and every descendant (granian's workers, the visit writers)."""
    def tree(p: int) -> list[int]:
        return [p, *(q for child in children(p) for q in tree(child))]

    total = 0
    for p in tree(pid):
        try:
            total += int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text()).group(1))
        except (OSError, AttributeError):
            pass
    return total / 1024


def wal_size(instance: Path) -> str:
    wal = instance / "zipshort.db-wal"
    return f"{wal.stat().st_size / 1e6:.1f} MB" if wal.exists() else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--window", type=int, default=30, help="seconds per measured window")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--links", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=0,
                        help="0: waitress; N: the production mode (granian, N workers), bare Flask likewise")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/soak.py needs wrk (Debian: apt-get install wrk)")

    env_extra = {"DATABASE_URL": os.environ["DATABASE_URL"]} if os.environ.get("DATABASE_URL") else {}
    instance = Path(tempfile.mkdtemp(prefix="zipshort-soak-"))
    bare_port = free_port()
    bare = subprocess.Popen([str(BIN / "python"), str(ROOT / "bench" / "bare_flask.py"), "--port", str(bare_port),
                             "--threads", str(args.threads), "--workers", str(args.workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare_url = f"http://127.0.0.1:{bare_port}/go/plain"
    proc, url = serve(instance, args.threads, env_extra, args.workers)
    codes = make_links(url, token_of(url), args.links)
    stop(proc)
    proc, url = serve(instance, args.threads, env_extra, args.workers)  # the restart: users exist now
    script = instance / "soak.lua"
    (instance / "codes.txt").write_text("\n".join(codes) + "\n")
    script.write_text(LUA % (instance / "codes.txt"))
    stop_event = threading.Event()
    counts = {"ok": 0, "failed": 0}
    side = threading.Thread(target=writer, args=(url, token_of(url), stop_event, counts), daemon=True)
    try:
        wait_healthy(bare_url, "")
        before = load(bare_url, 10, args.connections)["rps"]
        side.start()
        windows = max(1, int(args.minutes * 60 // args.window))
        backend = "PostgreSQL" if env_extra else "SQLite"
        front = f"granian, {args.workers} workers" if args.workers else f"waitress threads={args.threads}"
        print(f"soak: {windows} x {args.window}s windows, {args.connections} connections, {len(codes)} random codes, "
              f"{front}, database={backend}")
        print(f"bare Flask before: {before:.0f} req/s; zipshort idle RSS (every process): {rss_mib(proc.pid):.0f} MiB")
        print(f"{'window':>6} {'elapsed':>8} {'req/s':>8} {'p99 ms':>8} {'non-3xx':>8} {'WAL':>9} {'redirects':>10} "
              f"{'RSS MiB':>8}")
        rates = []
        served = 0
        started = time.monotonic()
        for n in range(windows):
            out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.window}s", "--latency",
                                  "-s", str(script), url], capture_output=True, text=True, check=True).stdout
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
            rates.append(rps)
            served += int(re.search(r"(\d+) requests in", out).group(1))
            print(f"{n + 1:>6} {time.monotonic() - started:>7.0f}s {rps:>8.0f} {p99:>8} "
                  f"{bad.group(1) if bad else '0':>8} {wal_size(instance):>9} {served:>10} {rss_mib(proc.pid):>8.0f}",
                  flush=True)
        stop_event.set()
        side.join(timeout=15)
        after = load(bare_url, 10, args.connections)["rps"]
        print(f"bare Flask after: {after:.0f} req/s")
        print(f"side traffic: {counts['ok']} creations/uploads, {counts['failed']} failed")
        print(f"last window / first window: {rates[-1] / rates[0]:.0%}; zipshort mean / bare mean: "
              f"{sum(rates) / len(rates) / ((before + after) / 2):.0%}")
    finally:
        stop_event.set()
        stop(proc, instance)
        bare.terminate()


if __name__ == "__main__":
    main()
