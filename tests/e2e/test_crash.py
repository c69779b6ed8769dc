"""Kill -9 the real server in the middle of an upload (by hand, and at every named crash point); after a
restart and its storage clean-up there is no row without its blob, no blob without its row, and every
user's counters equal the sum of their files, with no reservation left."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.api.zipline.test_partial import send
from tests.cli.test_cli import ROOT, start_server, stop
from tests.conftest import TEST_SECRET, Api, fetch
from tests.e2e.uploads import assert_exact, send_chunk, send_file
from zipshort.extensions import db
from zipshort.faults import CRASH_POINTS
from zipshort.models import File
from zipshort.services import accounts


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


# --- killed at named points inside an upload (faults.crash_at), restarted, cleaned up -------------------------

CASES = [("upload.spooled", "plain"), ("files.before_commit", "plain"), ("files.after_commit", "plain"),
         ("files.before_commit", "chunked"), ("chunk.written", "chunked"), ("chunk.assembling", "chunked"),
         ("chunk.assembled", "chunked")]
DATA = os.urandom(300_000)
PIECE = 100_000


def test_every_crash_point_is_tested():
    assert {point for point, _ in CASES} == set(CRASH_POINTS)


def _serve(instance: Path, database_url: str, **env: str):
    """The real server on the test's instance and database; its start-up clean-up takes leftovers of any age."""
    extra = {"ZIPSHORT_FILES_CLEANUP_MIN_AGE_SECONDS": "0", **env}
    if database_url:
        extra["ZIPSHORT_DATABASE_URL"] = database_url
    return start_server(instance, extra)


def _crash(proc, request) -> None:
    """Send the request the armed point kills; the connection dies and so does the server."""
    with pytest.raises(requests.ConnectionError):
        request()
    assert proc.wait(timeout=10) == -signal.SIGKILL
    proc.stdout.close()


def _assert_consistent(rt, user, files: int) -> None:
    db.session.rollback()
    rows = db.session.execute(sa.select(File.storage_key, File.thumbnail_key)).all()
    blobs = set(rt.storage.keys())
    referenced = {r.storage_key for r in rows}
    assert referenced <= blobs, "a row without its blob"
    assert blobs <= referenced | {r.thumbnail_key for r in rows}, "a blob without a row"
    assert list(rt.storage.temp.iterdir()) == []
    c = assert_exact(user.id)
    assert (c["files"], c["sessions"], c["reserved_bytes"], c["reserved_files"]) == (files, 0, 0, 0), c


@pytest.mark.parametrize("point,route", CASES)
def test_crash_at_a_point_then_restart_leaves_nothing_half_written(tmp_path, database_url, client, rt, user,
                                                                     make_key, point, route):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(
        files_type="BY_BYTES", max_bytes=10_000_000, max_bytes_text="10mb")))
    key = make_key(user)
    in_process = Api(client, key)
    kept = in_process.post("/api/upload", data={"file": [(io.BytesIO(b"kept"), "kept.txt", "text/plain")]},
                           content_type="multipart/form-data").get_json()["files"][0]["name"]
    ident = None
    if route == "chunked":
        ident = send(in_process, DATA[:PIECE], 0, PIECE - 1, len(DATA)).get_json()["partialIdentifier"]
    db.session.remove()
    proc, url = _serve(tmp_path, database_url, ZIPSHORT_FAULTS_CRASH_AT=point)
    if route == "plain":
        _crash(proc, lambda: send_file(url, key, DATA))
    elif point == "chunk.written":
        _crash(proc, lambda: send_chunk(url, key, DATA[PIECE:2 * PIECE], PIECE, 2 * PIECE - 1, len(DATA),
                                        x_zipline_p_identifier=ident))
    else:
        _crash(proc, lambda: send_chunk(url, key, DATA[PIECE:], PIECE, len(DATA) - 1, len(DATA), last=True,
                                        x_zipline_p_identifier=ident))
    proc, url = _serve(tmp_path, database_url)  # without the fault
    try:
        assert fetch("GET", f"{url}/raw/{kept}").content == b"kept"
        if point == "chunk.written":  # the session survived: the client sends the lost chunk again and finishes
            assert send_chunk(url, key, DATA[PIECE:2 * PIECE], PIECE, 2 * PIECE - 1, len(DATA),
                              x_zipline_p_identifier=ident).status_code == 200
            done = send_chunk(url, key, DATA[2 * PIECE:], 2 * PIECE, len(DATA) - 1, len(DATA), last=True,
                              x_zipline_p_identifier=ident)
            assert fetch("GET", f"{url}/raw/{done.json()['files'][0]['name']}").content == DATA
    finally:
        stop(proc)
    _assert_consistent(rt, user, files=2 if point in ("files.after_commit", "chunk.written") else 1)


def test_serve_removes_old_leftovers_at_start_and_keeps_young_ones(tmp_path, database_url, rt):
    old_spool, young_spool = rt.storage.temp / "old.spool", rt.storage.temp / "young.spool"
    for path in (old_spool, young_spool):
        path.write_bytes(b"half")
    orphan = rt.storage.write([b"blob of a crashed upload"])
    for path in (old_spool, rt.storage.path(orphan.key)):
        two_hours_ago = path.stat().st_mtime - 7200
        os.utime(path, (two_hours_ago, two_hours_ago))
    db.session.remove()
    env = {"ZIPSHORT_DATABASE_URL": database_url} if database_url else {}
    proc, _ = start_server(tmp_path, env)  # the default minimum age: one hour
    stop(proc)
    assert not old_spool.exists() and not rt.storage.exists(orphan.key)
    assert young_spool.exists()
