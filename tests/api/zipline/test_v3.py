"""Zipline v3's POST /api/shorten: body, headers, texts and the v3 error shape."""

from __future__ import annotations

import pytest

from tests.conftest import count
from zipshort.models import Link


def shorten(client, key, body=None, headers=None, raw=None):
    headers = {"Authorization": key, **(headers or {})}
    if raw is not None:
        return client.post("/api/shorten", data=raw, headers=headers)
    return client.post("/api/shorten", json=body, headers=headers)


@pytest.fixture
def key(user, make_key):
    return make_key(user)


def test_shorten_returns_url(client, key):
    res = shorten(client, key, {"url": "https://example.com/v3", "vanity": "old"})
    assert res.status_code == 200 and res.get_json() == {"url": "http://localhost/go/old"}
    assert client.get("/go/old").headers["Location"] == "https://example.com/v3"


def test_shorten_no_json_header_gives_text(client, key):
    res = shorten(client, key, {"url": "https://example.com/"}, {"No-JSON": "true"})
    assert res.mimetype == "text/plain" and res.get_data(as_text=True).startswith("http://localhost/go/")


def test_shorten_max_views_header(client, key):
    shorten(client, key, {"url": "https://example.com/", "vanity": "once"}, {"Max-Views": "1"})
    assert client.get("/go/once").status_code == 302
    assert client.get("/go/once").status_code == 404


@pytest.mark.parametrize("body,raw,message", [
    (None, "", "no body"), ({}, None, "no body"), ({"vanity": "x"}, None, "no url"),
    ({"url": "https://e.com/", "vanity": "   "}, None, "vanity is empty"),
])
def test_shorten_bad_body_uses_v3_texts_and_shape(client, key, body, raw, message):
    res = shorten(client, key, body, raw=raw)
    assert res.status_code == 400 and res.get_json() == {"error": message, "code": 400}
    assert count(Link) == 0


@pytest.mark.parametrize("value,message", [("x", "invalid max views (invalid number)"),
                                           ("-2", "invalid max views (max views < 0)")])
def test_shorten_bad_max_views(client, key, value, message):
    res = shorten(client, key, {"url": "https://e.com/"}, {"Max-Views": value})
    assert res.get_json() == {"error": message, "code": 400}


def test_shorten_taken_vanity(client, key):
    shorten(client, key, {"url": "https://e.com/", "vanity": "dup"})
    assert shorten(client, key, {"url": "https://e.com/", "vanity": "dup"}).get_json() == \
        {"error": "vanity already exists", "code": 400}


def test_shorten_without_authorization_is_403_no_authorization(client):
    res = client.post("/api/shorten", json={"url": "https://e.com/"})
    assert res.status_code == 403 and res.get_json() == {"error": "no authorization", "code": 403}


def test_shorten_with_wrong_authorization_is_401(client):
    res = client.post("/api/shorten", json={"url": "https://e.com/"}, headers={"Authorization": "nope"})
    assert res.status_code == 401 and res.get_json() == {"error": "authorization incorect", "code": 401}


class TestOverrideDomain:
    @pytest.fixture
    def overrides(self):
        return {"domains": ["short.example"]}

    def test_override_domain_must_be_allowed(self, client, key):
        ok = shorten(client, key, {"url": "https://e.com/", "vanity": "od"}, {"Override-Domain": "short.example"})
        assert ok.get_json() == {"url": "http://short.example/go/od"}
        bad = shorten(client, key, {"url": "https://e.com/"}, {"Override-Domain": "evil.example"})
        assert bad.status_code == 400 and count(Link) == 1


def test_shorten_zws_gives_an_invisible_code_that_redirects(client, key):
    res = shorten(client, key, {"url": "https://example.com/zws"}, {"Zws": "true"})
    code = res.get_json()["url"].rsplit("/go/", 1)[1]
    assert len(code) >= 16 and set(code) <= set("\u200b\u2060\u200c\u200d")
    assert client.get(f"/go/{code}").headers["Location"] == "https://example.com/zws"
    assert client.get("/go/" + code[:-1]).status_code == 404


def test_parallel_zws_shortens_give_distinct_codes(client, key):
    from tests.conftest import burst

    urls = burst(12, lambda i: shorten(client, key, {"url": f"https://example.com/{i}"}, {"Zws": ""}).get_json()["url"])
    assert len(set(urls)) == 12 and count(Link) == 12
