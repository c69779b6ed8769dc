"""File transfer benchmark: a 1 GiB upload and download through zipshort, beside disk and nginx.

    .venv/bin/python bench/files.py [--size-mib 1024] [--runs 2] [--chunk-mib 25] [--servers 0,2] [--port N]

Measures, in one run on this machine: raw disk write speed (dd with fdatasync), nginx PUT
(WebDAV) and GET of the same file, and zipshort's POST /api/upload (multipart, as curl -F
sends it) and GET /raw/<name>, with zipshort's peak RSS before and after the upload; then the
same file as a chunked upload (POST /api/upload/partial, Zipline 4.5+'s token protocol, one curl
per chunk of ``--chunk-mib``, in order, as Zipline's own client sends them; 25 MiB is Zipline's
default chunk size), on the same server. Prints MiB/s, the chunked upload's share of the plain
one, the RSS growth of each, and the server's CPU time for each (user + system, which a busy
machine disturbs less than wall time). ``--servers`` lists the servers compared, as worker counts: 0 is waitress
(``zipshort serve``), N granian (``zipshort serve --workers N``); on each, bare Flask gives the yardsticks: the
raw-stream ceiling (the same multipart body read into a file, nothing parsed) and ``send_file``. DATABASE_URL picks
PostgreSQL. Needs curl; nginx is skipped when not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from _common import BIN, ROOT, children, cpu_seconds, free_port, start_zipshort, stop, wait_healthy

MIB = 1024 * 1024


def rss_peak_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024


def rss_now_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def make_file(path: Path, size_mib: int) -> None:
    block = os.urandom(MIB)
    with open(path, "wb") as fh:
        for i in range(size_mib):
            fh.write(block[i % 7:] + block[: i % 7])


def curl_seconds(*args: str) -> float:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", *args],
                         capture_output=True, text=True, check=True).stdout.split()
    if not out[0].startswith("2"):
        raise RuntimeError(f"curl got HTTP {out[0]} for {args}")
    return float(out[1])


def dd_mib_s(folder: Path, size_mib: int) -> float:
    target = folder / "dd.bin"
    start = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size_mib}", "conv=fdatasync"],
                   capture_output=True, check=True)
    seconds = time.perf_counter() - start
    target.unlink()
    return size_mib / seconds


def nginx(folder: Path, source: Path, size_mib: int) -> tuple[float, float] | None:
    if not shutil.which("nginx"):
        return None
    port = free_port()
    root = folder / "nginx-root"
    root.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 1; user root; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; sendfile on; client_max_body_size 0; client_body_temp_path {folder}/nginx-body;
  server {{ listen 127.0.0.1:{port}; root {root}; location / {{ dav_methods PUT; }} }}
}}""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        up = curl_seconds("-T", str(source), f"http://127.0.0.1:{port}/big.bin")
        down = curl_seconds(f"http://127.0.0.1:{port}/big.bin")
        return size_mib / up, size_mib / down
    finally:
        proc.terminate()
        proc.wait()


def split(source: Path, folder: Path, chunk_mib: int) -> list[Path]:
    """``source`` cut into files of ``chunk_mib`` MiB (made before the clock starts)."""
    pieces = []
    with open(source, "rb") as fh:
        while block := fh.read(chunk_mib * MIB):
            piece = folder / f"chunk-{len(pieces):05d}"
            piece.write_bytes(block)
            pieces.append(piece)
    return pieces


def chunked_upload(url: str, token: str, pieces: list[Path]) -> str:
    """Send ``pieces`` in order with Zipline 4.5+'s token protocol, one curl each; return the file's name."""
    total = sum(piece.stat().st_size for piece in pieces)
    start, answer = 0, {}
    for n, piece in enumerate(pieces):
        size = piece.stat().st_size
        headers = [f"Authorization: {token}", f"Content-Range: bytes {start}-{start + size - 1}/{total}",
                   "x-zipline-p-filename: big.bin", "x-zipline-p-content-type: application/octet-stream",
                   f"x-zipline-p-lastchunk: {str(n == len(pieces) - 1).lower()}"]
        if answer.get("partialToken"):
            headers.append(f"x-zipline-p-token: {answer['partialToken']}")
        out = subprocess.run(["curl", "-s", "-f", *(arg for h in headers for arg in ("-H", h)),
                              "-F", f"file=@{piece};filename=big.bin", url + "/api/upload/partial"],
                             capture_output=True, text=True, check=True).stdout
        answer = json.loads(out)
        start += size
    return answer["files"][0]["name"]


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (granian's workers, the visit writers)."""
    return [pid, *(q for child in children(pid) for q in tree(child))]


