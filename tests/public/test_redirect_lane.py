"""The redirect lane (zipshort/public/lane.py): a cached link's redirect answered below Flask's dispatch.

Each test compares the lane's answer with Flask's for the same request (the first visit fills the cache
through Flask, the next ones take the lane) and proves which one answered by counting Flask's requests
with a before-request hook the test adds.
"""

from __future__ import annotations

import pytest

from tests.conftest import burst, fetch, only_link
from zipshort.events import LinkVisited
from zipshort.services import visits

BATCHED = {"view_flush_seconds": 60.0}  # the lane needs batched views (the tests' default counts each in SQL)


@pytest.fixture
def overrides():
    return {"urls": dict(BATCHED)}


def lane_of(app):
    """The app's RedirectLane (inside ProxyFix when a proxy is trusted)."""
    from zipshort.public.lane import RedirectLane

    layer = app.wsgi_app
    while not isinstance(layer, RedirectLane):
        layer = layer.app
    return layer


@pytest.fixture(autouse=True)
def misses_to_flask(app):
    """Most tests fill the cache through Flask's view first and compare: the lane's own reads of a miss (it
    answers the first visit of a plain link too) are tested on their own, below."""
    lane = lane_of(app)
    engine, lane.engine = lane.engine, None
    yield
    lane.engine = engine


def flush_views(rt) -> None:
    from zipshort.extensions import db

    visits.flush_views(db.engine, rt.views, rt.leases)


@pytest.fixture
def flask_requests(app) -> list[str]:
    """The paths of the requests Flask dispatched (the lane's never get here)."""
    seen: list[str] = []

    @app.before_request
    def _seen() -> None:
        from flask import request

        seen.append(request.path)

    return seen


def answer(response) -> tuple[int, str, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != "X-Request-ID"}
    return response.status_code, response.status, headers, response.get_data()


def test_a_cached_redirect_takes_the_lane_and_answers_as_flask_does(client, make_link, user, flask_requests, rt):
    make_link(user, destination="https://example.com/landing?a=1", vanity="lane1")
    first = client.get("/go/lane1")
    second = client.get("/go/lane1")
    assert flask_requests == ["/go/lane1"]  # the second request never reached Flask
    assert answer(first) == answer(second)
    assert second.headers["Location"] == "https://example.com/landing?a=1"
    flush_views(rt)
    assert only_link().views == 2


def test_the_lane_publishes_the_visit_with_the_same_facts(client, make_link, user, flask_requests, events_seen):
    make_link(user, vanity="facts")
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "Referer": "https://ref.example/a",
               "Accept-Language": "de-DE,de;q=0.9", "DNT": "1"}
    client.get("/go/facts?x=1", headers=headers)
    client.get("/go/facts?x=1", headers=headers)
    assert flask_requests == ["/go/facts"]
    by_flask, by_lane = events_seen.of(LinkVisited)
    assert by_flask.visitor == by_lane.visitor and by_flask.destination == by_lane.destination
    assert by_lane.visitor.user_agent.startswith("Mozilla/5.0") and by_lane.visitor.query == b"x=1"
    assert by_lane.visitor.visited_url() == "http://localhost/go/facts?x=1"


def test_the_visitor_query_is_merged_for_a_forwarding_link(client, make_link, user, flask_requests):
    make_link(user, destination="https://example.com/p?a=1", vanity="fwd", forward_query=True)
    first = client.get("/go/fwd?utm=x")
    second = client.get("/go/fwd?utm=y")
    assert len(flask_requests) == 1
    assert first.headers["Location"] == "https://example.com/p?a=1&utm=x"
    assert second.headers["Location"] == "https://example.com/p?a=1&utm=y"


@pytest.mark.parametrize("overrides", [{"urls": {**BATCHED, "redirect_status": 301, "redirect_cache_seconds": 60}}])
def test_a_permanent_redirect_keeps_its_cache_header(client, make_link, user, flask_requests):
    make_link(user, vanity="perm")
    first, second = client.get("/go/perm"), client.get("/go/perm")
    assert len(flask_requests) == 1 and answer(first) == answer(second)
    assert second.status == "301 MOVED PERMANENTLY" and second.headers["Cache-Control"] == "private,max-age=60"


def test_a_limited_link_takes_the_lane_only_with_a_lease(client, make_link, user, flask_requests, rt):
    make_link(user, vanity="lim", max_views=1000)
    client.get("/go/lim"), client.get("/go/lim")
    assert len(flask_requests) == 2  # no lease (no flusher running): every view is counted in SQL
    rt.leases.active = True
    try:
        client.get("/go/lim")  # Flask: the claim takes a lease and caches the link
        third, fourth = client.get("/go/lim"), client.get("/go/lim")
        assert len(flask_requests) == 3
        assert third.headers["Cache-Control"] == "no-store" and answer(third) == answer(fourth)
    finally:
        rt.leases.active = False
        flush_views(rt)
    assert only_link().views == 5


