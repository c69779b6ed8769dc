"""File transfer benchmark: a 1 GiB upload and download through zipshort, beside disk and nginx.

    .venv/bin/python bench/files.py [--size-mib 1024] [--runs 2]

Measures, in one run on this machine: raw disk write speed (dd with fdatasync), nginx PUT
(WebDAV) and GET of the same file, and zipshort's POST /api/upload (multipart, as curl -F
sends it) and GET /raw/<name>, with zipshort's peak RSS before and after the upload. Prints
MiB/s and the RSS growth. Needs curl; nginx is skipped when not installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from _common import free_port, start_zipshort, stop

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


def zipshort(folder: Path, source: Path, size_mib: int) -> dict[str, float]:
    limit = str((size_mib + 64) * MIB)
    proc, url, token, instance = start_zipshort(4, {"ZIPSHORT_FILES_MAX_FILE_SIZE": limit,
                                                    "ZIPSHORT_SERVER_MAX_REQUEST_BODY_SIZE": str(int(limit) + MIB)})
    try:
        requests.get(url + "/api/healthcheck")
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset the peak (the login's argon2 used 64 MiB)
        before = rss_now_mib(proc.pid)
        start = time.perf_counter()
        out = subprocess.run(["curl", "-s", "-H", f"Authorization: {token}", "-F", f"file=@{source}",
                              url + "/api/upload"], capture_output=True, text=True, check=True).stdout
        up = time.perf_counter() - start
        name = re.search(r'"name":"([^"]+)"', out).group(1)
        peak = rss_peak_mib(proc.pid)
        down = curl_seconds(f"{url}/raw/{name}")
        return {"up": size_mib / up, "down": size_mib / down, "rss_before": before, "rss_peak": peak}
    finally:
        stop(proc, instance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="zipshort-files-bench-"))
    try:
        source = folder / "big.bin"
        make_file(source, args.size_mib)
        disk, ngx, zs = [], [], []
        for _ in range(args.runs):
            disk.append(dd_mib_s(folder, args.size_mib))
            result = nginx(Path(tempfile.mkdtemp(dir=folder)), source, args.size_mib)
            if result:
                ngx.append(result)
            zs.append(zipshort(folder, source, args.size_mib))
        med = statistics.median
        print(f"file benchmark: {args.size_mib} MiB, {args.runs} runs (medians), waitress threads=4")
        print(f"disk (dd, fdatasync)          write {med(disk):8.0f} MiB/s")
        if ngx:
            print(f"nginx PUT / GET (sendfile)     up {med(u for u, _ in ngx):8.0f} MiB/s   "
                  f"down {med(d for _, d in ngx):8.0f} MiB/s")
        up, down = med(r["up"] for r in zs), med(r["down"] for r in zs)
        growth = med(r["rss_peak"] - r["rss_before"] for r in zs)
        print(f"zipshort upload / download     up {up:8.0f} MiB/s   down {down:8.0f} MiB/s")
        print(f"zipshort peak RSS growth during the upload: {growth:.1f} MiB "
              f"(peak {med(r['rss_peak'] for r in zs):.0f} MiB)")
        if ngx:
            print(f"download vs nginx: {down / med(d for _, d in ngx):.0%}   "
                  f"upload vs disk: {up / med(disk):.0%}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
