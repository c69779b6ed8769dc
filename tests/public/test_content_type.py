"""Content-Type of served files: text carries ``charset=utf-8`` exactly once on every serving path."""

from __future__ import annotations

import io
import uuid

import pytest

from tests.conftest import s3_overrides
from zipshort.extensions import db
from zipshort.models import File

TEXT_PLAIN = "text/plain; charset=utf-8"


def upload(api, name, content, ctype, headers=None) -> str:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["files"][0]["name"]


def store_type(name: str, declared: str) -> None:
    """A type as an older version or an import may have stored it (with parameters)."""
    db.session.query(File).filter_by(name=name).update({"type": declared})
    db.session.commit()


@pytest.mark.parametrize("path", ["/u/{}", "/raw/{}", "/raw/{}?download"])
@pytest.mark.parametrize("filename,ctype", [("a.txt", "text/plain"), ("a.py", "text/x-python"),
                                            ("a.csv", "text/csv")])
def test_text_file_names_its_charset_once(api, client, path, filename, ctype):
    name = upload(api, filename, b"hello\n", ctype)
    for method in (client.get, client.head):
        res = method(path.format(name))
        assert res.status_code == 200 and res.headers["Content-Type"] == TEXT_PLAIN


@pytest.mark.parametrize("declared,served", [
    ("text/plain; charset=utf-8", TEXT_PLAIN), ("TEXT/PLAIN;charset=ISO-8859-1", TEXT_PLAIN),
    ("image/png; q=1", "image/png"), ("text/html; charset=utf-8", "application/octet-stream"),
])
def test_stored_type_with_parameters_is_served_once(api, client, declared, served):
    name = upload(api, "a.txt" if declared.lower().startswith("text") else "a.png", b"x", "text/plain")
    if served == "image/png":
        name = upload(api, "a.png", b"\x89PNG\r\n\x1a\n", "image/png")
    store_type(name, declared)
    assert client.get(f"/raw/{name}").headers["Content-Type"] == served


def test_v3_upload_text_is_served_with_one_charset(api, client):
    res = api.post("/api/upload", data={"file": [(io.BytesIO(b"# hi"), "notes.md", "application/octet-stream")]},
                   headers={"UploadText": "true"}, content_type="multipart/form-data")
    name = res.get_json()["files"][0].rsplit("/u/", 1)[1]
    assert client.get(f"/u/{name}").headers["Content-Type"] == TEXT_PLAIN


def test_partial_upload_with_charset_in_its_type_is_served_once(api, client):
    data = b"line\n" * 10
    res = api.post("/api/upload/partial", data={"file": [(io.BytesIO(data), "blob", "application/octet-stream")]},
                   headers={"Content-Range": f"bytes 0-{len(data)}/{len(data)}", "x-zipline-p-filename": "a.txt",
                            "x-zipline-p-content-type": "text/plain; charset=utf-8", "x-zipline-p-lastchunk": "true"},
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    assert client.get(f"/raw/{res.get_json()['files'][0]['name']}").headers["Content-Type"] == TEXT_PLAIN


def test_view_page_of_a_text_file_is_html_once(api, client):
    res = client.get(f"/view/{upload(api, 'a.txt', b'hello', 'text/plain')}")
    assert res.headers["Content-Type"] == "text/html; charset=utf-8" and b"hello" in res.data


class TestOffloaded:
    @pytest.fixture
    def overrides(self):
        return {"files": {"offload": "x-accel-redirect"}}

    def test_offloaded_text_names_its_charset_once(self, api, client):
        name = upload(api, "a.txt", b"hello", "text/plain")
        assert client.get(f"/raw/{name}").headers["Content-Type"] == TEXT_PLAIN


class TestFromS3:
    @pytest.fixture
    def overrides(self, s3_server):
        return s3_overrides(s3_server, f"ct-{uuid.uuid4().hex[:8]}")

    def test_streamed_text_names_its_charset_once(self, api, client):
        name = upload(api, "a.txt", b"hello", "text/plain")
        for method in (client.get, client.head):
            assert method(f"/raw/{name}").headers["Content-Type"] == TEXT_PLAIN