@pytest.mark.parametrize("overrides", [{"urls": BATCHED, "core": {"trusted_hosts": ["short.example"]}}])
def test_an_untrusted_host_is_refused_as_flask_refuses_it(client, make_link, user, flask_requests):
    make_link(user, vanity="host")
    assert client.get("/go/host", base_url="http://short.example").status_code == 302
    assert client.get("/go/host", base_url="http://short.example").status_code == 302
    assert client.get("/go/host", base_url="http://evil.example").status_code == 400
    assert flask_requests == ["/go/host", "/go/host"]  # the refused one went to Flask, which answered 400


@pytest.mark.parametrize("overrides", [{"urls": BATCHED, "core": {"trust_proxy": 1}, "logging": {"access": False}}])
def test_a_trusted_proxy_request_id_is_echoed_and_stamped(client, make_link, user, flask_requests, events_seen):
    make_link(user, vanity="rid")
    client.get("/go/rid", headers={"X-Request-ID": "first-1"})
    second = client.get("/go/rid", headers={"X-Request-ID": "second-2", "X-Forwarded-For": "203.0.113.9"})
    bad = client.get("/go/rid", headers={"X-Request-ID": "bad id with spaces"})
    assert len(flask_requests) == 1
    assert second.headers["X-Request-ID"] == "second-2" and "X-Request-ID" not in bad.headers
    visits = events_seen.of(LinkVisited)
    assert [v.request_id for v in visits] == ["first-1", "second-2", None]
    assert visits[1].visitor.address == "203.0.113.9"  # inside ProxyFix: the forwarded address


def test_head_and_other_methods_go_to_flask(client, make_link, user, flask_requests):
    make_link(user, vanity="meth")
    client.get("/go/meth")
    assert client.head("/go/meth").status_code == 302
    assert client.post("/go/meth").status_code in (400, 404)  # the password form's POST, without a token
    assert len(flask_requests) == 3


def test_paths_the_lane_must_not_take(client, make_link, user, flask_requests, rt):
    make_link(user, vanity="deep")
    client.get("/go/deep")
    for path in ("/go/deep/", "/go/deep/track", "/GO/deep", "/go/", "/go/missing"):
        client.get(path)
    assert len(flask_requests) == 6


@pytest.mark.parametrize("overrides", [{"urls": {**BATCHED, "route": "/rest"}}])
def test_a_page_under_the_route_is_never_taken_for_a_cached_code(client, make_link, user, flask_requests, rt):
    """With the link route at /rest, /rest/health is Shlink's health check, not a code."""
    from zipshort.counters import CachedLink

    make_link(user, vanity="restcode")
    assert client.get("/rest/restcode").status_code == 302
    assert client.get("/rest/restcode").status_code == 302
    assert flask_requests == ["/rest/restcode"]
    # Even a cache entry spelled like the page (only the track route could put one there) leaves it to Flask.
    rt.link_cache.put("health", "localhost", CachedLink("x", "https://evil.example/", None, False))
    health = client.get("/rest/health")
    assert health.status_code == 200 and health.is_json and flask_requests[-1] == "/rest/health"


def test_a_burst_through_the_lane_counts_every_view(live_server, make_link, user, rt):
    make_link(user, vanity="burst")
    url = f"{live_server.url}/go/burst"
    assert fetch("GET", url).status_code == 302
    results = burst(300, lambda i: fetch("GET", url).status_code)
    assert results == [302] * 300
    flush_views(rt)
    assert only_link().views == 301


ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
           "Mobile Safari/537.36")
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


@pytest.mark.parametrize("overrides", [{"urls": {**BATCHED, "redirect_status": status}} for status in (302, 301)])
def test_a_smart_links_redirect_takes_the_lane_and_answers_as_flask_does(client, make_link, user, flask_requests, rt,
                                                                         events_seen):
    """Rules, UTM tags and forwarded queries are decided from the cached snapshot: for each visitor the lane's
    answer equals Flask's for the same request (the cache emptied before Flask's), and the visit is the same."""
    from zipshort.services import linkfields

    status = rt.settings.urls.redirect_status
    make_link(user, vanity="smart", destination="https://main.example/p", utm={"source": "zs"},
              forward_query=True, title="Card",
              rules=linkfields.validate_rules([{"destination": {"type": "link", "value": "https://android.example/"},
                                                "conditions": [{"type": "device", "matchKey": None,
                                                                "matchValue": "android"}]}], 2048))
    for agent in (ANDROID, DESKTOP, ANDROID):
        rt.link_cache.clear()
        by_flask = client.get("/go/smart?q=1", headers={"User-Agent": agent})
        before = len(flask_requests)
        by_lane = client.get("/go/smart?q=1", headers={"User-Agent": agent})
        assert len(flask_requests) == before  # the lane answered
        assert answer(by_lane) == answer(by_flask)
        flask_visit, lane_visit = events_seen.of(LinkVisited)[-2:]
        assert lane_visit.destination == flask_visit.destination == by_lane.headers["Location"]
    assert by_lane.headers["Location"].startswith("https://android.example/")
    desktop = client.get("/go/smart?q=1", headers={"User-Agent": DESKTOP}).headers["Location"]
    assert desktop == "https://main.example/p?utm_source=zs&q=1"
    assert ("no-store" in by_lane.headers.get("Cache-Control", "")) == (status == 301)  # the visitor decides
    flush_views(rt)
    assert only_link().views == 7