class Memory:
    """Peak resident memory growth of a server's processes from now on (each process's peak reset first)."""

    def __init__(self, pid: int) -> None:
        self.before: dict[int, float] = {}
        for p in tree(pid):
            Path(f"/proc/{p}/clear_refs").write_text("5")  # reset the peak (the login's argon2 used 64 MiB)
            self.before[p] = rss_now_mib(p)

    def growth(self) -> float:
        """The sum over the processes of how far each one's peak rose above where it was."""
        grown = {p: max(0.0, rss_peak_mib(p) - rss) for p, rss in self.before.items() if Path(f"/proc/{p}").exists()}
        return sum(grown.values())


def tree_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in tree(pid))


def bare(folder: Path, source: Path, size_mib: int, workers: int) -> dict[str, float]:
    """bare Flask on the same server: the raw-stream ceiling (the same ``curl -F`` body read and written to a
    file, nothing parsed) and ``send_file`` of the same file."""
    files = Path(tempfile.mkdtemp(dir=folder))
    shutil.copyfile(source, files / "big.bin")
    port = free_port()
    proc = subprocess.Popen([str(BIN / "python"), str(ROOT / "bench" / "bare_flask.py"), "--port", str(port),
                             "--threads", "4", "--workers", str(workers)],
                            env={**os.environ, "BARE_FLASK_FILES": str(files)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, "/go/plain")
        up = curl_seconds("-F", f"file=@{source}", url + "/upload")
        down = curl_seconds(url + "/files/big.bin")
        return {"up": size_mib / up, "down": size_mib / down}
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(files, ignore_errors=True)


def zipshort(folder: Path, source: Path, size_mib: int, chunk_mib: int, port: int | None,
             workers: int = 0) -> dict[str, float]:
    limit = str((size_mib + 64) * MIB)
    pieces = split(source, Path(tempfile.mkdtemp(dir=folder)), chunk_mib)
    proc, url, token, instance = start_zipshort(4, {"ZIPSHORT_FILES_MAX_FILE_SIZE": limit,
                                                    "ZIPSHORT_SERVER_MAX_REQUEST_BODY_SIZE": str(int(limit) + MIB)},
                                                workers, port=port)
    try:
        requests.get(url + "/api/healthcheck")
        small = Path(tempfile.mkdtemp(dir=folder)) / "small.bin"
        small.write_bytes(os.urandom(64 * 1024))
        for _ in range(4 * max(1, workers)):  # every worker's first upload imports and builds what uploads use,
            out = subprocess.run(["curl", "-s", "-H", f"Authorization: {token}", "-F", f"file=@{small}",
                                  url + "/api/upload"], capture_output=True, text=True, check=True).stdout
            curl_seconds(f"{url}/raw/{json.loads(out)['files'][0]['name']}")
            chunked_upload(url, token, [small])
        time.sleep(3)  # and the visit writers' first batch (the downloads' visits) loads the agent and place data
        memory = Memory(proc.pid)
        cpu = tree_cpu(proc.pid)
        start = time.perf_counter()
        out = subprocess.run(["curl", "-s", "-H", f"Authorization: {token}", "-F", f"file=@{source}",
                              url + "/api/upload"], capture_output=True, text=True, check=True).stdout
        up = time.perf_counter() - start
        up_cpu = tree_cpu(proc.pid) - cpu
        name = re.search(r'"name":"([^"]+)"', out).group(1)
        growth = memory.growth()
        down = curl_seconds(f"{url}/raw/{name}")
        memory = Memory(proc.pid)
        cpu = tree_cpu(proc.pid)
        start = time.perf_counter()
        chunked_name = chunked_upload(url, token, pieces)
        chunked = time.perf_counter() - start
        chunked_cpu = tree_cpu(proc.pid) - cpu
        chunked_growth = memory.growth()
        served = requests.head(f"{url}/raw/{chunked_name}").headers.get("Content-Length")
        if served != str(size_mib * MIB):
            raise RuntimeError(f"the chunked upload is served with {served} bytes")
        return {"up": size_mib / up, "down": size_mib / down, "growth": growth,
                "chunked": size_mib / chunked, "chunked_growth": chunked_growth,
                "up_cpu": up_cpu, "chunked_cpu": chunked_cpu}
    finally:
        stop(proc, instance)
        for piece in pieces:
            piece.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--chunk-mib", type=int, default=25, help="chunk size of the chunked upload")
    parser.add_argument("--port", type=int, default=None, help="zipshort's port (default: a free one)")
    parser.add_argument("--servers", default="0,2",
                        help="the servers to compare, as worker counts: 0 is waitress (zipshort serve), N granian "
                             "with N workers (zipshort serve --workers N); bare Flask runs on each")
    args = parser.parse_args()
    servers = [int(n) for n in args.servers.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="zipshort-files-bench-"))
    try:
        source = folder / "big.bin"
        make_file(source, args.size_mib)
        disk, ngx = [], []
        zs: dict[int, list[dict[str, float]]] = {n: [] for n in servers}
        yard: dict[int, list[dict[str, float]]] = {n: [] for n in servers}
        for _ in range(args.runs):
            disk.append(dd_mib_s(folder, args.size_mib))
            result = nginx(Path(tempfile.mkdtemp(dir=folder)), source, args.size_mib)
            if result:
                ngx.append(result)
            for n in servers:
                yard[n].append(bare(folder, source, args.size_mib, n))
                zs[n].append(zipshort(folder, source, args.size_mib, args.chunk_mib, args.port, n))
        med = statistics.median
        database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
        print(f"file benchmark: {args.size_mib} MiB, {args.runs} runs (medians), {args.chunk_mib} MiB chunks, "
              f"database={database}")
        print(f"disk (dd, fdatasync)          write {med(disk):8.0f} MiB/s")
        if ngx:
            print(f"nginx PUT / GET (sendfile)     up {med(u for u, _ in ngx):8.0f} MiB/s   "
                  f"down {med(d for _, d in ngx):8.0f} MiB/s")
        print(f"{'server':<26} {'raw up':>8} {'upload':>8} {'vs raw':>7} {'chunked':>8} {'vs up':>6} "
              f"{'send_file':>10} {'download':>9} {'vs bare':>8} {'RSS+ MiB':>9} {'CPU s':>6} {'chunk CPU':>9}")
        for n in servers:
            name = f"granian, {n} worker{'s' if n > 1 else ''}" if n else "waitress (one process)"
            raw, ceiling_down = med(r["up"] for r in yard[n]), med(r["down"] for r in yard[n])
            up, down = med(r["up"] for r in zs[n]), med(r["down"] for r in zs[n])
            chunked = med(r["chunked"] for r in zs[n])
            growth = max(med(r["growth"] for r in zs[n]), med(r["chunked_growth"] for r in zs[n]))
            print(f"{name:<26} {raw:>8.0f} {up:>8.0f} {up / raw:>7.0%} {chunked:>8.0f} {chunked / up:>6.0%} "
                  f"{ceiling_down:>10.0f} {down:>9.0f} {down / ceiling_down:>8.0%} {growth:>9.1f} "
                  f"{med(r['up_cpu'] for r in zs[n]):>6.2f} {med(r['chunked_cpu'] for r in zs[n]):>9.2f}")
        print("MiB/s; raw up: bare Flask reading the same multipart body into a file on the same server; send_file: "
              "bare Flask's send_file of the file; RSS+: the largest peak growth of the server's processes during an "
              "upload (plain or chunked); CPU: the server's processes during the plain and the chunked upload")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
