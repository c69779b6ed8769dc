"""Kill -9 the real server in the middle of an upload, at every named crash point inside the app's
write-blob-then-row sequence (``faults.crash_at``); after a restart and its storage clean-up there is no
row without its blob, no blob without its row, and every user's counters equal the sum of their files,
with no reservation left.

(A kill from outside while waitress is still buffering the request body would never reach the app, so
it would prove nothing about that sequence: the crash points are where the app is interrupted.)"""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.api.zipline.test_partial import send
from tests.cli.test_cli import start_server, stop
from tests.conftest import Api, fetch
from tests.e2e.uploads import assert_exact, send_chunk, send_file
from zipshort.extensions import db
from zipshort.faults import CRASH_POINTS
from zipshort.models import File
from zipshort.services import accounts

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
