"""Shared helpers for the benchmarks: free ports, starting zipshort, running wrk or a Python load driver."""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECRET = "bench-secret-" + "x" * 40


def free_port() -> int:
    """A free local port: the first free one of ``ZIPSHORT_BENCH_PORTS`` (``first-last``) when set, else any."""
    ports = os.environ.get("ZIPSHORT_BENCH_PORTS", "")
    candidates = range(int(ports.split("-")[0]), int(ports.split("-")[1]) + 1) if ports else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port and port in _HANDED_OUT:
                continue
            _HANDED_OUT.add(s.getsockname()[1])
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in ZIPSHORT_BENCH_PORTS={ports}")


_HANDED_OUT: set[int] = set()  # ports given to servers not yet listening (bench/redirect.py starts several at once)


def wait_healthy(url: str, path: str = "/api/healthcheck", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + path, timeout=1, allow_redirects=False).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_zipshort(threads: int, env_extra: dict[str, str] | None = None, workers: int = 0, port: int | None = None):
    """A zipshort server on a fresh instance (``workers``: 0 waitress, N granian's worker processes; on ``port``,
    else a free one); returns (process, url, token, instance dir)."""
    instance = Path(tempfile.mkdtemp(prefix="zipshort-bench-"))
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_"))}
    env.update({"ZIPSHORT_INSTANCE": str(instance), "CORE_SECRET": SECRET, "ZIPSHORT_ADMIN_USERNAME": "bench",
                "ZIPSHORT_ADMIN_PASSWORD": "bench-password", **(env_extra or {})})
    proc = subprocess.Popen([str(BIN / "zipshort"), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", str(threads), "--workers", str(workers)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    session = requests.Session()
    session.post(url + "/api/auth/login", json={"username": "bench", "password": "bench-password"}).raise_for_status()
    token = session.get(url + "/api/user/token").json()["token"]
    return proc, url, token, instance


def stop(proc: subprocess.Popen, instance: Path | None = None) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    if instance is not None:
        shutil.rmtree(instance, ignore_errors=True)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"cannot read wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {**_UNITS, "m": 60000.0}[unit]


def run_wrk(url: str, duration: int, connections: int, paths: list[str] | None = None) -> dict[str, float]:
    """wrk -t1 (the machine has two cores: one for wrk, one for the server); ``paths``: each request asks for one
    of them at random (a Lua script), else ``url`` itself."""
    script: list[str] = []
    if paths:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write("local paths = {" + ",".join(f'"{path}"' for path in paths) + "}\n"
                      "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n")
        script = ["-s", lua.name]
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *script, url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        if script:
            os.unlink(script[1])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": float(non2xx.group(1)) if non2xx else 0.0}


def run_python_driver(url: str, duration: int, connections: int, paths: list[str] | None = None) -> dict[str, float]:
    """A keep-alive load driver for machines without wrk (slower than wrk; compare ratios only)."""
    parts = urlsplit(url)
    stop_at = time.monotonic() + duration
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            conn.request("GET", random.choice(paths) if paths else parts.path)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            if response.status >= 400:
                errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / duration, "p50_ms": q[49], "p99_ms": q[98], "errors": float(errors[0])}


def load(url: str, duration: int, connections: int, paths: list[str] | None = None) -> dict[str, float]:
    """wrk when installed, else the Python driver; ``paths``: request one of these at random each time."""
    if shutil.which("wrk"):
        return run_wrk(url, duration, connections, paths)
    return run_python_driver(url, duration, connections, paths)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a server's visit writer process)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(p) for p in open(f"/proc/{pid}/task/{task}/children").read().split()]
    except OSError:
        pass
    return found


def tree_cpu(pid: int, workers: int) -> tuple[float, float]:
    """CPU seconds used so far by a server and by its helper processes (the visit writers): waitress serves in
    ``pid`` (its children are the writers); granian serves in the children of ``pid`` (their children are the
    writers), its main process counted with them."""
    if not workers:
        return cpu_seconds(pid), sum(cpu_seconds(p) for p in children(pid))
    serving = [pid, *children(pid)]
    return sum(cpu_seconds(p) for p in serving), sum(cpu_seconds(c) for p in serving[1:] for c in children(p))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far (0 when it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pids: list[int], timeout: float = 20.0) -> None:
    """Wait until the processes (and their children) have used under 5 % of a core for half a second (a
    server's background writers finish the last run's work before the next run starts, instead of slowing it
    down)."""
    import time

    def tree(pid: int) -> list[int]:
        return [pid, *(p for child in children(pid) for p in tree(child))]

    def cpu() -> float:
        return sum(cpu_seconds(p) for parent in pids for p in tree(parent))

    deadline = time.monotonic() + timeout
    before = cpu()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu()
        if now - before < 0.025:
            return
        before = now


def median_of(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}
