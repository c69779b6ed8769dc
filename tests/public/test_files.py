"""/u, /raw and /r: the serving policy per type, Range, downloads, limits, expiry and passwords."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter

import pytest

from tests.conftest import burst, fetch
from zipshort.extensions import db
from zipshort.models import File

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def put(api, name, content, ctype, headers=None) -> str:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["files"][0]["name"]


def assert_sandboxed(res):
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize("filename,ctype,served,inline", [
    ("a.png", "image/png", "image/png", True),
    ("a.txt", "text/plain", "text/plain", True),
    ("a.py", "text/x-python", "text/plain", True),
    ("a.html", "text/html", "application/octet-stream", False),
    ("X.HTML", "text/html", "application/octet-stream", False),
    ("a.svg", "image/svg+xml", "application/octet-stream", False),
    ("a.xhtml", "application/xhtml+xml", "application/octet-stream", False),
    ("a.xml", "text/xml", "application/octet-stream", False),
    ("a.js", "text/javascript", "application/octet-stream", False),
    ("a.png", "text/html", "application/octet-stream", False),
    ("a.html", "image/png", "application/octet-stream", False),
    ("a.bin", "application/x-whatever", "application/octet-stream", False),
])
def test_serving_policy(api, client, filename, ctype, served, inline):
    name = put(api, filename, b"<script>alert(1)</script>", ctype)
    for prefix in ("/u/", "/raw/"):
        res = client.get(prefix + name)
        assert res.status_code == 200 and res.mimetype == served
        assert res.headers["Content-Disposition"].startswith("inline" if inline else "attachment")
        assert_sandboxed(res)


def test_download_parameter_forces_attachment(api, client):
    name = put(api, "a.png", PNG, "image/png")
    assert client.get(f"/raw/{name}?download").headers["Content-Disposition"].startswith("attachment")


def test_original_name_is_the_download_name(api, client):
    name = put(api, "holiday photo.png", PNG, "image/png", {"x-zipline-original-name": "true"})
    disposition = client.get(f"/raw/{name}?download").headers["Content-Disposition"]
    assert disposition == 'attachment; filename="holiday photo.png"'


def test_r_redirects_permanently_to_raw(client, api):
    name = put(api, "a.png", PNG, "image/png")
    res = client.get(f"/r/{name}")
    assert res.status_code == 301 and res.headers["Location"] == f"/raw/{name}"


@pytest.mark.parametrize("header,status,body", [
    ("bytes=0-3", 206, PNG[0:4]), ("bytes=-4", 206, PNG[-4:]), ("bytes=260-", 206, PNG[260:]),
    ("bytes=5000-6000", 416, None),
])
def test_range_requests(api, client, header, status, body):
    name = put(api, "a.png", PNG, "image/png")
    res = client.get(f"/raw/{name}", headers={"Range": header})
    assert res.status_code == status
    if body is not None:
        assert res.data == body


def test_conditional_request_is_304(api, client):
    name = put(api, "a.png", PNG, "image/png")
    etag = client.get(f"/u/{name}").headers["ETag"]
    assert client.get(f"/u/{name}", headers={"If-None-Match": etag}).status_code == 304


def test_unknown_file_is_404(client):
    assert client.get("/u/nothing.png").status_code == 404
    assert client.get("/u/..%2f..%2fetc%2fpasswd").status_code == 404


def test_limited_file_is_served_exactly_max_views_times(api, app):
    name = put(api, "a.png", PNG, "image/png", {"x-zipline-max-views": "2"})
    first_visitor = app.test_client()
    first = first_visitor.get(f"/u/{name}", headers={"Range": "bytes=0-3"})
    assert first.status_code == 206 and first.data == PNG[:4] and first.headers["Cache-Control"] == "no-store"
    assert app.test_client().get(f"/u/{name}").status_code == 200
    gone = app.test_client().get(f"/u/{name}")
    assert gone.status_code == 404 and PNG[:8] not in gone.data
    assert first_visitor.get(f"/u/{name}", headers={"Range": "bytes=4-"}).data == PNG[4:]  # their view goes on


def test_head_does_not_count(api, client):
    name = put(api, "a.png", PNG, "image/png", {"x-zipline-max-views": "1"})
    assert client.head(f"/u/{name}").status_code == 200
    assert client.get(f"/u/{name}").status_code == 200


def test_expired_file_is_gone(api, client):
    name = put(api, "a.png", PNG, "image/png")
    db.session.query(File).update({"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
    db.session.commit()
    assert client.get(f"/u/{name}").status_code == 404


def test_password_protected_file(api, client):
    name = put(api, "a.png", PNG, "image/png", {"x-zipline-password": "pw-12345"})
    page = client.get(f"/u/{name}")
    assert page.status_code == 200 and PNG[:8] not in page.data and b"file is protected" in page.data
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    wrong = client.post(f"/u/{name}", data={"password": "nope", "csrf_token": token})
    assert wrong.status_code == 403 and PNG[:8] not in wrong.data
    right = client.post(f"/u/{name}", data={"password": "pw-12345", "csrf_token": token})
    assert right.status_code == 200 and right.data == PNG and right.headers["Cache-Control"] == "no-store"
    assert client.post(f"/u/{name}", data={"password": "pw-12345"}).status_code == 400  # no CSRF token


@pytest.mark.parametrize("attempt", range(3))
def test_parallel_downloads_of_a_one_view_file_serve_it_once(live_server, api, attempt):
    name = put(api, "a.png", PNG, "image/png", {"x-zipline-max-views": "1"})
    responses = burst(40, lambda i: fetch("GET", f"{live_server.url}/u/{name}"), workers=40)
    assert Counter(r.status_code for r in responses) == {200: 1, 404: 39}
    assert next(r for r in responses if r.status_code == 200).content == PNG
    assert all(PNG[:8] not in r.content for r in responses if r.status_code == 404)


class TestNginxOffload:
    @pytest.fixture
    def overrides(self):
        return {"files": {"offload": "x-accel-redirect"}}

    def test_offload_header_and_view_still_counted(self, api, client, rt):
        name = put(api, "a.png", PNG, "image/png", {"x-zipline-max-views": "1"})
        res = client.get(f"/u/{name}")
        key = db.session.query(File).one().storage_key
        assert res.status_code == 200 and res.data == b""
        assert res.headers["X-Accel-Redirect"] == f"/_zipshort_files/{key}"
        assert res.headers["Content-Type"] == "image/png" and res.headers["X-Content-Type-Options"] == "nosniff"
        assert client.application.test_client().get(f"/u/{name}").status_code == 404  # another visitor


class TestSendfileOffload:
    @pytest.fixture
    def overrides(self):
        return {"files": {"offload": "x-sendfile"}}

    def test_sendfile_header_points_inside_the_store(self, api, client, rt):
        name = put(api, "a.html", b"<p>", "text/html")
        res = client.get(f"/u/{name}")
        assert res.headers["X-Sendfile"].startswith(str(rt.storage.root))
        assert res.headers["Content-Type"] == "application/octet-stream"
        assert res.headers["Content-Disposition"].startswith("attachment")
