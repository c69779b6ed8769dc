"""What spends a view: one GET that returns a link's redirect or a file's beginning; never HEAD,
mid-file Range requests, 416 answers or link-preview bots reading a /view page."""

from __future__ import annotations

import io

import pytest

from tests.conftest import fetch, fresh, only_link
from zipshort.extensions import db
from zipshort.models import File, Link
from zipshort.services import visits

DATA = bytes(range(256)) * 4  # 1 KiB
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
DISCORD = "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"


def put(api, name="a.png", content=PNG, ctype="image/png", max_views=None) -> File:
    headers = {"x-zipline-max-views": str(max_views)} if max_views else None
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    return fresh(File, res.get_json()["files"][0]["id"])


def views_of(row: File) -> int:
    return fresh(File, row.id).views


@pytest.mark.parametrize("fields", [{}, {"max_views": 3}, {"title": "smart"}, {"password": "secret-1"}],
                         ids=["plain", "limited", "smart", "protected"])
def test_head_of_link_does_not_count(client, make_link, user, fields):
    make_link(user, vanity="hd", **fields)
    for _ in range(3):
        assert client.head("/go/hd").status_code in (200, 302)
    assert only_link().views == 0
    client.get("/go/hd")
    assert only_link().views == (0 if "password" in fields else 1)


class TestBatchedViews:
    """With urls.view_flush_seconds > 0 unlimited links are counted in memory (counters.ViewBuffer)."""

    @pytest.fixture
    def overrides(self):
        return {"urls": {"view_flush_seconds": 60.0}}

    def test_head_of_cached_link_adds_nothing_to_the_buffer(self, client, make_link, user, rt):
        link = make_link(user, vanity="hb")
        assert client.get("/go/hb").status_code == 302  # counted by its statement; the link is cached now
        assert client.get("/go/hb").status_code == 302  # counted in the buffer
        for _ in range(5):
            assert client.head("/go/hb").headers["Location"] == "https://example.com/"
        assert rt.views.pending(link.id) == 1
        visits.flush_views(db.engine, rt.views)
        assert fresh(Link, link.id).views == 2

    def test_head_of_uncached_link_counts_nothing(self, client, make_link, user, rt):
        link = make_link(user, vanity="hc")
        for _ in range(5):
            assert client.head("/go/hc").headers["Location"] == "https://example.com/"
        assert rt.views.pending(link.id) == 0 and fresh(Link, link.id).views == 0


@pytest.mark.parametrize("prefix", ["/u/", "/raw/", "/view/"])
@pytest.mark.parametrize("name,ctype,content", [("a.png", "image/png", PNG), ("a.txt", "text/plain", b"hello")])
def test_head_of_file_does_not_count(api, client, prefix, name, ctype, content):
    row = put(api, name, content, ctype, max_views=1)
    for _ in range(3):
        assert client.head(prefix + row.name).status_code == 200
    assert views_of(row) == 0
    assert client.get(f"/raw/{row.name}").data == content


def test_head_through_r_does_not_count(api, client):
    row = put(api, max_views=1)
    assert client.head(f"/r/{row.name}").status_code == 301
    assert views_of(row) == 0


@pytest.mark.parametrize("limit", [None, 5], ids=["unlimited", "limited"])
@pytest.mark.parametrize("header,status,body,counted", [
    ("bytes=0-9", 206, DATA[:10], 1),
    ("bytes=0-", 206, DATA, 1),
    ("bytes=100-199", 206, DATA[100:200], 0),
    ("bytes=1000-", 206, DATA[1000:], 0),
    ("bytes=-24", 206, DATA[-24:], 0),
    ("bytes=5000-6000", 416, b"", 0),
])
def test_range_counts_only_from_the_first_byte(api, client, limit, header, status, body, counted):
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=limit)
    res = client.get(f"/raw/{row.name}", headers={"Range": header})
    assert res.status_code == status and res.data == body
    if status == 206:
        assert res.headers["Content-Range"].endswith(f"/{len(DATA)}")
    assert views_of(row) == counted


