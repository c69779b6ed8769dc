"""Kill -9 the server in the middle of an upload; after a restart fsck finds no row without its blob."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.cli.test_cli import ROOT, start_server, stop
from tests.conftest import TEST_SECRET


def _token(url: str) -> str:
    session = requests.Session()
    session.post(url + "/api/auth/login", json={"username": "admin", "password": "pw-123456"}, timeout=10)
    return session.get(url + "/api/user/token", timeout=10).json()["token"]


def test_kill_during_upload_leaves_no_row_without_blob(tmp_path):
    env = {"ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "pw-123456"}
    proc, url = start_server(tmp_path, env)
    token = _token(url)
    ok = requests.post(url + "/api/upload", headers={"Authorization": token}, timeout=30,
                       files={"file": ("done.bin", os.urandom(100_000), "application/octet-stream")})
    assert ok.status_code == 200
    host, port = url.removeprefix("http://").split(":")
    boundary = "zipshortcrash"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    total = 64 * 1024 * 1024
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /api/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {len(head) + total + len(boundary) + 8}\r\n\r\n").encode() + head)
        sent = 0
        while sent < total * 0.4:
            sock.sendall(b"\0" * 1024 * 1024)
            sent += 1024 * 1024
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    proc, url = start_server(tmp_path, env)
    try:
        listed = requests.get(url + "/api/healthcheck", timeout=10)
        assert listed.status_code == 200
        served = requests.get(f"{url}/u/{ok.json()['files'][0]['name']}", timeout=10)
        assert served.status_code == 200 and len(served.content) == 100_000
    finally:
        stop(proc)
    env_run = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_", "DATABASE_URL"))}
    env_run.update({"ZIPSHORT_INSTANCE": str(tmp_path), "CORE_SECRET": TEST_SECRET})
    exe = str(Path(sys.executable).parent / "zipshort")
    result = subprocess.run([exe, "fsck", "--remove", "--min-age-minutes", "0"], env=env_run, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "files missing their blob: 0" in result.stdout
    assert list((tmp_path / "files" / ".tmp").iterdir()) == []