def test_a_smart_links_page_is_left_to_flask_and_counted_once(client, make_link, user, flask_requests, rt):
    """A preview bot gets the card page: the lane leaves it to Flask without counting it."""
    make_link(user, vanity="smart", destination="https://main.example/", title="Card")
    assert client.get("/go/smart").status_code == 302
    assert client.get("/go/smart").status_code == 302
    assert len(flask_requests) == 1
    page = client.get("/go/smart", headers={"User-Agent": SLACK})
    assert page.status_code == 200 and b"Card" in page.data
    assert len(flask_requests) == 2
    flush_views(rt)
    assert only_link().views == 3


@pytest.mark.parametrize("overrides", [{"urls": BATCHED, "metrics": {"enabled": True, "token": "m" * 32}}])
def test_lane_answers_are_counted_and_logged_as_flask_answers_are(client, make_link, user, flask_requests, caplog,
                                                                  events_seen):
    from prometheus_client.parser import text_string_to_metric_families

    make_link(user, vanity="seen")
    with caplog.at_level("INFO", logger="zipshort.access"):
        answers = [client.get("/go/seen") for _ in range(3)]
    assert len(flask_requests) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "zipshort.access"]
    assert len(lines) == 3 and all(line.startswith("GET /go/<code> 302 ") for line in lines)
    ids = [a.headers["X-Request-ID"] for a in answers]  # the access log gives every request an id, echoed
    assert len(set(ids)) == 3 and [v.request_id for v in events_seen.of(LinkVisited)] == ids
    scrape = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).get_data(as_text=True)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scrape) for s in family.samples}
    assert samples[("zipshort_redirects_total", (("outcome", "redirected"),))] == 3
    assert samples[("zipshort_http_requests_total",
                    (("method", "GET"), ("route", "/go/<code>"), ("status", "302")))] == 3


def test_a_miss_of_a_plain_link_is_read_and_answered_by_the_lane(app, client, make_link, user, flask_requests, rt,
                                                                 events_seen):
    """The first visit of an unlimited link without rules: one read, the view batched, the link cached — the same
    answer and visit as Flask's view gives for it."""
    make_link(user, destination="https://example.com/p", vanity="cold", forward_query=True)
    by_flask = client.get("/go/cold?a=1")  # the lane does not read yet (the fixture): Flask's answer
    rt.link_cache.clear()
    lane_of(app).engine = _engine(app)
    by_lane = client.get("/go/cold?a=1")
    assert flask_requests == ["/go/cold"]  # the second, a miss again, never reached Flask
    assert answer(by_lane) == answer(by_flask) and by_lane.headers["Location"] == "https://example.com/p?a=1"
    flask_visit, lane_visit = events_seen.of(LinkVisited)
    assert lane_visit.visitor == flask_visit.visitor and lane_visit.destination == flask_visit.destination
    assert client.get("/go/cold").status_code == 302 and flask_requests == ["/go/cold"]  # now cached
    flush_views(rt)
    assert only_link().views == 3


def _engine(app):
    from zipshort.extensions import db

    return db.engine


def test_misses_the_lane_cannot_answer_go_to_flask_counted_once(app, client, make_link, user, flask_requests, rt):
    """Unknown codes, links with a limit or rules: the lane reads them, leaves them to Flask without counting, and
    Flask's answer is the one the visitor gets (each visit counted once). A protected link's page the lane
    answers itself, counting nothing."""
    from zipshort.services import linkfields

    lane_of(app).engine = _engine(app)
    make_link(user, vanity="capped", max_views=5)
    make_link(user, vanity="ruled", destination="https://main.example/",
              rules=linkfields.validate_rules([{"destination": {"type": "link", "value": "https://rule.example/"},
                                                "conditions": [{"type": "query-param", "matchKey": "r",
                                                                "matchValue": "1"}]}], 2048))
    make_link(user, vanity="locked", password="pw-123456")
    assert client.get("/go/nothing").status_code == 404
    assert client.get("/go/capped").status_code == 302
    assert client.get("/go/ruled?r=1").headers["Location"] == "https://rule.example/"
    locked = client.get("/go/locked")
    assert locked.status_code == 200 and 'type="password"' in locked.get_data(as_text=True)
    assert flask_requests == ["/go/nothing", "/go/capped", "/go/ruled"]
    flush_views(rt)
    from zipshort.extensions import db
    from zipshort.models import Link

    db.session.rollback()
    views = dict(db.session.execute(db.select(Link.vanity, Link.views)).all())
    assert views == {"capped": 1, "ruled": 1, "locked": 0}