@pytest.mark.parametrize("limit", [None, 5], ids=["unlimited", "limited"])
def test_unsatisfiable_range_names_the_size(api, client, limit):
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=limit)
    res = client.get(f"/u/{row.name}", headers={"Range": "bytes=4096-"})
    assert res.status_code == 416 and res.headers["Content-Range"] == f"bytes */{len(DATA)}"
    assert views_of(row) == 0


def test_limited_file_is_no_longer_served_in_pieces_once_used_up(api, client):
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=1)
    assert client.get(f"/raw/{row.name}").status_code == 200
    res = client.get(f"/raw/{row.name}", headers={"Range": "bytes=100-"})
    assert res.status_code == 404 and DATA[100:120] not in res.data


def test_preview_bot_reading_view_spends_no_view_and_gets_no_text(api, client):
    row = put(api, "notes.txt", b"the secret text", "text/plain", max_views=1)
    res = client.get(f"/view/{row.name}", headers={"User-Agent": DISCORD})
    assert res.status_code == 200 and b"the secret text" not in res.data
    assert views_of(row) == 0
    assert b"the secret text" in client.get(f"/view/{row.name}").data
    assert views_of(row) == 1


def test_preview_of_limited_image_has_no_og_image_for_bots(api, client):
    row = put(api, max_views=1)
    html = client.get(f"/view/{row.name}", headers={"User-Agent": DISCORD}).get_data(as_text=True)
    assert "og:image" not in html
    assert f'src="/raw/{row.name}"' not in html
    assert "og:image" in client.get(f"/view/{put(api).name}", headers={"User-Agent": DISCORD}).get_data(as_text=True)


def test_limited_file_survives_mid_file_ranges_and_heads_on_a_real_server(live_server, api):
    row = put(api, "movie.mp4", DATA, "video/mp4", max_views=2)
    base = live_server.url
    for i in range(10):
        res = fetch("GET", f"{base}/raw/{row.name}", headers={"Range": f"bytes={100 + i}-"})
        assert res.status_code == 206 and res.content == DATA[100 + i:]
    for prefix in ("/u/", "/raw/", "/view/", "/u/", "/raw/", "/view/", "/u/", "/raw/", "/view/", "/raw/"):
        assert fetch("HEAD", f"{base}{prefix}{row.name}").status_code == 200
    for _ in range(3):
        assert fetch("GET", f"{base}/raw/{row.name}", headers={"Range": "bytes=9999-"}).status_code == 416
    assert fetch("GET", f"{base}/raw/{row.name}", headers={"Range": "bytes=0-"}).status_code == 206
    assert fetch("GET", f"{base}/u/{row.name}").content == DATA
    assert fetch("GET", f"{base}/u/{row.name}").status_code == 404
    assert views_of(row) == 2


def test_link_survives_heads_on_a_real_server(live_server, make_link, user):
    make_link(user, vanity="once", max_views=1)
    for _ in range(10):
        assert fetch("HEAD", f"{live_server.url}/go/once").status_code == 302
    assert fetch("GET", f"{live_server.url}/go/once").headers["Location"] == "https://example.com/"
    assert fetch("GET", f"{live_server.url}/go/once").status_code == 404


class TestOffloaded:
    """nginx (X-Accel-Redirect) applies the Range itself: the request's Range decides."""

    @pytest.fixture
    def overrides(self):
        return {"files": {"offload": "x-accel-redirect"}}

    @pytest.mark.parametrize("header,counted", [(None, 1), ("bytes=0-99", 1), ("bytes=100-", 0), ("bytes=-10", 0),
                                                ("bytes=4096-", 0), ("bytes=abc", 1)])
    def test_offloaded_range_counts_only_from_the_first_byte(self, api, client, header, counted):
        row = put(api, "a.bin", DATA, "application/octet-stream", max_views=3)
        res = client.get(f"/raw/{row.name}", headers={"Range": header} if header else None)
        assert res.status_code == 200 and "X-Accel-Redirect" in res.headers
        assert views_of(row) == counted
