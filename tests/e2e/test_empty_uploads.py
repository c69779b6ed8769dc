"""Empty uploads are a clear 400 (Zipline would store a 0-byte file; see docs/files.md), and keep nothing."""

from __future__ import annotations

import pytest

from tests.conftest import count, fetch
from tests.e2e.uploads import assert_exact, send_file
from zipshort.models import File

EMPTY = "File is empty; empty files cannot be uploaded"


@pytest.fixture
def key(user, make_key):
    return make_key(user)


def _nothing_kept(rt, user) -> None:
    assert count(File) == 0 and list(rt.storage.temp.iterdir()) == [] and list(rt.storage.keys()) == []
    assert assert_exact(user.id)["used_bytes"] == 0


def test_zero_byte_file_is_400(live_server, rt, user, key):
    res = send_file(live_server.url, key, b"")
    assert res.status_code == 400
    assert res.json() == {"error": f"file[0]: {EMPTY}", "statusCode": 400, "code": "empty_file"}
    _nothing_kept(rt, user)


def test_zero_byte_file_among_others_keeps_none(live_server, rt, user, key):
    files = [("file", ("a.txt", b"full", "text/plain")), ("file", ("b.txt", b"", "text/plain"))]
    res = fetch("POST", live_server.url + "/api/upload", headers={"Authorization": key}, files=files)
    assert res.status_code == 400 and res.json()["error"] == f"file[1]: {EMPTY}"
    _nothing_kept(rt, user)


def test_zero_byte_file_in_v3_is_400_in_v3_shape(live_server, rt, user, key):
    res = send_file(live_server.url, key, b"", Format="random")
    assert res.status_code == 400 and res.json() == {"error": f"file[0]: {EMPTY}", "code": 400}
    _nothing_kept(rt, user)


def test_no_file_part_is_400(live_server, rt, user, key):
    res = fetch("POST", live_server.url + "/api/upload", headers={"Authorization": key}, files={"other": ("x", b"x")})
    assert res.status_code == 400 and res.json()["error"] == "No files were uploaded"
    _nothing_kept(rt, user)
