"""What spends a view: one GET that returns a link's redirect or a file's beginning; never HEAD, 416
answers, link-preview bots reading a /view page, or a viewer's mid-file Range requests (a video player
seeking); a mid-file Range of a limited file without the viewer's grant counts like a download."""

from __future__ import annotations

import io

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import burst, fetch, fresh, only_link
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


@pytest.mark.parametrize("fields,status", [({}, 302), ({"max_views": 3}, 302), ({"title": "smart"}, 302),
                                           ({"password": "secret-1"}, 200)],
                         ids=["plain", "limited", "smart", "protected"])
def test_head_of_link_does_not_count(client, make_link, user, fields, status):
    make_link(user, vanity="hd", **fields)
    for _ in range(3):
        assert client.head("/go/hd").status_code == status  # the redirect, or the password page
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
        assert client.get("/go/hb").status_code == 302  # read (a miss), counted in the buffer, cached now
        assert client.get("/go/hb").status_code == 302  # from the cache, counted in the buffer
        for _ in range(5):
            assert client.head("/go/hb").headers["Location"] == "https://example.com/"
        assert rt.views.pending(link.id) == 2 and fresh(Link, link.id).views == 0
        visits.flush_views(db.engine, rt.views)
        assert fresh(Link, link.id).views == 2

    @pytest.mark.parametrize("overrides", [{"urls": {"view_flush_seconds": 60.0, "cache_seconds": 0}}])
    def test_a_cache_miss_of_an_unlimited_link_writes_nothing(self, client, make_link, user, rt):
        """Every visit misses the cache (cache_seconds = 0): each reads the link, none writes it."""
        link = make_link(user, vanity="miss")
        for _ in range(6):
            assert client.get("/go/miss").headers["Location"] == "https://example.com/"
        assert rt.views.pending(link.id) == 6 and fresh(Link, link.id).views == 0
        visits.flush_views(db.engine, rt.views)
        assert fresh(Link, link.id).views == 6

    @pytest.mark.parametrize("overrides", [{"urls": {"view_flush_seconds": 60.0, "cache_seconds": 0}}])
    def test_a_cache_miss_of_a_limited_link_is_still_counted_exactly(self, client, make_link, user, rt):
        link = make_link(user, vanity="lmiss", max_views=3)
        assert [client.get("/go/lmiss").status_code for _ in range(5)] == [302, 302, 302, 404, 404]
        assert rt.views.pending(link.id) == 0 and fresh(Link, link.id).views == 3

    def test_head_of_a_cached_link_reads_nothing(self, client, make_link, user, rt):
        """A HEAD of a link the cache holds is answered from it: even a link deleted behind the cache's back
        (another process) answers from the cache until the entry's time is up, as a GET does."""
        link = make_link(user, vanity="hcache")
        assert client.get("/go/hcache").status_code == 302  # cached now
        db.session.execute(sa.delete(Link).where(Link.id == link.id))  # not through this process's door
        db.session.commit()
        assert client.head("/go/hcache").headers["Location"] == "https://example.com/"
        rt.link_cache.clear()
        assert client.head("/go/hcache").status_code == 404

    def test_views_of_an_unlimited_file_wait_in_memory_until_flushed(self, api, client, rt):
        row = put(api, "a.bin", DATA, "application/octet-stream")
        for _ in range(3):
            assert client.get(f"/raw/{row.name}").data == DATA
        assert rt.file_views.pending(row.id) == 3 and views_of(row) == 0
        assert visits.flush_views(db.engine, rt.views, files=rt.file_views) == 3
        assert views_of(row) == 3 and rt.file_views.pending(row.id) == 0

    def test_a_limited_file_is_still_counted_exactly_in_the_database(self, api, app, rt):
        row = put(api, "a.bin", DATA, "application/octet-stream", max_views=2)
        viewers = [app.test_client() for _ in range(3)]  # each without the grant another one holds
        assert [viewer.get(f"/raw/{row.name}").status_code for viewer in viewers] == [200, 200, 404]
        assert rt.file_views.pending(row.id) == 0 and views_of(row) == 2

    def test_a_burst_of_downloads_counts_every_view(self, api, live_server, rt):
        row = put(api, "a.bin", DATA, "application/octet-stream")
        url = f"{live_server.url}/raw/{row.name}"
        assert burst(200, lambda i: fetch("GET", url).status_code) == [200] * 200
        visits.flush_views(db.engine, rt.views, files=rt.file_views)
        assert views_of(row) == 200

    def test_a_failed_flush_gives_the_file_views_back(self, api, client, rt):
        row = put(api, "a.bin", DATA, "application/octet-stream")
        client.get(f"/raw/{row.name}")
        broken = sa.create_engine("sqlite:////nonexistent/dir/db.sqlite")
        with pytest.raises(sa.exc.OperationalError):
            visits.flush_views(broken, rt.views, files=rt.file_views)
        assert rt.file_views.pending(row.id) == 1

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
def test_range_counts_only_from_the_first_byte_for_a_viewer(api, client, limit, header, status, body, counted):
    """Unlimited files count from byte 0 only; a viewer who spent a view of a limited file (and so holds its
    grant) spends nothing more, whatever range they ask for."""
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=limit)
    if limit:
        assert client.get(f"/raw/{row.name}", headers={"Range": "bytes=0-0"}).status_code == 206
    res = client.get(f"/raw/{row.name}", headers={"Range": header})
    assert res.status_code == status and res.data == body
    if status == 206:
        assert res.headers["Content-Range"].endswith(f"/{len(DATA)}")
    assert views_of(row) == (1 if limit else counted)


