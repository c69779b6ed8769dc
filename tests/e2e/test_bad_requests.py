"""Hostile requests: against the real server (huge headers, traversal and odd paths, smuggling), and through
every dialect (surrogates, deep nesting, far dates, control characters, numbers beyond their columns, wrong
methods) — each answered with a 4xx in the caller's dialect naming the field, never a 500."""

from __future__ import annotations

import datetime as dt
import io
import json
import socket

import pytest

from tests.conftest import Api, count, fetch
from zipshort import inputs
from zipshort.config import ConfigError, load_settings
from zipshort.errors import ValidationError
from zipshort.models import File, Invite, Link, Role, Tag, User
from zipshort.services import apikeys, folders, links


def raw_request(url: str, payload: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


def test_huge_headers_are_refused_and_the_server_keeps_serving(live_server, make_link, user):
    make_link(user, vanity="alive")
    payload = b"GET /go/alive HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * (300 * 1024) + b"\r\nConnection: close\r\n\r\n"
    answer = raw_request(live_server.url, payload)
    # waitress answers before it has read the request line's version, so in HTTP/1.0
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.0 431 Request Header Fields Too Large", answer[:200]
    assert fetch("GET", f"{live_server.url}/go/alive").status_code == 302


@pytest.mark.parametrize("path", ["/go/..%2F..%2Fetc%2Fpasswd", "/go/%2e%2e/secret", "/go/..%5C..%5Cx",
                                  "/go/a%00b", "/go/" + "a" * 8000, "/go/", "/go"])
def test_odd_link_paths_are_not_found(live_server, path):
    answer = raw_request(live_server.url, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    assert status == 404 and b"root:" not in answer


def test_smuggled_second_request_is_not_executed(live_server, make_link, user, make_key):
    key = make_key(user)
    smuggled = (f"POST /api/user/urls HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 45\r\n\r\n"
                '{"destination":"https://e.com/","vanity":"zz"}')
    payload = (f"POST /api/healthcheck HTTP/1.1\r\nHost: x\r\nContent-Length: {len(smuggled)}\r\n"
               f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n{smuggled}").encode()
    raw_request(live_server.url, payload)
    assert fetch("GET", f"{live_server.url}/go/zz").status_code == 404


# --- Bad input never yields a 500 (issue 10): every dialect answers 400 in its own shape, naming the field ---

MESSAGE_KEY = {"zipline": "error", "v3": "error", "hozip": "detail", "h0p": "message", "hoko": "error"}
STYLE = {"zipline": "raw", "v3": "raw", "hozip": "token", "h0p": "x-api-key", "hoko": "bearer"}
URL = "https://example.com/a"


@pytest.fixture
def folder_id(user):
    return folders.create_folder(user, "bad-requests").id


@pytest.fixture
def send(client, user, make_key, folder_id):
    """send(dialect, method, path, body) with a full-scope key in the dialect's header style; body is JSON text
    (``{folder}`` replaced by a folder of the caller's) or bytes."""
    key = make_key(user)

    def call(dialect: str, method: str, path: str, body: str | bytes, headers: dict | None = None):
        data = body.replace("{folder}", folder_id) if isinstance(body, str) else body
        return Api(client, key, STYLE[dialect]).open(path, method=method, data=data, headers={
            "Content-Type": "application/json", **(headers or {})})

    return call


def refusal(dialect: str, res) -> str:
    """The 400's message in the dialect's own key, after checking it is a validation refusal, not the
    database's (the DataError fallback must never be the path)."""
    body = res.get_json()
    assert res.status_code == 400, (res.status_code, body)
    assert "invalid_value" not in (body.get("code"), body.get("error_code")), body
    return body[MESSAGE_KEY[dialect]]


def json_text(value) -> str:
    """JSON with lone surrogates as \\u escapes, as a hostile client sends them."""
    return json.dumps(value)


SURROGATE_CASES = [
    ("zipline", "POST", "/api/user/urls", {"destination": URL, "title": "\ud800"}, "title"),
    ("zipline", "POST", "/api/user/urls", {"destination": URL + "\udfff"}, "destination"),
    ("zipline", "POST", "/api/user/tags", {"name": "a\ud800b", "color": "#aabbcc"}, "name"),
    ("zipline", "POST", "/api/user/folders", {"name": "x", "\ud800": 1}, "field name"),
    ("v3", "POST", "/api/shorten", {"url": URL + "\ud800"}, "url"),
    ("hozip", "POST", "/api/v1/external/links/create-link", {"long_url": URL + "\ud800"}, "long_url"),
    ("h0p", "POST", "/short-link", {"destination": {"type": "link", "value": URL}, "metaTags": {"title": "\udbff"}},
     "metaTags.title"),
    ("h0p", "POST", "/short-link", {"destination": {"type": "link", "value": URL}, "tags": ["ok", "\ud800"]},
     "tags[1]"),
    ("hoko", "POST", "/api/links", [{"url": URL, "collectionId": "{folder}", "title": "\ud800"}], "body[0].title"),
]


@pytest.mark.parametrize("dialect,method,path,body,field", SURROGATE_CASES, ids=lambda v: str(v)[:30])
def test_lone_surrogate_in_a_string_is_refused_naming_the_field(send, dialect, method, path, body, field):
    message = refusal(dialect, send(dialect, method, path, json_text(body)))
    assert field in message and "surrogate" in message


@pytest.mark.parametrize("dialect,path", [("zipline", "/api/user/urls"), ("v3", "/api/shorten"), ("h0p", "/short-link"),
                                          ("hozip", "/api/v1/external/links/create-link"), ("hoko", "/api/links")])
def test_encoded_surrogate_bytes_are_not_json(send, dialect, path):
    res = send(dialect, "POST", path, b'{"url": "\xed\xa0\x80", "destination": "\xed\xa0\x80"}')
    assert res.status_code == 400 and "body" in refusal(dialect, res).lower()


DEEP = "[" * 10_000 + "]" * 10_000
DEEP_CASES = [
    ("zipline", "POST", "/api/user/urls", DEEP, "body"),
    ("zipline", "POST", "/api/user/urls", '{"destination": "%s", "rules": %s}' % (URL, DEEP), "rules"),
    ("zipline", "POST", "/api/user/urls", '{"destination": "%s", "qrOptions": {"options": %s}}' % (URL, DEEP),
     "qrOptions.options"),
    ("v3", "POST", "/api/shorten", '{"url": %s}' % ('{"a":' * 5000 + "1" + "}" * 5000), "url.a.a.a"),
    ("hozip", "POST", "/api/v1/external/links/create-link", DEEP, "body"),
    ("h0p", "POST", "/short-link", '{"qrCode": {"options": %s}}' % DEEP, "qrCode.options"),
    ("h0p", "POST", "/short-link", '{"metaTags": %s}' % ('{"a":' * 40 + "1" + "}" * 40), "metaTags.a.a.a"),
    ("h0p", "POST", "/short-link", '{"rules": [{"destination": %s}]}' % DEEP, "rules[0].destination"),
    ("hoko", "POST", "/api/links", '[{"url": "%s", "utm": %s}]' % (URL, DEEP), "body[0].utm"),
    ("hoko", "POST", "/api/links", DEEP, "body"),
]


@pytest.mark.parametrize("dialect,method,path,body,field", DEEP_CASES, ids=lambda v: str(v)[:30])
def test_deeply_nested_json_is_refused_naming_the_field(send, dialect, method, path, body, field):
    message = refusal(dialect, send(dialect, method, path, body))
    assert message.startswith(field + " ") and f"at most {inputs.MAX_DEPTH} levels" in message


def test_nesting_up_to_the_limit_is_accepted(send):
    view = {"a": 1}  # with the body and qrOptions around it: MAX_DEPTH levels in all
    for _ in range(inputs.MAX_DEPTH - 3):
        view = {"a": view}
    res = send("zipline", "POST", "/api/user/urls", json_text({"destination": URL, "qrOptions": {"options": view}}))
    assert res.status_code == 200, res.get_json()


def test_deep_zipline_view_settings_are_refused_naming_view(client, user):
    client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    res = client.patch("/api/user", data='{"view": %s}' % DEEP, content_type="application/json")
    assert refusal("zipline", res).startswith("view is nested too deeply")


@pytest.mark.parametrize("body,field", [('{"n": NaN}', "n"), ('{"n": -Infinity}', "n"), ('{"n": 1e999}', "n"),
                                        ('{"n": 9007199254740993}', "n"),
                                        ('[{"maxClicks": 1e400}]', "body[0].maxClicks")])
def test_numbers_no_client_can_mean_are_refused(send, body, field):
    message = refusal("h0p", send("h0p", "POST", "/short-link", body))
    assert message.startswith(field + " must be")


ISO_FIELD_CASES = [
    ("zipline", "POST", "/api/user/urls", {"destination": URL}),
    ("h0p", "POST", "/short-link", {"destination": {"type": "link", "value": URL}}),
]
FAR_DATES = ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59+14:00", "+999999-01-01", "0001-01-01T00:00:00+14:00",
             "1969-12-31T23:59:59Z", 253402300800000, -1, True, "2099-01-01T00:00:00" + "0" * 100]


@pytest.mark.parametrize("value", FAR_DATES, ids=str)
@pytest.mark.parametrize("dialect,method,path,body", ISO_FIELD_CASES, ids=lambda v: str(v)[:20])
def test_far_or_malformed_expiry_date_is_refused_naming_the_field(send, dialect, method, path, body, value):
    message = refusal(dialect, send(dialect, method, path, json_text({**body, "expiresAt": value})))
    assert message.startswith("expiresAt must be")


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "+999999-01-01", "0001-01-01T00:00:00+14:00"])
def test_far_expiry_on_edit_is_refused_in_zipline_and_h0p(send, user, make_link, value):
    link = make_link(user)
    assert refusal("zipline", send("zipline", "PATCH", f"/api/user/urls/{link.id}",
                                   json_text({"expiresAt": value}))).startswith("expiresAt must be")
    assert refusal("h0p", send("h0p", "PATCH", f"/short-link/{link.id}",
                               json_text({"expiresAt": value}))).startswith("expiresAt must be")


