"""Chunked uploads against the real server: quota reservations, the session cap, byte ranges, races."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections import Counter

import pytest

from tests.conftest import burst, count, fetch
from tests.e2e.uploads import assert_exact, counters, send_chunk, send_file
from zipshort.models import File, PartialUpload
from zipshort.services import accounts, partials

QUOTA = 100_000
REPEAT = range(2)


@pytest.fixture
def key(user, make_key):
    return make_key(user)


def _bytes_quota(rt, user, max_bytes: int = QUOTA) -> None:
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(
        files_type="BY_BYTES", max_bytes=max_bytes, max_bytes_text=str(max_bytes))))


# --- item 1: the declared size is reserved against the quota at the first chunk --------------------------

@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_first_chunks_each_under_the_quota_reserve_it_once(live_server, rt, user, key, attempt):
    _bytes_quota(rt, user)
    responses = burst(10, lambda i: send_chunk(live_server.url, key, b"x" * 100, 0, 99, QUOTA - 1), workers=10)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 413: 9}, statuses
    assert {r.json()["error"] for r in responses if r.status_code == 413} == \
        {f"uploading will exceed your storage quota of {QUOTA} bytes"}
    c = assert_exact(user.id)
    assert c["reserved_bytes"] == QUOTA - 1 and c["sessions"] == 1


@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_first_chunks_never_exceed_the_file_count_quota(live_server, rt, user, key, attempt):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(files_type="BY_FILES", max_files=2)))
    assert send_file(live_server.url, key, b"one").status_code == 200
    responses = burst(10, lambda i: send_chunk(live_server.url, key, b"x" * 10, 0, 9, 1000), workers=10)
    assert Counter(r.status_code for r in responses) == {200: 1, 413: 9}
    assert send_file(live_server.url, key, b"two").status_code == 413  # the open upload holds the last file
    assert assert_exact(user.id)["reserved_files"] == 1


class TestSessionCap:
    @pytest.fixture
    def overrides(self):
        return {"files": {"partial_sessions_per_user": 3}}

    @pytest.mark.parametrize("attempt", REPEAT)
    def test_parallel_first_chunks_beyond_the_cap_get_429(self, live_server, user, key, attempt):
        responses = burst(10, lambda i: send_chunk(live_server.url, key, b"x" * 10, 0, 9, 1000), workers=10)
        assert Counter(r.status_code for r in responses) == {200: 3, 429: 7}
        refused = next(r for r in responses if r.status_code == 429).json()
        assert refused["statusCode"] == 429 and "3 chunked uploads in progress" in refused["error"]
        assert count(PartialUpload) == 3 and assert_exact(user.id)["reserved_files"] == 3

    def test_a_cancelled_session_frees_its_place(self, live_server, user, key):
        ids = [send_chunk(live_server.url, key, b"x", 0, 0, 10).json()["partialIdentifier"] for _ in range(3)]
        assert send_chunk(live_server.url, key, b"x", 0, 0, 10).status_code == 429
        listed = fetch("GET", live_server.url + "/api/user/files/incomplete", headers={"Authorization": key}).json()
        assert len(listed) == 3 and len(ids) == 3
        cancelled = fetch("DELETE", live_server.url + "/api/user/files/incomplete", headers={"Authorization": key},
                          json={"id": [listed[0]["id"]]})
        assert cancelled.status_code == 200
        assert send_chunk(live_server.url, key, b"x", 0, 0, 10).status_code == 200
        assert_exact(user.id)


def test_an_open_reservation_counts_against_plain_uploads(live_server, rt, user, key):
    _bytes_quota(rt, user)
    ident = send_chunk(live_server.url, key, b"x" * 10, 0, 9, QUOTA - 50).json()["partialIdentifier"]
    assert send_file(live_server.url, key, b"y" * 60).status_code == 413
    assert send_file(live_server.url, key, b"y" * 50).status_code == 200
    listed = fetch("GET", live_server.url + "/api/user/files/incomplete", headers={"Authorization": key}).json()
    cancelled = fetch("DELETE", live_server.url + "/api/user/files/incomplete", headers={"Authorization": key},
                      json={"id": [s["id"] for s in listed]})
    assert cancelled.status_code == 200 and len(cancelled.json()) == 1
    assert ident and send_file(live_server.url, key, b"y" * 60).status_code == 200
    c = assert_exact(user.id)
    assert c["used_bytes"] == 110 and c["reserved_bytes"] == 0


def test_finishing_turns_the_reservation_into_usage_once(live_server, rt, user, key):
    _bytes_quota(rt, user)
    data = os.urandom(3000)
    ident = send_chunk(live_server.url, key, data[:1000], 0, 999, 3000).json()["partialIdentifier"]
    assert counters(user.id)["reserved_bytes"] == 3000
    send_chunk(live_server.url, key, data[1000:2000], 1000, 1999, 3000, x_zipline_p_identifier=ident)
    done = send_chunk(live_server.url, key, data[2000:], 2000, 2999, 3000, last=True, x_zipline_p_identifier=ident)
    assert done.status_code == 200
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["file_count"], c["reserved_bytes"], c["reserved_files"]) == (3000, 1, 0, 0)
    assert fetch("GET", f"{live_server.url}/raw/{done.json()['files'][0]['name']}").content == data


def test_a_failed_finish_releases_the_reservation(live_server, rt, user, key):
    _bytes_quota(rt, user)
    assert send_file(live_server.url, key, b"taken", x_zipline_filename="fixed.bin").status_code == 200
    ident = send_chunk(live_server.url, key, b"a" * 10, 0, 9, 20, x_zipline_filename="fixed.bin") \
        .json()["partialIdentifier"]
    done = send_chunk(live_server.url, key, b"b" * 10, 10, 19, 20, last=True, x_zipline_p_identifier=ident)
    assert done.status_code == 409
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["reserved_bytes"], c["sessions"]) == (5, 0, 0)
    assert list(rt.storage.temp.iterdir()) == [] and len(list(rt.storage.keys())) == 1


def test_bytes_past_the_declared_size_release_the_reservation(live_server, rt, user, key):
    _bytes_quota(rt, user)
    ident = send_chunk(live_server.url, key, b"a" * 10, 0, 9, 20).json()["partialIdentifier"]
    res = send_chunk(live_server.url, key, b"b" * 30, 10, 19, 20, x_zipline_p_identifier=ident)
    assert res.status_code == 413
    assert assert_exact(user.id)["reserved_bytes"] == 0 and list(rt.storage.temp.iterdir()) == []


def test_expiry_releases_the_reservation(live_server, rt, user, key):
    _bytes_quota(rt, user)
    send_chunk(live_server.url, key, b"a" * 10, 0, 9, 20)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)
    assert partials.prune_abandoned(rt.storage, now=later) == 1
    assert assert_exact(user.id)["reserved_bytes"] == 0 and list(rt.storage.temp.iterdir()) == []


def test_resent_chunks_do_not_keep_a_session_past_its_hard_end(rt, user):
    now = dt.datetime.now(dt.timezone.utc)
    hard_end = dt.timedelta(seconds=rt.settings.files.partial_max_age_seconds)

    def chunk(at, **ids):
        return partials.receive_chunk(rt, user, partials.copied(b"a" * 10, "a.bin", "application/octet-stream"),
                                      partials.parse_content_range("bytes 0-9/20", False),
                                      options={"fmt": "random"}, now=at, identifier=ids.get("identifier"),
                                      token=None)

    ident = chunk(now).identifier
    at = now
    while at + dt.timedelta(minutes=29) < now + hard_end:  # resent well within the idle timeout, again and again
        at += dt.timedelta(minutes=29)
        chunk(at, identifier=ident)
    with pytest.raises(partials.NotFound):
        chunk(now + hard_end + dt.timedelta(seconds=1), identifier=ident)
    assert partials.prune_abandoned(rt.storage, now=now + hard_end) == 1
    assert assert_exact(user.id)["reserved_files"] == 0


# --- item 2: byte ranges, not a running total -------------------------------------------------------------

def test_a_missing_range_is_refused_not_zero_filled(live_server, rt, user, key):
    data = os.urandom(100)
    ident = send_chunk(live_server.url, key, data[:40], 0, 39, 100).json()["partialIdentifier"]
    assert send_chunk(live_server.url, key, data[60:], 60, 99, 100, x_zipline_p_identifier=ident).status_code == 200
    res = send_chunk(live_server.url, key, data[60:], 60, 99, 100, last=True, x_zipline_p_identifier=ident)
    assert res.status_code == 400
    assert res.json() == {"error": "Upload is incomplete: bytes 40-59 of 100 are missing; send them, then the last "
                                   "chunk again", "statusCode": 400, "code": "incomplete"}
    assert count(File) == 0
    listed = fetch("GET", live_server.url + "/api/user/files/incomplete", headers={"Authorization": key}).json()
    assert listed[0]["bytesReceived"] == 80  # the resent range counted once
    assert send_chunk(live_server.url, key, data[40:60], 40, 59, 100, x_zipline_p_identifier=ident).status_code == 200
    done = send_chunk(live_server.url, key, data[60:], 60, 99, 100, last=True, x_zipline_p_identifier=ident)
    assert done.status_code == 200
    assert fetch("GET", f"{live_server.url}/raw/{done.json()['files'][0]['name']}").content == data
    assert assert_exact(user.id)["used_bytes"] == 100


@pytest.mark.parametrize("attempt", REPEAT)
@pytest.mark.parametrize("protocol", ["identifier", "token"])
def test_parallel_identical_last_chunks_finish_exactly_once(live_server, rt, user, key, protocol, attempt):
    _bytes_quota(rt, user)
    data = os.urandom(4000)
    first = send_chunk(live_server.url, key, data[:2000], 0, 1999, 4000).json()
    follow = {"x_zipline_p_identifier": first["partialIdentifier"]} if protocol == "identifier" else \
        {"x_zipline_p_token": first["partialToken"]}
    responses = burst(12, lambda i: send_chunk(live_server.url, key, data[2000:], 2000, 3999, 4000, last=True,
                                               **follow), workers=12)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1 and all(400 <= s < 500 for s in statuses if s != 200), statuses
    assert count(File) == 1 and count(PartialUpload) == 0
    name = next(r for r in responses if r.status_code == 200).json()["files"][0]["name"]
    assert fetch("GET", f"{live_server.url}/raw/{name}").content == data
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["reserved_bytes"]) == (4000, 0)
    assert list(rt.storage.temp.iterdir()) == []


# --- item 5 (chunked route) and the same checks the plain route makes --------------------------------------

def test_chunked_empty_file_and_empty_chunk_are_400(live_server, user, key):
    empty = send_chunk(live_server.url, key, b"", 0, 0, 0, last=True)
    assert empty.status_code == 400 and empty.json()["error"] == \
        "Empty files cannot be uploaded (content-range total is 0)"
    chunk = send_chunk(live_server.url, key, b"", 0, 9, 10)
    assert chunk.status_code == 400 and chunk.json()["error"] == "Chunk is empty"
    none = fetch("POST", live_server.url + "/api/upload/partial", data={"x": "y"},
                 headers={"Authorization": key, "Content-Range": "bytes 0-9/10"})
    assert none.status_code == 400 and none.json()["error"] == "No files were uploaded"
    assert count(PartialUpload) == 0 and assert_exact(user.id)["reserved_files"] == 0


class TestDisabledExtensions:
    @pytest.fixture
    def overrides(self):
        return {"files": {"disabled_extensions": [".exe"]}}

    def test_chunked_upload_of_a_disabled_extension_is_refused_at_once(self, live_server, user, key):
        res = send_chunk(live_server.url, key, b"MZ", 0, 1, 10, x_zipline_p_filename="tool.EXE")
        assert res.status_code == 400 and res.json()["error"] == "File extension .EXE is not allowed"
        assert count(PartialUpload) == 0


def test_an_upload_in_too_many_separate_pieces_is_refused(client, user, key):
    from zipshort.services.partials import MAX_PIECES

    total = 4 * MAX_PIECES
    headers = {"Authorization": key, "x-zipline-p-filename": "holes.bin",
               "x-zipline-p-content-type": "application/octet-stream"}

    def chunk(start: int, ident: str | None = None):
        extra = {"x-zipline-p-identifier": ident} if ident else {}
        return client.post("/api/upload/partial", headers={**headers, **extra,
                                                            "Content-Range": f"bytes {start}-{start}/{total}"},
                           data={"file": (io.BytesIO(b"x"), "blob")}, content_type="multipart/form-data")

    ident = chunk(0).get_json()["partialIdentifier"]
    for n in range(1, MAX_PIECES):
        assert chunk(2 * n, ident).status_code == 200, n
    refused = chunk(2 * MAX_PIECES, ident)
    assert refused.status_code == 400 and refused.get_json()["code"] == "too_many_pieces"
    assert chunk(1, ident).status_code == 200  # a chunk next to others joins two pieces: fine
