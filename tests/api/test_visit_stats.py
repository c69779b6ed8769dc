"""The visit analytics read API (Zipline dialect): stats of a link, a file, a user and the server; raw visits,
CSV, forgetting; scopes, ownership and bad input; reading while visits are written."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import Api, burst, fetch
from zipshort.events import LinkVisited, Visitor
from zipshort.extensions import db
from zipshort.models import Role
from zipshort.services import analytics

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
UTC = dt.timezone.utc
LISTS = ("referrers", "countries", "browsers", "os", "devices", "languages", "destinations")


def visit(client, path: str, agent: str = CHROME, referrer: str | None = None, address: str = "8.8.8.8",
          language: str = "en-GB") -> None:
    headers = {"User-Agent": agent, "Accept-Language": language}
    if referrer:
        headers["Referer"] = referrer
    assert client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address}).status_code in (200, 302, 404)


def stored(rt) -> int:
    return analytics.flush(rt, db.engine)


def test_link_stats_answer_every_field(rt, client, api, make_link, user):
    link = make_link(user, vanity="f1", destination="https://example.com/a")
    visit(client, "/go/f1", referrer="https://www.news.example/x")
    visit(client, "/go/f1", agent=FIREFOX, address="9.9.9.9", language="de-CH")
    visit(client, "/go/f1", agent=GOOGLEBOT)
    assert stored(rt) == 3
    res = api.get(f"/api/user/urls/{link.id}/stats?interval=hour&from=" + (dt.datetime.now(UTC) - dt.timedelta(hours=3))
                  .strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert res.status_code == 200, res.json
    body = res.json
    assert set(body) == {"from", "to", "interval", "tz", "total", "unique", "bots", "series", *LISTS}
    assert (body["interval"], body["tz"], body["total"], body["unique"], body["bots"]) == ("hour", "UTC", 2, 2, 1)
    assert len(body["series"]) == 4 and sum(s["count"] for s in body["series"]) == 2
    assert [s["count"] for s in body["series"]].count(0) >= 2  # empty hours are there, as zeros
    assert all(set(s) == {"start", "count", "unique"} and s["start"].endswith("+00:00") for s in body["series"])
    assert body["referrers"] == [{"value": "direct", "count": 1}, {"value": "news.example", "count": 1}]
    assert body["browsers"] == [{"value": "Chrome", "count": 1}, {"value": "Firefox", "count": 1}]
    assert body["os"] == [{"value": "Linux", "count": 1}, {"value": "Windows", "count": 1}]
    assert body["devices"] == [{"value": "desktop", "count": 2}]
    assert body["languages"] == [{"value": "de", "count": 1}, {"value": "en", "count": 1}]
    assert body["destinations"] == [{"value": "https://example.com/a", "count": 2}]
    assert sum(c["count"] for c in body["countries"]) == 2


@pytest.mark.parametrize("interval", ["hour", "day", "week", "month"])
def test_every_interval_has_every_bucket_with_zeros(rt, api, make_link, user, interval):
    link = make_link(user)
    res = api.get(f"/api/user/urls/{link.id}/stats?from=2026-01-01&to=2026-01-31&interval={interval}")
    assert res.status_code == 200
    expected = {"hour": 31 * 24, "day": 31, "week": 5, "month": 1}[interval]
    assert len(res.json["series"]) == expected and {s["count"] for s in res.json["series"]} == {0}
    assert res.json["total"] == 0 and all(res.json[k] == [] for k in LISTS)


def test_series_in_a_time_zone_across_the_dst_change(rt, api, make_link, user):
    link = make_link(user)
    for at in (dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC), dt.datetime(2026, 3, 29, 22, 30, tzinfo=UTC)):
        rt.visits.offer(LinkVisited(link_id=link.id, code=link.slug, at=at, visitor=Visitor(user_agent=CHROME)))
    stored(rt)
    res = api.get(f"/api/user/urls/{link.id}/stats?from=2026-03-28&to=2026-03-30&tz=America/New_York")
    assert [(s["start"], s["count"]) for s in res.json["series"]] == [
        ("2026-03-28T00:00:00-04:00", 1), ("2026-03-29T00:00:00-04:00", 1), ("2026-03-30T00:00:00-04:00", 0)]
    res = api.get(f"/api/user/urls/{link.id}/stats?from=2026-03-28&to=2026-03-30&tz=Europe/Berlin")
    assert [(s["start"], s["count"]) for s in res.json["series"]] == [
        ("2026-03-28T00:00:00+01:00", 0), ("2026-03-29T00:00:00+01:00", 1), ("2026-03-30T00:00:00+02:00", 1)]
    assert res.json["from"] == "2026-03-28T00:00:00+01:00" and res.json["to"] == "2026-03-31T00:00:00+02:00"


@pytest.mark.parametrize(("bots", "total"), [("exclude", 1), ("include", 2), ("only", 1), (None, 1)])
def test_bots_filter(rt, client, api, make_link, user, bots, total):
    link = make_link(user, vanity="b1")
    visit(client, "/go/b1")
    visit(client, "/go/b1", agent=GOOGLEBOT)
    stored(rt)
    res = api.get(f"/api/user/urls/{link.id}/stats" + (f"?bots={bots}" if bots else ""))
    assert (res.json["total"], res.json["bots"]) == (total, 1)


def test_top_lists_keep_ten_and_sum_the_rest_as_other(rt, client, api, make_link, user):
    link = make_link(user, vanity="t1")
    for i in range(13):
        for _ in range(1 + (i == 0)):
            visit(client, "/go/t1", referrer=f"https://site{i:02d}.example/")
    stored(rt)
    referrers = api.get(f"/api/user/urls/{link.id}/stats").json["referrers"]
    assert referrers[0] == {"value": "site00.example", "count": 2} and len(referrers) == 11
    assert referrers[-1] == {"value": "other", "count": 3}


@pytest.mark.parametrize(("query", "field"), [
    ("from=nope", "from"), ("to=2026-02-30", "to"), ("interval=year", "interval"), ("bots=yes", "bots"),
    ("tz=Nowhere/Land", "tz"), ("from=2026-02-01&to=2026-01-01", "from"),
    ("from=2000-01-01&to=2026-01-01&interval=hour", "interval"),
    ("from=2026-01-01T10:00Z&to=2026-01-01T10:00Z", "from"),
])
def test_bad_queries_are_400_naming_the_field(api, make_link, user, query, field):
    link = make_link(user)
    for path in (f"/api/user/urls/{link.id}/stats", "/api/user/stats/visits"):
        res = api.get(f"{path}?{query}")
        assert res.status_code == 400 and res.json["statusCode"] == 400
        assert field in res.json["error"], res.json


def test_another_users_link_or_file_is_404(client, make_link, make_file, make_user, make_key, user):
    link, upload = make_link(user), make_file(user)
    bob = Api(client, make_key(make_user("bob")))
    for path in (f"/api/user/urls/{link.id}/stats", f"/api/user/files/{upload.id}/stats",
                 f"/api/user/urls/{link.id}/visits", f"/api/user/files/{upload.name}/visits",
                 "/api/user/urls/nothing/stats"):
        assert bob.get(path).status_code == 404, path
    assert bob.delete(f"/api/user/urls/{link.id}/visits").status_code == 404


def test_an_admin_reads_others_stats_and_the_server_wide_ones(rt, client, make_link, make_user, make_key, user):
    link = make_link(user, vanity="a1")
    visit(client, "/go/a1")
    visit(client, "/go/missing-code")
    stored(rt)
    boss = Api(client, make_key(make_user("boss", role=Role.ADMIN), scopes=["stats:read", "admin"]))
    assert boss.get(f"/api/user/urls/{link.id}/stats").json["total"] == 1
    server = boss.get("/api/server/stats/visits").json
    assert server["total"] == 2 and server["orphans"]["total"] == 1
    assert server["orphans"]["types"] == [{"value": "invalid_short_url", "count": 1}]
    assert server["orphans"]["urls"] == [{"value": "/go/missing-code", "count": 1}]
    assert boss.get("/api/user/stats/visits").json["total"] == 0  # their own links only
    assert Api(client, make_key(user)).get("/api/server/stats/visits").status_code == 403


def test_keys_need_stats_read_to_read_and_the_write_scope_to_forget(client, make_link, make_file, make_key, user):
    link, upload = make_link(user), make_file(user)
    links_only = Api(client, make_key(user, scopes=["links:read", "links:write", "files:write"]))
    stats_only = Api(client, make_key(user, scopes=["stats:read"]))
    for path in (f"/api/user/urls/{link.id}/stats", f"/api/user/files/{upload.id}/stats", "/api/user/stats/visits",
                 f"/api/user/urls/{link.id}/visits"):
        res = links_only.get(path)
        assert res.status_code == 403 and res.json["code"] == "missing_scope", path
        assert stats_only.get(path).status_code == 200, path
    assert stats_only.delete(f"/api/user/urls/{link.id}/visits").status_code == 403
    assert stats_only.delete(f"/api/user/files/{upload.id}/visits").status_code == 403
    assert links_only.delete(f"/api/user/urls/{link.id}/visits").json == {"deleted": 0}
    assert links_only.delete(f"/api/user/files/{upload.id}/visits").json == {"deleted": 0}
    assert client.get("/api/user/stats/visits").status_code == 401


def test_raw_visits_page_and_bound_perpage(rt, client, api, make_link, user):
    link = make_link(user, vanity="p1")
    for i in range(5):
        visit(client, "/go/p1", referrer=f"https://r{i}.example/")
    visit(client, "/go/p1", agent=GOOGLEBOT)
    stored(rt)
    res = api.get(f"/api/user/urls/{link.id}/visits?page=2&perpage=2")
    assert res.status_code == 200
    assert (res.json["page"], res.json["perpage"], res.json["total"]) == (2, 2, 6)
    assert [v["referrer"] for v in res.json["visits"]] == ["https://r3.example/", "https://r2.example/"]
    assert set(res.json["visits"][0]) == {"date", "referrer", "userAgent", "browser", "os", "device", "country",
                                          "region", "city", "language", "potentialBot", "destination"}
    first = api.get(f"/api/user/urls/{link.id}/visits").json
    assert first["perpage"] == 20 and first["visits"][0]["potentialBot"] is True
    assert api.get(f"/api/user/urls/{link.id}/visits?bots=exclude").json["total"] == 5
    for bad in ("perpage=0", "perpage=101", "page=0", "page=-1", "perpage=abc"):
        assert api.get(f"/api/user/urls/{link.id}/visits?{bad}").status_code == 400, bad


def test_csv_export_by_format_or_accept(rt, client, api, make_file, user):
    upload = make_file(user, name="c.txt")
    visit(client, "/u/c.txt")
    visit(client, "/u/c.txt", agent=FIREFOX)
    stored(rt)
    for res in (api.get(f"/api/user/files/{upload.id}/visits?format=csv"),
                api.get(f"/api/user/files/{upload.id}/visits", headers={"Accept": "text/csv"})):
        assert res.status_code == 200 and res.mimetype == "text/csv"
        assert res.headers["Content-Disposition"].startswith("attachment;")
        lines = res.get_data(as_text=True).splitlines()
        assert lines[0] == "date,referrer,userAgent,browser,os,device,country,region,city,language,potentialBot," \
                           "destination"
        assert len(lines) == 3 and ",Firefox,Linux,desktop," in lines[1]
    assert api.get(f"/api/user/files/{upload.id}/visits", headers={"Accept": "application/json"}).is_json


def test_delete_forgets_the_visits_and_stats_are_zero_after(rt, client, api, make_link, user):
    link = make_link(user, vanity="d1")
    visit(client, "/go/d1")
    visit(client, "/go/d1")
    stored(rt)
    assert api.get(f"/api/user/urls/{link.id}/stats").json["total"] == 2
    assert api.delete(f"/api/user/urls/{link.id}/visits").json == {"deleted": 2}
    after = api.get(f"/api/user/urls/{link.id}/stats").json
    assert after["total"] == 0 and after["referrers"] == [] and api.get(f"/api/user/urls/{link.id}/visits").json[
        "total"] == 0
    assert api.get("/api/user/stats/visits").json["total"] == 0


def test_user_stats_cover_links_and_files(rt, client, api, make_link, make_file, user):
    make_link(user, vanity="u1")
    make_file(user, name="u.txt")
    visit(client, "/go/u1")
    visit(client, "/u/u.txt")
    stored(rt)
    assert api.get("/api/user/stats/visits").json["total"] == 2


@pytest.mark.slow
def test_reading_stats_while_visits_are_written_never_fails(rt, app, live_server, make_link, make_key, user):
    link = make_link(user, vanity="live")
    key = make_key(user)

    def one(i: int) -> int:
        if i % 3 == 0:
            return fetch("GET", f"{live_server.url}/go/live", headers={"User-Agent": CHROME}).status_code
        if i % 7 == 1:
            with app.app_context():
                analytics.flush(rt, db.engine)
            return 200
        path = ["/stats?interval=day&tz=Europe/Berlin", "/visits?perpage=100", "/visits?format=csv"][(i // 3) % 3]
        return fetch("GET", f"{live_server.url}/api/user/urls/{link.id}{path}",
                     headers={"Authorization": key}).status_code

    codes = burst(90, one)
    assert all(code < 500 for code in codes), codes
    assert codes.count(200) + codes.count(302) == 90
    with app.app_context():
        analytics.flush(rt, db.engine)
    res = fetch("GET", f"{live_server.url}/api/user/urls/{link.id}/stats", headers={"Authorization": key})
    assert res.json()["total"] == 30