def test_expiry_inside_the_range_is_kept_in_utc(send):
    res = send("h0p", "POST", "/short-link", json_text({"destination": {"type": "link", "value": URL},
                                                        "expiresAt": "9998-12-31T10:00:00-05:00"}))
    assert res.status_code == 201 and res.get_json()["expiresAt"] == "9998-12-31T15:00:00.000Z"


FAR_DURATIONS = ["999999999999y", "9" * 40 + "ms", "8000y", "date=9999-12-31T23:59:59-14:00", "date=+999999-01-01",
                 "date=0001-01-01T00:00:00+14:00", "1e400d", "-1d", "0s", "x" * 100]


@pytest.mark.parametrize("value", FAR_DURATIONS)
def test_far_upload_expiry_headers_are_refused_naming_the_header(client, api, value):
    v4 = api.post("/api/upload", headers={"x-zipline-deletes-at": value},
                  data={"file": (io.BytesIO(b"hi"), "a.txt")})
    v3 = api.post("/api/upload", headers={"Expires-At": value}, data={"file": (io.BytesIO(b"hi"), "a.txt")})
    assert v4.status_code == 400 and v4.get_json()["error"].startswith("bad options: [x-zipline-deletes-at]: ")
    assert v3.status_code == 400 and v3.get_json()["error"].startswith("bad options: [expires-at]: ")
    assert count(File) == 0