@pytest.mark.parametrize("header", ["bytes=1-", "bytes=100-199", "bytes=-24"])
def test_mid_file_range_without_a_grant_spends_a_view_of_a_limited_file(api, app, header):
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=1)
    stranger = app.test_client()
    assert stranger.get(f"/raw/{row.name}", headers={"Range": header}).status_code == 206
    assert views_of(row) == 1
    for _ in range(20):
        assert app.test_client().get(f"/raw/{row.name}", headers={"Range": "bytes=1-"}).status_code == 404
    assert views_of(row) == 1


def test_a_grant_is_for_one_file_and_cannot_be_forged(api, app):
    first, second = (put(api, f"{n}.bin", DATA, "application/octet-stream", max_views=3) for n in "ab")
    viewer = app.test_client()
    assert viewer.get(f"/raw/{first.name}").status_code == 200
    grant = next(c for c in viewer._cookies.values() if c.key.startswith("zsv-"))
    assert grant.path == f"/raw/{first.name}"
    assert viewer.get(f"/raw/{first.name}", headers={"Range": "bytes=10-"}).status_code == 206
    assert views_of(first) == 1
    thief = app.test_client()
    thief.set_cookie(grant.key, grant.value, path=f"/raw/{second.name}")
    assert thief.get(f"/raw/{second.name}", headers={"Range": "bytes=10-"}).status_code == 206
    assert views_of(second) == 1  # a grant of another file does not count here
    forged = app.test_client()
    forged.set_cookie(grant.key, grant.value.split(".")[0] + ".0" * 16, path=f"/raw/{first.name}")
    assert forged.get(f"/raw/{first.name}", headers={"Range": "bytes=10-"}).status_code == 206
    assert views_of(first) == 2


@pytest.mark.parametrize("limit", [None, 5], ids=["unlimited", "limited"])
def test_unsatisfiable_range_names_the_size(api, client, limit):
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=limit)
    res = client.get(f"/u/{row.name}", headers={"Range": "bytes=4096-"})
    assert res.status_code == 416 and res.headers["Content-Range"] == f"bytes */{len(DATA)}"
    assert views_of(row) == 0


def test_limited_file_is_no_longer_served_in_pieces_once_used_up(api, client, app):
    row = put(api, "a.bin", DATA, "application/octet-stream", max_views=1)
    assert client.get(f"/raw/{row.name}").status_code == 200
    res = app.test_client().get(f"/raw/{row.name}", headers={"Range": "bytes=100-"})
    assert res.status_code == 404 and DATA[100:120] not in res.data
    assert client.get(f"/raw/{row.name}", headers={"Range": "bytes=100-"}).data == DATA[100:]  # the viewer's own


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


def test_limited_file_survives_a_players_seeks_and_heads_on_a_real_server(live_server, api):
    row = put(api, "movie.mp4", DATA, "video/mp4", max_views=2)
    base = live_server.url
    with requests.Session() as player:  # a browser's video element: one cookie jar
        assert player.get(f"{base}/raw/{row.name}", headers={"Range": "bytes=0-"}).status_code == 206
        for i in range(10):
            res = player.get(f"{base}/raw/{row.name}", headers={"Range": f"bytes={100 + i}-"})
            assert res.status_code == 206 and res.content == DATA[100 + i:]
    for prefix in ("/u/", "/raw/", "/view/", "/u/", "/raw/", "/view/", "/u/", "/raw/", "/view/", "/raw/"):
        assert fetch("HEAD", f"{base}{prefix}{row.name}").status_code == 200
    for _ in range(3):
        assert fetch("GET", f"{base}/raw/{row.name}", headers={"Range": "bytes=9999-"}).status_code == 416
    assert views_of(row) == 1
    assert fetch("GET", f"{base}/u/{row.name}").content == DATA
    assert fetch("GET", f"{base}/u/{row.name}").status_code == 404
    assert fetch("GET", f"{base}/raw/{row.name}", headers={"Range": "bytes=100-"}).status_code == 404
    assert views_of(row) == 2


def test_link_survives_heads_on_a_real_server(live_server, make_link, user):
    make_link(user, vanity="once", max_views=1)
    for _ in range(10):
        assert fetch("HEAD", f"{live_server.url}/go/once").status_code == 302
    assert fetch("GET", f"{live_server.url}/go/once").headers["Location"] == "https://example.com/"
    assert fetch("GET", f"{live_server.url}/go/once").status_code == 404


class TestOffloaded:
    """nginx (X-Accel-Redirect) applies the Range itself: the request's Range decides (a mid-file range
    of a limited file without a viewer's grant counts like a whole download)."""

    @pytest.fixture
    def overrides(self):
        return {"files": {"offload": "x-accel-redirect"}}

    @pytest.mark.parametrize("header,counted", [(None, 1), ("bytes=0-99", 1), ("bytes=100-", 1), ("bytes=-10", 1),
                                                ("bytes=4096-", 0), ("bytes=abc", 1)])
    def test_offloaded_range_counts_only_from_the_first_byte(self, api, client, header, counted):
        row = put(api, "a.bin", DATA, "application/octet-stream", max_views=3)
        res = client.get(f"/raw/{row.name}", headers={"Range": header} if header else None)
        assert res.status_code == 200 and "X-Accel-Redirect" in res.headers
        assert views_of(row) == counted
