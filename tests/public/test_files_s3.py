"""The same file flows with files.storage = "s3", against SeaweedFS: upload, stream, Range, delete, chunks, fsck."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from tests.conftest import count, s3_overrides
from zipshort.models import File
from zipshort.services.maintenance import fsck

DATA = os.urandom(300_000)


@pytest.fixture
def overrides(s3_server):
    return s3_overrides(s3_server, f"app-{uuid.uuid4().hex[:8]}")


def put(api, content=DATA, name="a.bin", ctype="application/octet-stream", headers=None):
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["files"][0]


def test_upload_and_stream_back(api, client, rt):
    item = put(api)
    res = client.get(f"/raw/{item['name']}")
    assert res.status_code == 200 and res.data == DATA and res.headers["Content-Length"] == str(len(DATA))
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert list(rt.storage.keys()) == [File.query.one().storage_key]


@pytest.mark.parametrize("header,status,body", [("bytes=0-9", 206, DATA[:10]), ("bytes=-5", 206, DATA[-5:]),
                                                ("bytes=299990-", 206, DATA[299990:]),
                                                ("bytes=400000-500000", 416, b"")])
def test_ranges_from_s3(api, client, header, status, body):
    item = put(api)
    res = client.get(f"/raw/{item['name']}", headers={"Range": header})
    assert res.status_code == status and res.data == body


def test_etag_and_304(api, client):
    item = put(api)
    etag = client.get(f"/raw/{item['name']}").headers["ETag"]
    assert client.get(f"/raw/{item['name']}", headers={"If-None-Match": etag}).status_code == 304


def test_limited_file_from_s3_counts_the_first_byte_and_lets_its_viewer_seek(api, client, app):
    item = put(api, headers={"x-zipline-max-views": "1"})
    unsatisfiable = client.get(f"/raw/{item['name']}", headers={"Range": f"bytes={len(DATA)}-"})
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["Content-Range"] == f"bytes */{len(DATA)}"
    assert client.head(f"/raw/{item['name']}").status_code == 200
    first = client.get(f"/raw/{item['name']}", headers={"Range": "bytes=0-9"})
    assert first.status_code == 206 and first.data == DATA[:10]
    middle = client.get(f"/raw/{item['name']}", headers={"Range": "bytes=10-19"})  # the viewer seeks
    assert middle.status_code == 206 and middle.data == DATA[10:20] and middle.headers["Cache-Control"] == "no-store"
    stranger = app.test_client()
    assert stranger.get(f"/raw/{item['name']}", headers={"Range": "bytes=10-19"}).status_code == 404


def test_delete_removes_the_object(api, rt):
    item = put(api)
    assert api.delete(f"/api/user/files/{item['id']}").status_code == 200
    assert count(File) == 0 and list(rt.storage.keys()) == []


def test_chunked_upload_to_s3(api, client):
    first = api.post("/api/upload/partial", data={"file": [(io.BytesIO(DATA[:100_000]), "b", "x/y")]},
                     headers={"Content-Range": f"bytes 0-99999/{len(DATA)}", "x-zipline-p-filename": "big.bin"},
                     content_type="multipart/form-data").get_json()
    done = api.post("/api/upload/partial", data={"file": [(io.BytesIO(DATA[100_000:]), "b", "x/y")]},
                    headers={"Content-Range": f"bytes 100000-{len(DATA) - 1}/{len(DATA)}",
                             "x-zipline-p-token": first["partialToken"], "x-zipline-p-lastchunk": "true"},
                    content_type="multipart/form-data").get_json()
    assert client.get(f"/raw/{done['files'][0]['name']}").data == DATA


def test_fsck_on_s3(api, rt):
    put(api)
    orphan = rt.storage.write([b"orphan"])
    report = fsck(rt.storage, temp_age=__import__("datetime").timedelta(0))
    assert report.orphan_blobs == [orphan.key] and report.missing_blobs == []