def test_far_expiry_on_a_partial_upload_is_refused(api):
    res = api.post("/api/upload/partial", headers={"x-zipline-deletes-at": "999999999999y",
                                                   "Content-Range": "bytes 0-1/4"},
                   data={"file": (io.BytesIO(b"hi"), "a.txt")})
    assert res.status_code == 400 and "x-zipline-deletes-at" in res.get_json()["error"]


@pytest.mark.parametrize("value", ["999999999999y", "date=9999-12-31T23:59:59-14:00", "date=+999999-01-01", 5, []])
def test_far_invite_expiry_is_refused_naming_the_field(client, make_user, make_key, value):
    admin = make_user("root", role=Role.ADMIN)
    res = Api(client, make_key(admin, scopes=["admin"])).post("/api/auth/invites", json={"expiresAt": value})
    assert refusal("zipline", res).startswith("expiresAt")
    assert count(Invite) == 0


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "+999999-01-01", "1969-01-01T00:00:00Z", 1e12])
def test_far_api_key_expiry_is_refused_naming_the_field(client, user, value):
    client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    res = client.post("/api/user/keys", json={"name": "k", "scopes": ["links:read"], "expiresAt": value})
    assert refusal("zipline", res).startswith("expiresAt must be")


def test_services_refuse_far_expiries_whoever_parsed_them(rt, user, make_link):
    far = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-14)))
    with pytest.raises(ValidationError, match="expiresAt must be between"):
        links.create_link(rt, user, links.NewLink(destination=URL, expires_at=far))
    with pytest.raises(ValidationError, match="expiresAt must be between"):
        links.update_link(rt, user, make_link(user).id, links.LinkChanges(expires_at=far))
    with pytest.raises(ValidationError, match="expiresAt must be between"):
        apikeys.create_key(rt, apikeys.Actor.of(user), user, name="k", expires_at=far)


