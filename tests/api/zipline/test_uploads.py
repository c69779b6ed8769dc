"""POST /api/upload: v4 and v3 shapes, headers, names, limits, quotas — and nothing half-written."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from tests.conftest import Api, count, fresh
from zipshort.models import File, User
from zipshort.services import accounts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(api, *parts, headers=None):
    data = {"file": [(io.BytesIO(content), name, ctype) for name, content, ctype in parts]}
    return api.post("/api/upload", data=data, headers=headers, content_type="multipart/form-data")


def blobs(app) -> list[str]:
    return list(app.extensions["zipshort"].storage.keys())


def test_upload_returns_v4_shape_and_the_file_serves_back(api, client, user):
    res = upload(api, ("shot.png", PNG, "image/png"))
    assert res.status_code == 200
    item = res.get_json()["files"][0]
    assert set(item) == {"id", "name", "type", "url"} and item["type"] == "image/png"
    assert re.fullmatch(r"[A-Za-z0-9]{6}\.png", item["name"])
    assert item["url"] == f"http://localhost/u/{item['name']}"
    served = client.get(f"/u/{item['name']}")
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    assert list(api.client.application.extensions["zipshort"].storage.temp.iterdir()) == []
    row = fresh(File, item["id"])
    assert row.sha256 == hashlib.sha256(PNG).hexdigest() and row.size == len(PNG)
    assert fresh(User, user.id).used_bytes == len(PNG) and fresh(User, user.id).file_count == 1


def test_upload_several_files_and_no_json_joins_urls_with_commas(api):
    res = upload(api, ("a.txt", b"a", "text/plain"), ("b.txt", b"b", "text/plain"),
                 headers={"x-zipline-no-json": "true"})
    urls = res.get_data(as_text=True).split(",")
    assert res.mimetype == "text/plain" and len(urls) == 2 and all(u.startswith("http://localhost/u/") for u in urls)


def test_upload_with_only_v3_headers_answers_in_v3_shape(api):
    res = upload(api, ("a.txt", b"hello", "text/plain"), headers={"Format": "UUID", "Original-Name": "x"})
    body = res.get_json()
    assert isinstance(body["files"][0], str) and re.search(r"/u/[0-9a-f-]{36}\.txt$", body["files"][0])


def test_upload_v3_no_json_presence_gives_text(api):
    res = upload(api, ("a.txt", b"hello", "text/plain"), headers={"No-JSON": ""})
    assert res.mimetype == "text/plain" and res.get_data(as_text=True).startswith("http://localhost/u/")


@pytest.mark.parametrize("fmt,pattern", [("random", r"[A-Za-z0-9]{6}\.txt"), ("uuid", r"[0-9a-f-]{36}\.txt"),
                                         ("date", r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.txt"),
                                         ("name", r"my_notes\.txt"), ("gfycat", r"[a-z]+-[a-z]+-[a-z]+\.txt"),
                                         ("random-words", r"[a-z]+-[a-z]+-[a-z]+\.txt")])
def test_upload_name_formats(api, fmt, pattern):
    res = upload(api, ("my notes.txt", b"x", "text/plain"), headers={"x-zipline-format": fmt})
    assert re.fullmatch(pattern, res.get_json()["files"][0]["name"])


def test_upload_date_format_collisions_get_a_suffix(api):
    names = [upload(api, ("n.txt", b"x", "text/plain"), headers={"x-zipline-format": "date"}).get_json()
             ["files"][0]["name"] for _ in range(2)]
    assert names[0] != names[1]


def test_upload_name_format_collision_is_refused_and_nothing_kept(api, app):
    upload(api, ("same.txt", b"x", "text/plain"), headers={"x-zipline-format": "name"})
    res = upload(api, ("same.txt", b"y", "text/plain"), headers={"x-zipline-format": "name"})
    assert res.status_code == 409 and count(File) == 1 and len(blobs(app)) == 1


def test_upload_bad_format_is_400(api):
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-format": "weird"})
    assert res.status_code == 400 and res.get_json()["error"] == "bad options: [x-zipline-format]: Invalid format"


def test_upload_filename_override_and_extension(api):
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-filename": "report%20final"})
    assert res.get_json()["files"][0]["name"] == "report final.txt"
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-file-extension": "md"})
    assert res.get_json()["files"][0]["name"].endswith(".md")


@pytest.mark.parametrize("value", ["..%2f..%2fetc%2fpasswd", "%2e%2e%2fx", "a/b", "..\\x", "a%00b", "%", "%ZZ",
                                   "a%5cb", ".hidden"])
def test_upload_dangerous_filename_override_is_400_and_nothing_kept(api, app, value):
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-filename": value})
    assert res.status_code == 400 and count(File) == 0 and blobs(app) == []


def test_upload_traversal_in_multipart_name_is_only_metadata(api, app, client):
    res = upload(api, ("../../etc/passwd", b"x", "text/plain"),
                 headers={"x-zipline-original-name": "true", "x-zipline-format": "name"})
    name = res.get_json()["files"][0]["name"]
    assert "/" not in name and ".." not in name
    row = File.query.filter_by(name=name).one()
    assert row.original_name == "passwd"
    root = app.extensions["zipshort"].storage.root
    assert all((root / key).resolve().is_relative_to(root) for key in blobs(app))


def test_upload_max_views_password_and_expiry_headers(api, client):
    res = upload(api, ("a.txt", b"x", "text/plain"),
                 headers={"x-zipline-max-views": "2", "x-zipline-password": "pw-12345", "x-zipline-deletes-at": "1d"})
    body = res.get_json()
    row = File.query.filter_by(id=body["files"][0]["id"]).one()
    assert row.max_views == 2 and row.password_hash and row.expires_at is not None
    assert body["deletesAt"].endswith("Z")


def test_upload_deletes_at_never(api):
    assert upload(api, ("a.txt", b"x", "text/plain"),
                  headers={"x-zipline-deletes-at": "never"}).get_json()["deletesAt"] == "never"


@pytest.mark.parametrize("header,value", [("x-zipline-max-views", "abc"), ("x-zipline-max-views", "-1"),
                                          ("x-zipline-deletes-at", "yesterday"),
                                          ("x-zipline-deletes-at", "date=2001-01-01T00:00:00Z"),
                                          ("x-zipline-domain", "evil.example")])
def test_upload_bad_header_values_are_400_and_nothing_kept(api, app, header, value):
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={header: value})
    assert res.status_code == 400 and count(File) == 0 and blobs(app) == []


def test_upload_partial_content_range_is_refused(api):
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={"Content-Range": "bytes 0-0/1"})
    assert res.status_code == 400


def test_upload_without_files_is_400(api):
    assert api.post("/api/upload", data={}, content_type="multipart/form-data").status_code == 400


def test_upload_needs_auth_and_files_write(client, user, make_key, app):
    assert upload(Api(client, "nope"), ("a.txt", b"x", "text/plain")).status_code == 401
    reader = Api(client, make_key(user, scopes=["files:read"]))
    assert upload(reader, ("a.txt", b"x", "text/plain")).status_code == 403
    assert blobs(app) == []


class TestLimits:
    @pytest.fixture
    def overrides(self):
        return {"files": {"max_file_size": 1000, "disabled_extensions": [".exe"]}}

    def test_too_large_is_413_and_nothing_kept(self, api, app):
        res = upload(api, ("ok.txt", b"x" * 10, "text/plain"), ("big.bin", b"x" * 1001, "application/octet-stream"))
        assert res.status_code == 413
        assert res.get_json()["error"] == "file[1]: File size is too large. Maximum file size is 1000 bytes"
        assert count(File) == 0 and blobs(app) == []
        assert list(app.extensions["zipshort"].storage.temp.iterdir()) == []

    def test_disabled_extension_is_400(self, api, app):
        res = upload(api, ("tool.EXE", b"MZ", "application/octet-stream"))
        assert res.status_code == 400 and ".EXE" in res.get_json()["error"] and blobs(app) == []


def test_quota_by_bytes_is_413_with_zipline_text(api, app, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(
        files_type="BY_BYTES", max_bytes=100, max_bytes_text="100b")))
    assert upload(api, ("a.bin", b"x" * 60, "application/octet-stream")).status_code == 200
    res = upload(api, ("b.bin", b"x" * 60, "application/octet-stream"))
    assert res.status_code == 413
    assert res.get_json()["error"] == "uploading will exceed your storage quota of 100 bytes"
    assert count(File) == 1 and len(blobs(app)) == 1 and fresh(User, user.id).used_bytes == 60


def test_quota_by_files_is_413_with_zipline_text(api, app, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(files_type="BY_FILES", max_files=2)))
    res = upload(api, *[(f"{i}.txt", b"x", "text/plain") for i in range(3)])
    assert res.status_code == 413
    assert res.get_json()["error"] == "uploading will exceed your file count quota of 2 files"
    assert count(File) == 0 and blobs(app) == []


def test_upload_of_several_megabytes_through_multipart(api, client):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    data = bytes(range(256)) * 16384  # 4 MiB
    # Encoded here: the test client would spool a body this large to a temp file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), "big.bin",
                                                           content_type="application/octet-stream")})
    res = api.post("/api/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert client.get(f"/raw/{res.get_json()['files'][0]['name']}").data == data


class TestExpirationSettings:
    @pytest.fixture
    def overrides(self):
        return {"files": {"default_expiration": "7d", "max_expiration": "30d"}}

    def test_default_expiration_applies(self, api):
        import datetime as dt

        item = upload(api, ("a.txt", b"x", "text/plain")).get_json()["files"][0]
        row = fresh(File, item["id"])
        days = (row.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400
        assert 6.9 < days <= 7

    @pytest.mark.parametrize("value", ["never", "60d", "1y"])
    def test_longer_than_the_maximum_is_refused(self, api, value):
        res = upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-deletes-at": value})
        assert res.status_code == 400
        assert res.get_json()["error"] == ("bad options: [x-zipline-deletes-at]: "
                                           "Expiry exceeds maximum allowed expiration of 30d")

    def test_within_the_maximum_is_fine(self, api):
        assert upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-deletes-at": "2d"}).status_code == 200


class TestContentDomain:
    @pytest.fixture
    def overrides(self):
        return {"files": {"content_domain": "content.example"}}

    def test_file_urls_use_the_content_domain_and_other_hosts_redirect(self, api, client):
        item = upload(api, ("a.png", PNG, "image/png")).get_json()["files"][0]
        assert item["url"] == f"http://content.example/u/{item['name']}"
        away = client.get(f"/u/{item['name']}?download", headers={"Host": "app.example"})
        assert away.status_code == 307 and away.headers["Location"] == \
            f"http://content.example/u/{item['name']}?download"
        assert client.get(f"/u/{item['name']}", headers={"Host": "content.example"}).data == PNG
        assert client.get("/api/healthcheck", headers={"Host": "app.example"}).status_code == 200


ZWS = "\u200b\u2060\u200c\u200d"


def test_v3_zws_names_files_with_zero_width_characters_and_they_serve(api, client, live_server):
    res = upload(api, ("shot.png", PNG, "image/png"), headers={"Zws": "true"})
    url = res.get_json()["files"][0]
    name = url.rsplit("/u/", 1)[1]
    assert name.endswith(".png") and len(name) >= 20 and set(name[:-4]) <= set(ZWS)
    assert client.get(f"/u/{name}").data == PNG
    # through the real server, as a browser sends it: percent-encoded UTF-8
    from urllib.parse import quote

    import requests

    served = requests.get(live_server.url + "/raw/" + quote(name))
    assert served.status_code == 200 and served.content == PNG and served.headers["Content-Type"] == "image/png"
    text = upload(api, ("a.txt", b"x", "text/plain"), headers={"Zws": "", "No-JSON": ""}).get_data(as_text=True)
    assert set(text.rsplit("/u/", 1)[1][:-4]) <= set(ZWS)


def test_v3_upload_text_forces_text_plain(api, client):
    res = upload(api, ("notes.md", b"# hi", "application/octet-stream"), headers={"UploadText": "true"})
    name = res.get_json()["files"][0].rsplit("/u/", 1)[1]
    assert fresh(File, File.query.filter_by(name=name).one().id).type == "text/plain"


def test_zws_is_not_a_v4_format(api):
    res = upload(api, ("a.txt", b"x", "text/plain"), headers={"x-zipline-format": "zws"})
    assert res.status_code == 400
