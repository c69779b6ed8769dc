"""Zipline's RATELIMIT_* on uploads and link creation: per user and route, chunked uploads count once,
admins and allow-listed addresses skip it, v3 callers get v3's text."""

from __future__ import annotations

import io

import pytest

from tests.api.zipline.test_partial import DATA, send
from tests.conftest import Api, burst, count
from zipshort.models import File, Link, Role


@pytest.fixture
def overrides():
    return {"ratelimit": {"enabled": True, "max": 3, "window": 60}}


def upload(api, headers=None):
    return api.post("/api/upload", data={"file": [(io.BytesIO(b"x"), "a.txt", "text/plain")]}, headers=headers,
                    content_type="multipart/form-data")


def test_uploads_over_the_limit_are_429_and_links_count_apart(api):
    assert [upload(api).status_code for _ in range(3)] == [200, 200, 200]
    res = upload(api)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
    assert res.get_json()["error"].startswith("Rate limit exceeded, retry in")
    assert count(File) == 3
    made = [api.post("/api/user/urls", json={"destination": f"https://a.example/{i}"}).status_code for i in range(4)]
    assert made == [200, 200, 200, 429] and count(Link) == 3


def test_v3_callers_get_v3_text_and_header(api):
    for _ in range(3):
        assert upload(api, {"No-JSON": ""}).status_code == 200
    res = upload(api, {"No-JSON": ""})
    assert res.status_code == 429
    body = res.get_json()
    assert body["code"] == 429 and body["error"].startswith("ratelimited - try again in ")
    assert res.headers["X-Ratelimit-Remaining"] == res.headers["Retry-After"]
    for i in range(3):
        assert api.post("/api/shorten", json={"url": f"https://a.example/{i}"}).status_code == 200
    assert api.post("/api/shorten", json={"url": "https://a.example/x"}).status_code == 429


def test_each_user_has_their_own_counter(client, api, make_user, make_key):
    for _ in range(3):
        upload(api)
    other = Api(client, make_key(make_user("bob")))
    assert upload(other).status_code == 200 and upload(api).status_code == 429


def test_a_chunked_upload_counts_once(api, client):
    token = send(api, DATA[:4000], 0, 3999).get_json()["partialToken"]
    token = send(api, DATA[4000:8000], 4000, 7999, x_zipline_p_token=token).get_json()["partialToken"]
    assert send(api, DATA[8000:], 8000, 9999, last=True, x_zipline_p_token=token).status_code == 200
    assert [upload(api).status_code for _ in range(3)] == [200, 200, 429]


def test_parallel_uploads_let_exactly_max_through(api):
    statuses = burst(10, lambda i: upload(api).status_code)
    assert sorted(statuses) == [200] * 3 + [429] * 7 and count(File) == 3


def test_administrators_skip_it(client, make_user, make_key):
    admin = Api(client, make_key(make_user("root", role=Role.ADMIN)))
    assert all(upload(admin).status_code == 200 for _ in range(5))


class TestAllowList:
    @pytest.fixture
    def overrides(self):
        return {"ratelimit": {"enabled": True, "max": 1, "window": 60, "allow_list": ["127.0.0.1"]}}

    def test_allow_listed_addresses_skip_it(self, api):
        assert all(upload(api).status_code == 200 for _ in range(3))


class TestOff:
    @pytest.fixture
    def overrides(self):
        return {}

    def test_no_limit_when_off(self, api):
        assert all(upload(api).status_code == 200 for _ in range(12))