@pytest.mark.parametrize("value", ["999999999999y", "30 fortnights", "never", "date=2099-01-01"])
def test_expiration_settings_must_be_durations_inside_the_range(tmp_path, value):
    with pytest.raises(ConfigError, match="files.max_expiration"):
        load_settings({"core": {"secret": "s" * 40}, "files": {"max_expiration": value}}, environ={},
                      instance_path=tmp_path)


CONTROL_CASES = [
    ("h0p", "/short-link", {"destination": {"type": "link", "value": URL}, "tags": ["a\u0000b"]}, "tags"),
    ("h0p", "/short-link", {"destination": {"type": "link", "value": URL}, "tags": ["a\u0001b"]}, "tags"),
    ("h0p", "/short-link", {"destination": {"type": "link", "value": URL}, "metaTags": {"title": "a\u001bb"}},
     "metaTags.title"),
    ("zipline", "/api/user/urls", {"destination": URL, "title": "a\u0007"}, "title"),
    ("zipline", "/api/user/urls", {"destination": URL, "description": "a\u0000"}, "description"),
    ("zipline", "/api/user/urls", {"destination": URL, "utm": {"source": "a\u007f"}}, "utm.source"),
    ("zipline", "/api/user/urls", {"destination": URL, "tags": ["\u0085"]}, "tags"),
    ("hoko", "/api/links", [{"url": URL, "collectionId": "{folder}", "externalId": "a\u0002"}], "externalId"),
    ("hoko", "/api/links", [{"url": URL, "collectionId": "{folder}", "description": "a\u000bb"}], "description"),
    ("hoko", "/api/links", [{"url": URL, "collectionId": "{folder}", "partnerId": "\u0001" * 36}], "partnerId"),
    ("zipline", "/api/user/tags", {"name": "a\u0000b", "color": "#aabbcc"}, "name"),
    ("zipline", "/api/user/folders", {"name": "a\u0000b"}, "name"),
]


@pytest.mark.parametrize("dialect,path,body,field", CONTROL_CASES, ids=lambda v: str(v)[:30])
def test_control_characters_are_refused_alike_on_every_database(send, dialect, path, body, field):
    message = refusal(dialect, send(dialect, "POST", path, json_text(body)))
    assert field in message
    assert count(Link) == 0 and count(Tag) == 0


def test_multiline_fields_keep_tabs_and_line_breaks(send):
    res = send("zipline", "POST", "/api/user/urls", json_text({"destination": URL, "description": "a\tb\r\nc"}))
    assert res.status_code == 200 and res.get_json()["description"] == "a\tb\r\nc"


@pytest.mark.parametrize("path", ["/api/user/urls?searchField=destination&searchQuery=a%00b",
                                  "/api/v1/external/links?long_url=a%00b", "/short-link/list?page=1%00"])
def test_nul_in_a_query_parameter_is_refused_naming_it(send, path):
    dialect = "hozip" if "external" in path else "h0p" if "short-link" in path else "zipline"
    name = path.split("?")[1].split("=")[-2].split("&")[-1]
    assert name in refusal(dialect, send(dialect, "GET", path, b""))


def test_nul_in_a_form_field_is_refused_naming_it(client, user):
    client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    res = client.post("/dashboard/folders", data="name=a%00b", content_type="application/x-www-form-urlencoded")
    assert res.status_code == 400 and b"name contains a NUL character" in res.data


def test_percent_encoded_surrogate_in_the_filename_header_is_refused(api):
    res = api.post("/api/upload", headers={"x-zipline-filename": "%ED%A0%80"},
                   data={"file": (io.BytesIO(b"hi"), "a.txt")})
    assert res.status_code == 400 and "x-zipline-filename" in res.get_json()["error"]


def test_partial_upload_filename_header_is_cleaned_before_it_is_stored(api):
    res = api.post("/api/upload/partial", data={"file": (io.BytesIO(b"hi"), "x.txt")},
                   headers={"x-zipline-p-filename": "a%00b%01.txt", "Content-Range": "bytes 0-1/4"})
    assert res.status_code == 200, res.get_json()
    assert [s["metadata"]["file"]["filename"] for s in api.get("/api/user/files/incomplete").get_json()] == ["ab.txt"]


