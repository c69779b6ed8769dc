"""The link features Shlink brings, on the public side: validSince, forwardQuery, crawlable and /robots.txt, the
special redirects, the redirect status and its caching, and the tracking pixel (reference §11)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from tests.conftest import burst, fetch, fresh, only_link
from tests.web.test_pages import log_in
from zipshort.errors import Gone
from zipshort.extensions import db
from zipshort.models import Link, Role, Visit, utcnow
from zipshort.public.links import PIXEL
from zipshort.services import analytics, domains, links, redirects


def visits() -> list[Visit]:
    db.session.rollback()
    return list(db.session.scalars(select(Visit).order_by(Visit.id)))


def flushed(rt) -> int:
    return analytics.flush(rt, db.engine)


# --- validSince ---------------------------------------------------------------------------------------

def test_link_before_its_valid_since_answers_as_an_expired_one(client, make_link, user):
    make_link(user, vanity="soon", valid_since=utcnow() + dt.timedelta(hours=1))
    res = client.get("/go/soon")
    assert res.status_code == 404 and "Location" not in res.headers
    assert only_link().views == 0


def test_link_after_its_valid_since_redirects(client, make_link, user):
    make_link(user, vanity="began", valid_since=utcnow() - dt.timedelta(seconds=1))
    assert client.get("/go/began").status_code == 302


@pytest.mark.parametrize("overrides", [{"urls": {"gone_status": 410}}])
def test_not_yet_valid_link_gets_the_gone_status(client, make_link, user):
    make_link(user, vanity="soon", valid_since=utcnow() + dt.timedelta(hours=1))
    assert client.get("/go/soon").status_code == 410


def test_a_cached_link_is_not_served_before_its_valid_since_nor_after_its_expiry(rt, clock, make_link, user):
    start = clock.now() + dt.timedelta(seconds=10)
    make_link(user, vanity="window", valid_since=start, expires_at=start + dt.timedelta(seconds=10))
    with pytest.raises(Gone):
        redirects.follow(rt, "window", "localhost", now=start - dt.timedelta(microseconds=1))
    assert redirects.follow(rt, "window", "localhost", now=start).destination == "https://example.com/"
    assert rt.link_cache.get("window", "localhost") is not None  # resolved once: the next visits hit the cache
    with pytest.raises(Gone):
        redirects.follow(rt, "window", "localhost", now=start - dt.timedelta(microseconds=1))
    assert redirects.follow(rt, "window", "localhost", now=start + dt.timedelta(seconds=5)).limited is False
    with pytest.raises(Gone):
        redirects.follow(rt, "window", "localhost", now=start + dt.timedelta(seconds=10))
    assert only_link().views == 2


def test_a_not_yet_valid_link_is_listed_in_that_state(rt, make_link, user):
    link = make_link(user, vanity="soon", valid_since=utcnow() + dt.timedelta(hours=1))
    assert links.link_state(link) == links.NOT_YET_VALID and not links.is_live(link)
    assert links.link_state(link, now=link.valid_since) == links.ACTIVE


def test_a_visit_to_a_dead_link_of_each_kind_is_an_invalid_short_url_orphan(rt, client, make_link, user):
    now = utcnow()
    make_link(user, vanity="off", enabled=False)
    make_link(user, vanity="soon", valid_since=now + dt.timedelta(hours=1))
    make_link(user, vanity="gone", expires_at=now + dt.timedelta(hours=1))
    db.session.query(Link).filter_by(slug="gone").update({"expires_at": now - dt.timedelta(seconds=1)})
    make_link(user, vanity="used", max_views=1)
    db.session.query(Link).filter_by(slug="used").update({"views": 1})
    db.session.commit()
    for code in ("off", "soon", "gone", "used"):
        assert client.get(f"/go/{code}").status_code == 404
    flushed(rt)
    assert [(v.kind, v.orphan_type, v.url) for v in visits()] == [
        ("orphan", "invalid_short_url", f"http://localhost/go/{code}") for code in ("off", "soon", "gone", "used")]


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_parallel_visits_to_a_limited_link_count_none_before_its_valid_since_and_exactly_after(
        live_server, rt, make_link, user, attempt):
    link = make_link(user, vanity="launch", max_views=5, valid_since=utcnow() + dt.timedelta(hours=1))
    early = burst(60, lambda i: fetch("GET", f"{live_server.url}/go/launch"), workers=30)
    assert Counter(r.status_code for r in early) == {404: 60}
    assert fresh(Link, link.id).views == 0
    links.update_link(rt, user, link.id, links.LinkChanges(valid_since=utcnow() - dt.timedelta(seconds=1)))
    late = burst(60, lambda i: fetch("GET", f"{live_server.url}/go/launch"), workers=30)
    assert Counter(r.status_code for r in late) == {302: 5, 404: 55}
    assert fresh(Link, link.id).views == 5


# --- forwardQuery ---------------------------------------------------------------------------------------

def test_forward_query_merges_the_visitors_query_the_visitor_winning(client, make_link, user):
    make_link(user, vanity="fq", destination="https://example.com/p?a=1&b=2#top", forward_query=True)
    for _ in range(2):  # the second visit comes from the cache
        res = client.get("/go/fq?b=3&c=4")
        assert res.headers["Location"] == "https://example.com/p?a=1&b=3&c=4#top"


def test_forward_query_reencodes_names_as_the_reference_shows(client, make_link, user):
    make_link(user, vanity="sp", destination="https://example.com", forward_query=True)
    assert client.get("/go/sp?foo%20bar=123").headers["Location"] == "https://example.com?foo%20bar=123"


def test_forward_query_without_a_visitor_query_keeps_the_destination(client, make_link, user):
    make_link(user, vanity="bare", destination="https://example.com/p?q=a,b", forward_query=True)
    assert client.get("/go/bare").headers["Location"] == "https://example.com/p?q=a,b"


def test_a_link_without_forward_query_ignores_the_visitors_query(client, make_link, user):
    make_link(user, vanity="own", destination="https://example.com/p?a=1")
    assert client.get("/go/own?a=2&x=y").headers["Location"] == "https://example.com/p?a=1"


def test_forward_query_applies_to_smart_links_after_utm(client, make_link, user):
    make_link(user, vanity="sm", destination="https://example.com/p", forward_query=True,
              utm={"source": "zs", "campaign": "c"})
    res = client.get("/go/sm?utm_source=visitor&x=1")
    assert res.headers["Location"] == "https://example.com/p?utm_source=visitor&utm_campaign=c&x=1"


def test_forward_query_applies_to_protected_links_after_the_password(client, make_link, user):
    from tests.public.test_redirect import csrf_from

    make_link(user, vanity="pw", destination="https://example.com/p", forward_query=True, password="secret")
    token = csrf_from(client.get("/go/pw?x=1"))
    res = client.post("/go/pw?x=1", data={"password": "secret", "csrf_token": token})
    assert res.headers["Location"] == "https://example.com/p?x=1"


def test_the_visit_records_the_merged_location(rt, client, make_link, user):
    make_link(user, vanity="rec", destination="https://example.com/p?a=1", forward_query=True)
    client.get("/go/rec?a=2")
    flushed(rt)
    assert [v.destination for v in visits()] == ["https://example.com/p?a=2"]


# --- robots.txt -------------------------------------------------------------------------------------------

ROBOTS_HEAD = "# For more information about the robots.txt standard, see:\n# https://www.robotstxt.org/orig.html\n\n"


def test_robots_allows_only_the_crawlable_links(client, make_link, user, own_domain):
    own_domain(user, "a.example")
    make_link(user, vanity="zeta", crawlable=True)
    make_link(user, vanity="alpha", crawlable=True)
    other = make_link(user, vanity="alpha2", crawlable=True, domain="a.example")
    db.session.query(Link).filter_by(id=other.id).update({"slug": "alpha", "slug_key": "alpha"})  # the same code
    db.session.commit()  # on another domain (a door would refuse it: domain-less links answer everywhere): once
    make_link(user, vanity="hidden")
    res = client.get("/robots.txt")
    assert res.status_code == 200 and res.mimetype == "text/plain"
    assert res.get_data(as_text=True) == (ROBOTS_HEAD + "User-agent: *\nAllow: /go/alpha$\nAllow: /go/zeta$\n"
                                          "Disallow: /go/\n")


@pytest.mark.parametrize("overrides", [{"urls": {"robots_user_agents": ["Googlebot", "Bingbot"],
                                                 "robots_allow_all": True}}])
def test_robots_allow_all_lets_every_link_be_crawled(client, make_link, user):
    make_link(user, vanity="any")
    assert client.get("/robots.txt").get_data(as_text=True) == (
        ROBOTS_HEAD + "User-agent: Googlebot\nUser-agent: Bingbot\nDisallow: /api/\nDisallow: /rest/\n")


def test_robots_is_not_an_orphan_visit(rt, client):
    client.get("/robots.txt")
    flushed(rt)
    assert visits() == []


# --- special redirects -----------------------------------------------------------------------------------

def test_special_redirects_are_off_by_default(rt, client):
    assert client.get("/go/nothing").status_code == 404
    assert client.get("/nowhere").status_code == 404
    assert client.get("/").headers["Location"] == "/auth/login"


class TestServerWideRedirects:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"base_url_redirect": "https://home.example/?from={DOMAIN}",
                         "invalid_short_url_redirect": "https://home.example/missing/{ORIGINAL_PATH}?p={ORIGINAL_PATH}",
                         "regular_404_redirect": "https://{DOMAIN}/404"}}

    def test_each_kind_goes_to_its_target_with_placeholders_filled(self, client, make_link, user):
        make_link(user, vanity="soon", valid_since=utcnow() + dt.timedelta(hours=1))
        assert client.get("/go/nothing").headers["Location"] == \
            "https://home.example/missing/go/nothing?p=%2Fgo%2Fnothing"
        assert client.get("/go/soon").headers["Location"] == "https://home.example/missing/go/soon?p=%2Fgo%2Fsoon"
        assert client.get("/wp-login.php").headers["Location"] == "https://localhost/404"
        assert client.get("/").headers["Location"] == "https://home.example/?from=localhost"

    def test_the_orphan_visit_records_where_it_was_sent(self, rt, client):
        client.get("/go/nothing")
        client.get("/")
        flushed(rt)
        assert [(v.orphan_type, v.destination) for v in visits()] == [
            ("invalid_short_url", "https://home.example/missing/go/nothing?p=%2Fgo%2Fnothing"),
            ("base_url", "https://home.example/?from=localhost")]

    def test_a_signed_in_user_still_gets_the_dashboard(self, client, user):
        assert log_in(client).status_code == 303
        assert client.get("/").headers["Location"] == "/dashboard"

    def test_a_missing_page_inside_the_dashboard_is_not_redirected(self, client, user):
        assert log_in(client).status_code == 303
        assert client.get("/dashboard/urls/nonexistent/edit").status_code == 404

    def test_api_404s_are_never_redirected(self, client):
        assert client.get("/api/nothing").status_code == 404


def test_a_domains_own_redirect_wins_over_the_servers(rt, app, client, user, make_user, own_domain):
    admin = make_user("root", role=Role.SUPERADMIN)
    own_domain(user, "a.example")
    domains.set_domain_redirects(rt, user, "a.example", {"regular_404": "https://a-home.example/{ORIGINAL_PATH}"})
    domains.set_domain_redirects(rt, admin, "", {"regular_404": "https://platform.example/"})
    assert client.get("/nowhere", base_url="http://a.example").headers["Location"] == \
        "https://a-home.example/nowhere"
    assert client.get("/nowhere").headers["Location"] == "https://platform.example/"
    # a kind the domain leaves empty falls through to the server-wide setting (none here: the page)
    assert client.get("/go/nothing", base_url="http://a.example").status_code == 404


def test_a_domain_redirect_change_is_seen_at_once(rt, client, make_user):
    admin = make_user("root", role=Role.SUPERADMIN)
    assert client.get("/nowhere").status_code == 404  # the (empty) rows are cached now
    domains.set_domain_redirects(rt, admin, "", {"regular_404": "https://platform.example/"})
    assert client.get("/nowhere").headers["Location"] == "https://platform.example/"
    domains.set_domain_redirects(rt, admin, "", {"regular_404": None})
    assert client.get("/nowhere").status_code == 404


# --- redirect status --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "status", "cache"), [
    ({}, 302, None),
    ({"urls": {"redirect_status": 301}}, 301, "private,max-age=30"),
    ({"urls": {"redirect_status": 307}}, 307, None),
    ({"urls": {"redirect_status": 308, "redirect_cache_seconds": 600, "redirect_cache_visibility": "public"}},
     308, "public,max-age=600"),
])
def test_the_redirect_status_and_its_cache_headers(client, make_link, user, status, cache):
    make_link(user, vanity="st", destination="https://example.com/x")
    make_link(user, vanity="lim", max_views=9)
    make_link(user, vanity="smart", utm={"source": "zs"})
    res = client.get("/go/st")
    assert (res.status_code, res.headers["Location"], res.headers.get("Cache-Control")) == (
        status, "https://example.com/x", cache)
    assert (client.get("/go/lim").status_code, client.get("/go/lim").headers["Cache-Control"]) == (status, "no-store")
    smart = client.get("/go/smart")
    assert smart.status_code == status
    assert smart.headers.get("Cache-Control") == (None if cache is None else "no-store")


@pytest.mark.parametrize("overrides", [{"urls": {"redirect_status": 308, "regular_404_redirect": "https://x.example/"}}])
def test_special_redirects_use_the_redirect_status(client):
    res = client.get("/nowhere")
    assert (res.status_code, res.headers["Cache-Control"]) == (308, "private,max-age=30")


# --- the tracking pixel -------------------------------------------------------------------------------------

def test_the_pixel_is_a_gif_that_counts_a_view_and_never_redirects(rt, client, make_link, user):
    make_link(user, vanity="px", max_views=3)
    for _ in range(2):
        res = client.get("/go/px/track")
        assert (res.status_code, res.mimetype, res.data) == (200, "image/gif", PIXEL)
        assert "Location" not in res.headers
    assert only_link().views == 2
    flushed(rt)
    assert [(v.kind, v.destination) for v in visits()] == [("link", None), ("link", None)]


def test_the_pixel_of_an_unknown_or_dead_link_is_the_same_gif_and_no_visit(rt, client, make_link, user):
    make_link(user, vanity="soon", valid_since=utcnow() + dt.timedelta(hours=1))
    make_link(user, vanity="pw", password="secret")
    for code in ("nothing", "soon", "pw"):
        res = client.get(f"/go/{code}/track")
        assert (res.status_code, res.data) == (200, PIXEL)
    assert client.head("/go/nothing/track").status_code == 200
    flushed(rt)
    assert visits() == []
    assert db.session.scalar(select(Link.views).where(Link.slug == "soon")) == 0


def test_the_pixel_spends_a_limited_links_views(client, make_link, user):
    make_link(user, vanity="one", max_views=1)
    client.get("/go/one/track")
    assert client.get("/go/one").status_code == 404
