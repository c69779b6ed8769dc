"""A full disk (a real ENOSPC from a 1 MiB tmpfs under the files folder): 507 in the caller's dialect,
nothing half-written, and uploads work again once there is room."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import count, service_missing
from tests.e2e.uploads import assert_exact, send_chunk, send_file
from zipshort.models import File, PartialUpload

MESSAGE = "Insufficient storage: the server has no space left for this file, try again later"
BIG = 2 * 1024 * 1024  # twice the disk


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs; skipped locally where mounting is impossible (not Linux, not root, no CAP_SYS_ADMIN), an
    error under CI (CI runs as root on Linux)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not sys.platform.startswith("linux"):
        service_missing("a small tmpfs (Linux only)", OSError(sys.platform))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "zipshort-test", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        service_missing("a 1 MiB tmpfs to fill (needs root or CAP_SYS_ADMIN)", OSError(mounted.stderr.strip()))
    yield disk
    if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.fixture
def overrides(small_disk):
    return {"files": {"directory": str(small_disk)}}


@pytest.fixture
def key(user, make_key):
    return make_key(user)


def _nothing_kept(rt, user) -> None:
    assert count(File) == 0 and count(PartialUpload) == 0
    assert list(rt.storage.temp.iterdir()) == [] and list(rt.storage.keys()) == []
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["file_count"], c["reserved_bytes"], c["reserved_files"]) == (0, 0, 0, 0)


def test_upload_onto_a_full_disk_is_507_and_keeps_nothing(live_server, rt, user, key):
    res = send_file(live_server.url, key, os.urandom(BIG))
    assert res.status_code == 507
    assert res.json() == {"error": MESSAGE, "statusCode": 507, "code": "insufficient_storage"}
    _nothing_kept(rt, user)
    assert send_file(live_server.url, key, b"small enough").status_code == 200


def test_v3_upload_onto_a_full_disk_is_507_in_v3_shape(live_server, rt, user, key):
    res = send_file(live_server.url, key, os.urandom(BIG), Format="random")
    assert res.status_code == 507 and res.json() == {"error": MESSAGE, "code": 507}
    _nothing_kept(rt, user)


def test_several_files_one_too_many_for_the_disk_keeps_none(live_server, rt, user, key):
    from tests.conftest import fetch

    files = [("file", ("a.bin", os.urandom(400_000), "application/octet-stream")),
             ("file", ("b.bin", os.urandom(400_000), "application/octet-stream")),
             ("file", ("c.bin", os.urandom(400_000), "application/octet-stream"))]
    res = fetch("POST", live_server.url + "/api/upload", headers={"Authorization": key}, files=files)
    assert res.status_code == 507 and res.json()["error"] == MESSAGE
    _nothing_kept(rt, user)


def test_first_chunk_onto_a_full_disk_is_507_and_releases_the_reservation(live_server, rt, user, key):
    res = send_chunk(live_server.url, key, os.urandom(BIG), 0, BIG - 1, 3 * BIG)
    assert res.status_code == 507 and res.json()["error"] == MESSAGE
    _nothing_kept(rt, user)


def test_later_chunk_onto_a_full_disk_is_507_and_ends_the_upload(live_server, rt, user, key):
    piece = 600_000
    ident = send_chunk(live_server.url, key, os.urandom(piece), 0, piece - 1, 3 * piece).json()["partialIdentifier"]
    res = send_chunk(live_server.url, key, os.urandom(piece), piece, 2 * piece - 1, 3 * piece,
                     x_zipline_p_identifier=ident)
    assert res.status_code == 507 and res.json()["error"] == MESSAGE
    _nothing_kept(rt, user)
    assert send_chunk(live_server.url, key, b"x", 2 * piece, 2 * piece, 3 * piece,
                      x_zipline_p_identifier=ident).status_code == 404