@pytest.mark.parametrize("quota,message", [
    ({"filesType": "BY_BYTES", "maxBytes": "9" * 15 + "pb"}, "Invalid maxBytes"),
    ({"filesType": "BY_BYTES", "maxBytes": "9" * 400}, "Invalid maxBytes"),
    ({"filesType": "BY_BYTES", "maxBytes": 1e300}, "Invalid maxBytes"),
    ({"filesType": "BY_FILES", "maxFiles": 2**40}, "Invalid maxFiles"),
    ({"filesType": "NONE", "maxUrls": 2**40}, "Invalid maxUrls"),
    ({"filesType": "NONE", "maxUrls": "9" * 30}, "Invalid maxUrls"),
])
def test_quota_numbers_beyond_their_columns_are_refused(client, make_user, make_key, quota, message):
    admin = make_user("root", role=Role.SUPERADMIN)
    res = Api(client, make_key(admin, scopes=["admin"])).post("/api/users", json={
        "username": "bob", "password": "pw-123456", "quota": quota})
    assert refusal("zipline", res).startswith(message)
    assert count(User) == 1  # the user is not created when the quota is refused


def test_avatar_longer_than_its_column_is_refused(client, make_user, make_key, user):
    admin = make_user("root", role=Role.SUPERADMIN)
    res = Api(client, make_key(admin, scopes=["admin"])).patch(f"/api/users/{user.id}", json={"avatar": "x" * 256})
    assert refusal("zipline", res) == "avatar must be at most 255 characters"


@pytest.mark.parametrize("dialect,method,path,allowed", [
    ("zipline", "PUT", "/api/upload", "POST"), ("v3", "DELETE", "/api/shorten", "POST"),
    ("hozip", "PUT", "/api/v1/external/links/create-link", "POST"), ("h0p", "PUT", "/short-link", "POST"),
    ("hoko", "GET", "/api/links", "POST")])
def test_wrong_method_is_405_saying_so_with_an_allow_header(send, dialect, method, path, allowed):
    res = send(dialect, method, path, b"")
    body = res.get_json()
    assert res.status_code == 405 and allowed in res.headers["Allow"].split(", ")
    message = body["message" if dialect == "zipline" else MESSAGE_KEY[dialect]]
    assert message.startswith(f"Method {method} is not allowed on {path}") and "not found" not in message
    if dialect == "zipline":  # Zipline's routing-error shape is kept
        assert set(body) == {"message", "error", "statusCode"} and body["error"] == "Method Not Allowed"


@pytest.mark.parametrize("dialect,path", [("zipline", "/api/user/files?page=99999999999999999"),
                                          ("hozip", "/api/v1/external/links?offset=99999999999999999"),
                                          ("h0p", "/short-link/list?page=" + "9" * 30)])
def test_pages_past_any_offset_a_database_takes_are_refused_naming_the_parameter(send, dialect, path):
    name = "offset" if "offset=" in path else "page"
    assert refusal(dialect, send(dialect, "GET", path, b"")) == f"{name} is out of range"


@pytest.mark.parametrize("path", ["/dashboard/urls", "/dashboard/files"])
def test_dashboard_pages_past_any_offset_do_not_fail(client, user, path):
    client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    assert client.get(f"{path}?page={'9' * 30}").status_code < 500


@pytest.mark.parametrize("value", ["\u00b2", "9" * 5000, "-" + "9" * 5000])
def test_max_views_header_that_int_cannot_read_is_refused(api, value):
    res = api.post("/api/upload", headers={"x-zipline-max-views": value}, data={"file": (io.BytesIO(b"hi"), "a.txt")})
    assert res.status_code == 400 and res.get_json()["error"].startswith("bad options: [x-zipline-max-views]: ")


@pytest.mark.parametrize("dialect,path,name", [("zipline", "/api/user/recent?take=%C2%B2", "take"),
                                               ("zipline", "/api/user/files?page=" + "9" * 5000, "page"),
                                               ("hozip", "/api/v1/external/links?limit=" + "9" * 5000, "limit")])
def test_numbers_int_cannot_read_in_query_parameters_are_refused(send, dialect, path, name):
    assert refusal(dialect, send(dialect, "GET", path, b"")).startswith(f"{name} must be")
