"""Chunked uploads: Zipline 4.4's identifier protocol and 4.5+'s token protocol, limits and cleanup."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os

import pytest

from tests.conftest import Api, count
from zipshort.models import File, PartialUpload
from zipshort.services import accounts, partials

DATA = os.urandom(10_000)


def send(api, piece: bytes, start: int, end: int, total: int = len(DATA), last: bool = False, **headers):
    hdrs = {"Content-Range": f"bytes {start}-{end}/{total}", "x-zipline-p-filename": "big%20file.bin",
            "x-zipline-p-content-type": "application/octet-stream", "x-zipline-p-lastchunk": str(last).lower(),
            **{k.replace("_", "-"): v for k, v in headers.items()}}
    return api.post("/api/upload/partial", data={"file": [(io.BytesIO(piece), "blob", "application/octet-stream")]},
                    headers=hdrs, content_type="multipart/form-data")


def served(client, body) -> bytes:
    name = body["files"][0]["name"]
    return client.get(f"/raw/{name}").data


def test_identifier_protocol_with_exclusive_ends(api, client):
    first = send(api, DATA[:4000], 0, 4000).get_json()
    assert first["files"] == [] and first["partialSuccess"] is True
    ident = first["partialIdentifier"]
    send(api, DATA[4000:8000], 4000, 8000, x_zipline_p_identifier=ident)
    done = send(api, DATA[8000:], 8000, 10000, last=True, x_zipline_p_identifier=ident).get_json()
    assert served(client, done) == DATA and done["files"][0]["name"].endswith(".bin")
    row = File.query.one()
    assert row.sha256 == hashlib.sha256(DATA).hexdigest() and row.size == len(DATA)
    assert count(PartialUpload) == 0


def test_identifier_protocol_accepts_chunks_out_of_order(api, client):
    ident = send(api, DATA[:3000], 0, 2999).get_json()["partialIdentifier"]
    send(api, DATA[6000:], 6000, 9999, x_zipline_p_identifier=ident)
    done = send(api, DATA[3000:6000], 3000, 5999, last=True, x_zipline_p_identifier=ident)
    assert done.status_code == 200 and served(client, done.get_json()) == DATA


def test_token_protocol_with_inclusive_ends(api, client):
    token = send(api, DATA[:5000], 0, 4999).get_json()["partialToken"]
    body = send(api, DATA[5000:], 5000, 9999, last=True, x_zipline_p_token=token).get_json()
    assert served(client, body) == DATA


def test_token_is_single_use_and_chunks_must_be_in_order(api):
    token = send(api, DATA[:2000], 0, 1999).get_json()["partialToken"]
    assert send(api, DATA[4000:6000], 4000, 5999, x_zipline_p_token=token).status_code == 400
    nxt = send(api, DATA[2000:4000], 2000, 3999, x_zipline_p_token=token).get_json()["partialToken"]
    assert send(api, DATA[4000:6000], 4000, 5999, x_zipline_p_token=token).status_code == 404  # reused
    assert send(api, DATA[4000:6000], 4000, 5999, x_zipline_p_token=nxt).status_code == 200


def test_options_of_the_first_chunk_apply(api, client):
    ident = send(api, DATA[:5000], 0, 5000, x_zipline_max_views="1", x_zipline_format="uuid") \
        .get_json()["partialIdentifier"]
    body = send(api, DATA[5000:], 5000, 10000, last=True, x_zipline_p_identifier=ident).get_json()
    assert len(body["files"][0]["name"]) == 36 + 4
    assert client.get(f"/raw/{body['files'][0]['name']}").status_code == 200
    assert client.application.test_client().get(f"/raw/{body['files'][0]['name']}").status_code == 404  # one view


def test_incomplete_upload_is_refused_at_the_last_chunk(api):
    ident = send(api, DATA[:3000], 0, 3000).get_json()["partialIdentifier"]
    res = send(api, DATA[8000:], 8000, 10000, last=True, x_zipline_p_identifier=ident)
    assert res.status_code == 400 and count(File) == 0


@pytest.mark.parametrize("headers,status", [({"Content-Range": "bytes 0-10"}, 400), ({"Content-Range": "x"}, 400),
                                            ({"Content-Range": "bytes 5-1/10"}, 400)])
def test_bad_content_range(api, headers, status):
    res = api.post("/api/upload/partial", data={"file": [(io.BytesIO(b"x"), "a", "text/plain")]}, headers=headers,
                   content_type="multipart/form-data")
    assert res.status_code == status


def test_first_chunk_must_start_at_zero(api):
    assert send(api, DATA[:10], 10, 20).status_code == 400


def test_two_file_fields_are_refused(api):
    res = api.post("/api/upload/partial", headers={"Content-Range": "bytes 0-1/2"},
                   data={"file": [(io.BytesIO(b"a"), "a", "text/plain"), (io.BytesIO(b"b"), "b", "text/plain")]},
                   content_type="multipart/form-data")
    assert res.status_code == 400 and res.get_json()["error"] == "partial uploads only support one file field"


def test_unknown_or_foreign_identifier_is_404(api, client, make_user, make_key):
    ident = send(api, DATA[:10], 0, 10).get_json()["partialIdentifier"]
    other = Api(client, make_key(make_user("bob")))
    assert send(other, DATA[10:20], 10, 20, x_zipline_p_identifier=ident).status_code == 404
    assert send(api, DATA[10:20], 10, 20, x_zipline_p_identifier="nope").status_code == 404


class TestLimits:
    @pytest.fixture
    def overrides(self):
        return {"files": {"max_file_size": 8000}}

    def test_declared_size_over_the_limit_is_413_at_once(self, api):
        assert send(api, DATA[:10], 0, 10).status_code == 413
        assert count(PartialUpload) == 0

    def test_bytes_past_the_declared_total_are_413_and_the_session_is_gone(self, api, app):
        storage = app.extensions["zipshort"].storage
        ident = send(api, DATA[:10], 0, 10, total=5000).get_json()["partialIdentifier"]
        # the range claims to stay inside the file, the body is longer than the whole file
        res = send(api, DATA[:6000], 10, 4999, total=5000, x_zipline_p_identifier=ident)
        assert res.status_code == 413
        assert count(PartialUpload) == 0 and list(storage.temp.iterdir()) == [] and list(storage.keys()) == []


def test_quota_is_checked_on_the_whole_file(api, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(
        files_type="BY_BYTES", max_bytes=5000, max_bytes_text="5000")))
    res = send(api, DATA[:10], 0, 10)
    assert res.status_code == 413 and "storage quota of 5000 bytes" in res.get_json()["error"]


def test_abandoned_sessions_are_cleaned_up(api, app, rt):
    send(api, DATA[:10], 0, 10)
    storage = rt.storage
    assert count(PartialUpload) == 1 and list(storage.temp.iterdir())
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)
    assert partials.prune_abandoned(storage, now=later) == 1
    assert count(PartialUpload) == 0 and list(storage.temp.iterdir()) == []


def test_incomplete_files_are_listed_and_can_be_cancelled(api, client, app, make_user, make_key):
    first = send(api, DATA[:4000], 0, 3999).get_json()
    listed = api.get("/api/user/files/incomplete").get_json()
    assert len(listed) == 1
    entry = listed[0]
    assert entry["status"] == "PENDING" and entry["bytesTotal"] == len(DATA) and entry["bytesReceived"] == 4000
    assert entry["metadata"]["file"]["filename"] == "big file.bin" and entry["chunksTotal"] >= 1
    other = Api(client, make_key(make_user("bob")))
    assert other.get("/api/user/files/incomplete").get_json() == []
    assert other.delete("/api/user/files/incomplete", json={"id": [entry["id"]]}).get_json() == []
    assert count(PartialUpload) == 1
    assert api.delete("/api/user/files/incomplete", json={"id": "x"}).status_code == 400
    gone = api.delete("/api/user/files/incomplete", json={"id": [entry["id"]]}).get_json()
    assert [g["id"] for g in gone] == [entry["id"]] and count(PartialUpload) == 0
    # the cancelled session takes no more chunks
    res = send(api, DATA[4000:], 4000, 9999, last=True, x_zipline_p_token=first["partialToken"])
    assert res.status_code == 404 and count(File) == 0
