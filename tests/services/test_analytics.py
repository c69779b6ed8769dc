"""Visit analytics, written by the real pipeline: a request through the app publishes the visit, the writer
stores it with what it parsed and adds it to the rollups (services/analytics.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.conftest import burst, fetch
from zipshort.events import LinkVisited, Visitor
from zipshort.extensions import db
from zipshort.models import Link, Visit, VisitDay, VisitHour, VisitSalt, VisitUnique
from zipshort.services import analytics

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.1 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def flushed(rt) -> int:
    return analytics.flush(rt, db.engine)


def visits() -> list[Visit]:
    db.session.rollback()
    return list(db.session.scalars(select(Visit).order_by(Visit.id)))


def day_rollups(dimension: str) -> dict[str, int]:
    db.session.rollback()
    rows = db.session.execute(select(VisitDay.value, func.sum(VisitDay.count)).where(VisitDay.dimension == dimension)
                              .group_by(VisitDay.value)).all()
    return {value: int(n) for value, n in rows}


def test_a_redirect_is_stored_with_what_the_request_said(rt, client, make_link, user):
    link = make_link(user, vanity="a1", destination="https://example.com/x")
    res = client.get("/go/a1?utm=1", headers={"User-Agent": CHROME_WINDOWS, "Referer": "https://www.news.example/p?q=1",
                                              "Accept-Language": "de-CH,de;q=0.9,en;q=0.5"},
                     environ_base={"REMOTE_ADDR": "8.8.8.8"})
    assert res.status_code == 302
    assert flushed(rt) == 1
    [visit] = visits()
    assert (visit.kind, visit.link_id, visit.file_id, visit.orphan_type) == ("link", link.id, None, None)
    assert visit.referrer == "https://www.news.example/p?q=1" and visit.referrer_host == "news.example"
    assert (visit.browser, visit.browser_version, visit.os, visit.device, visit.bot) == (
        "Chrome", "120", "Windows", "desktop", False)
    assert visit.language == "de-ch" and visit.country == "US"
    assert visit.destination == "https://example.com/x" and visit.host == "localhost"
    assert visit.url == "http://localhost/go/a1?utm=1"
    assert len(visit.visitor_key) == 32 and visit.address is None  # no address unless an operator asks
    assert day_rollups("referrer") == {"news.example": 1} and day_rollups("language") == {"de": 1}
    assert day_rollups("destination") == {"https://example.com/x": 1}


def test_direct_visits_have_the_referrer_direct_and_bots_are_flagged(rt, client, make_link, user):
    make_link(user, vanity="b1")
    client.get("/go/b1", headers={"User-Agent": GOOGLEBOT})
    client.get("/go/b1", headers={"User-Agent": SAFARI_IPHONE})
    flushed(rt)
    bot, phone = visits()
    assert (bot.bot, bot.device) == (True, "bot") and (phone.bot, phone.device, phone.os) == (False, "mobile", "iOS")
    assert day_rollups("referrer") == {"direct": 2}
    db.session.rollback()
    hours = db.session.execute(select(VisitHour.bot, VisitHour.count)).all()
    assert sorted(hours) == [(False, 1), (True, 1)]


def test_do_not_track_visits_are_only_counted(rt, client, make_link, user):
    make_link(user, vanity="d1")
    for header in ({"DNT": "1"}, {"Sec-GPC": "1"}):
        client.get("/go/d1", headers={"User-Agent": CHROME_WINDOWS, "Referer": "https://a.example/", **header},
                   environ_base={"REMOTE_ADDR": "8.8.8.8"})
    flushed(rt)
    for visit in visits():
        assert visit.counted_only and visit.user_agent == "" and visit.referrer == "" and visit.country is None
        assert visit.visitor_key is None and visit.url == "" and visit.destination is None
    assert day_rollups("referrer") == {"unknown": 2} and day_rollups("country") == {"unknown": 2}


@pytest.mark.parametrize("overrides", [{"analytics": {"honor_dnt": False}}])
def test_do_not_track_can_be_ignored_by_the_operator(rt, client, make_link, user):
    make_link(user, vanity="d2")
    client.get("/go/d2", headers={"User-Agent": CHROME_WINDOWS, "DNT": "1"})
    flushed(rt)
    [visit] = visits()
    assert not visit.counted_only and visit.browser == "Chrome"


@pytest.mark.parametrize("overrides", [{"analytics": {"store_address": True}}])
def test_a_stored_address_is_anonymised(rt, client, make_link, user):
    make_link(user, vanity="ip")
    client.get("/go/ip", environ_base={"REMOTE_ADDR": "203.0.113.77"})
    client.get("/go/ip", environ_base={"REMOTE_ADDR": "2001:db8:1234:5678::1"})
    flushed(rt)
    assert [v.address for v in visits()] == ["203.0.113.0", "2001:db8:1234::"]


@pytest.mark.parametrize("overrides", [{"analytics": {"store_address": True, "anonymize_address": False}}])
def test_an_operator_may_keep_whole_addresses(rt, client, make_link, user):
    make_link(user, vanity="ip2")
    client.get("/go/ip2", environ_base={"REMOTE_ADDR": "203.0.113.77"})
    flushed(rt)
    assert [v.address for v in visits()] == ["203.0.113.77"]


def test_the_forwarded_address_counts_only_behind_a_trusted_proxy(rt, client, make_link, user):
    make_link(user, vanity="fw")
    client.get("/go/fw", headers={"X-Forwarded-For": "8.8.8.8"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    flushed(rt)
    assert [v.country for v in visits()] == [None]  # loopback has no country; the header was not trusted


@pytest.mark.parametrize("overrides", [{"core": {"trust_proxy": 1}}])
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_visitor(rt, client, make_link, user):
    make_link(user, vanity="fw2")
    client.get("/go/fw2", headers={"X-Forwarded-For": "8.8.8.8"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    flushed(rt)
    assert [v.country for v in visits()] == ["US"]


@pytest.mark.parametrize("overrides", [{"urls": {"country_header": "CF-IPCountry"}}])
def test_a_trusted_country_header_wins(rt, client, make_link, user):
    make_link(user, vanity="cf")
    client.get("/go/cf", headers={"CF-IPCountry": "ch"}, environ_base={"REMOTE_ADDR": "8.8.8.8"})
    flushed(rt)
    assert [v.country for v in visits()] == ["CH"]


def test_unique_visitors_are_counted_once_a_day_per_target(rt, client, make_link, user):
    make_link(user, vanity="u1")
    make_link(user, vanity="u2")
    for address, code in [("8.8.8.8", "u1"), ("8.8.8.8", "u1"), ("8.8.4.4", "u1"), ("8.8.8.8", "u2")]:
        client.get(f"/go/{code}", headers={"User-Agent": CHROME_WINDOWS}, environ_base={"REMOTE_ADDR": address})
        flushed(rt)  # each in its own batch: uniqueness holds across batches
    db.session.rollback()
    assert sorted(db.session.execute(select(VisitHour.count, VisitHour.visitors)).all()) == [(1, 1), (3, 2)]


def test_the_destination_is_where_the_visitor_was_sent_after_rules_and_utm(rt, client, make_link, user):
    make_link(user, vanity="sm", destination="https://example.com/en",
              rules=[{"priority": 1, "languages": ["de"], "destination": {"type": "link", "value": "https://example.com/de"}}],
              utm={"source": "zs"})
    client.get("/go/sm", headers={"Accept-Language": "de-DE"})
    client.get("/go/sm", headers={"Accept-Language": "fr"})
    flushed(rt)
    assert [v.destination for v in visits()] == ["https://example.com/de?utm_source=zs",
                                                 "https://example.com/en?utm_source=zs"]


def test_a_file_view_is_a_visit(rt, client, make_file, user):
    stored = make_file(user, b"hello", name="v.txt")
    assert client.get("/u/v.txt", headers={"User-Agent": SAFARI_IPHONE}).status_code == 200
    assert client.head("/u/v.txt").status_code == 200  # not a view, not a visit
    flushed(rt)
    [visit] = visits()
    assert (visit.kind, visit.file_id, visit.link_id, visit.device) == ("file", stored.id, None, "mobile")
    assert "destination" not in day_rollups("destination") and day_rollups("device") == {"mobile": 1}


def test_orphan_visits_of_each_type(rt, client):
    client.get("/")  # the base URL, by an anonymous visitor
    client.get("/go/nothing-here")
    client.get("/wp-login.php?user=x")
    client.head("/go/nothing-here")  # only GETs are visits
    client.get("/api/nothing")  # an API 404 is not a public page
    flushed(rt)
    assert [(v.kind, v.orphan_type, v.url) for v in visits()] == [
        ("orphan", "base_url", "http://localhost/"), ("orphan", "invalid_short_url", "http://localhost/go/nothing-here"),
        ("orphan", "regular_404", "http://localhost/wp-login.php?user=x")]
    assert day_rollups("url") == {"/": 1, "/go/nothing-here": 1, "/wp-login.php": 1}


def test_a_used_up_link_is_an_invalid_short_url_visit(rt, client, make_link, user):
    make_link(user, vanity="once", max_views=1)
    assert client.get("/go/once").status_code == 302
    assert client.get("/go/once").status_code == 404
    flushed(rt)
    assert [(v.kind, v.orphan_type) for v in visits()] == [("link", None), ("orphan", "invalid_short_url")]


@pytest.mark.parametrize("overrides", [{"analytics": {"enabled": False}}])
def test_analytics_off_records_nothing_but_views(rt, client, make_link, user):
    make_link(user, vanity="off", max_views=5)
    client.get("/go/off")
    client.get("/go/missing")
    assert flushed(rt) == 0 and visits() == []
    assert db.session.scalar(select(Link.views)) == 1


@pytest.mark.parametrize("overrides", [{"analytics": {"queue_wait_ms": 0}}])
def test_a_full_queue_drops_and_counts(rt, make_link, user):
    link = make_link(user, vanity="q")
    for _ in range(rt.visits.capacity + 5):
        rt.visits.offer(LinkVisited(link_id=link.id, code="q", visitor=Visitor(address="8.8.8.8")))
    assert rt.visits.dropped == 5
    assert flushed(rt) == rt.visits.capacity


@pytest.mark.parametrize("overrides", [{"analytics": {"queue_size": 100, "queue_wait_ms": 5000}}])
def test_a_full_queue_holds_the_requests_until_the_writer_makes_room(rt, live_server, make_link, user):
    """Back-pressure: 12 redirects whose visits find the queue full wait for the writer's next batch instead of
    losing their visits; every visit is stored."""
    link = make_link(user, vanity="bp")
    for _ in range(rt.visits.capacity):
        rt.visits.offer(LinkVisited(link_id=link.id, code="bp", visitor=Visitor(address="8.8.8.8")))
    url = live_server.url + "/go/bp"
    waiting = threading.Thread(target=lambda: burst(12, lambda i: fetch("GET", url).status_code, workers=12))
    waiting.start()
    deadline = time.monotonic() + 10
    while rt.visits.waited < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rt.visits.waited == 12 and waiting.is_alive()  # all held (the live server has 16 threads), none dropped
    stored = flushed(rt)  # the writer takes batches: the held visits go in as room appears
    waiting.join(10)
    stored += flushed(rt)
    assert stored == 112 and rt.visits.dropped == 0


@pytest.mark.parametrize("overrides", [{"analytics": {"queue_size": 10, "queue_wait_ms": 50}}])
def test_a_queue_that_stays_full_drops_after_the_wait(rt, make_link, user):
    link = make_link(user, vanity="q")
    started = time.monotonic()
    for _ in range(12):
        rt.visits.offer(LinkVisited(link_id=link.id, code="q", visitor=Visitor(address="8.8.8.8")))
    assert rt.visits.dropped == 2 and time.monotonic() - started >= 0.1


def test_visits_of_a_deleted_link_are_left_out(rt, make_link, user):
    link = make_link(user, vanity="del")
    rt.visits.offer(LinkVisited(link_id=link.id, code="del"))
    rt.visits.offer(LinkVisited(link_id="no-such-link", code="x"))
    assert flushed(rt) == 1


def test_rollups_equal_a_recount_of_the_raw_visits(rt, client, make_link, make_file, user):
    make_link(user, vanity="r1")
    make_link(user, vanity="r2", destination="https://example.org/")
    make_file(user, b"x", name="r.txt")
    agents = [CHROME_WINDOWS, SAFARI_IPHONE, GOOGLEBOT, "curl/8.4.0", ""]
    for i in range(60):
        path = ["/go/r1", "/go/r2", "/u/r.txt", "/go/none", "/"][i % 5]
        client.get(path, headers={"User-Agent": agents[i % 4], "Referer": ["", "https://t.co/x"][i % 2]},
                   environ_base={"REMOTE_ADDR": f"8.8.{i % 3}.{i % 7}"})
        if i % 17 == 0:
            flushed(rt)
    flushed(rt)
    raw = visits()
    assert len(raw) == 60
    series = Counter()
    for v in raw:
        target = v.link_id or v.file_id or f"orphan:{v.orphan_type}"
        series[(target, v.bot)] += 1
    db.session.rollback()
    hours = Counter()
    for target, bot, n in db.session.execute(select(VisitHour.target, VisitHour.bot, VisitHour.count)):
        hours[(target, bot)] += n
    assert hours == series
    browsers = Counter(v.browser or "unknown" for v in raw)
    assert day_rollups("browser") == dict(browsers)
    uniques = {(v.link_id or v.file_id or f"orphan:{v.orphan_type}", v.visitor_key) for v in raw if v.visitor_key}
    assert db.session.scalar(select(func.sum(VisitHour.visitors))) == len(uniques)


def test_retention_prunes_raw_visits_and_keeps_rollups(rt, make_link, user):
    link = make_link(user, vanity="old")
    now = dt.datetime.now(dt.timezone.utc)
    for days_ago in (200, 91, 89, 0):
        rt.visits.offer(LinkVisited(link_id=link.id, code="old", at=now - dt.timedelta(days=days_ago),
                                    visitor=Visitor(address="8.8.8.8", user_agent="x")))
    flushed(rt)
    assert analytics.prune(rt, db.engine, now, batch=1) == 2
    assert len(visits()) == 2
    assert db.session.scalar(select(func.sum(VisitHour.count))) == 4  # statistics over years read the rollups
    assert {s.day for s in db.session.scalars(select(VisitSalt))} == {now.date()}
    assert {u.day for u in db.session.scalars(select(VisitUnique))} == {now.date()}


def test_deleting_a_link_deletes_its_visits_and_rollups(rt, client, make_link, user):
    from zipshort.services import links

    link = make_link(user, vanity="gone")
    client.get("/go/gone")
    flushed(rt)
    links.delete_link(rt, user, link.id)
    db.session.rollback()
    assert visits() == [] and db.session.scalar(select(func.count()).select_from(VisitHour)) == 0
    assert db.session.scalar(select(func.count()).select_from(VisitDay)) == 0


def test_anonymize_keeps_the_network_part():
    assert analytics.anonymize("192.168.10.20") == "192.168.10.0"
    assert analytics.anonymize("::ffff:192.0.2.1") == "192.0.2.0"
    assert analytics.anonymize("2a00:1450:4001:82a::200e") == "2a00:1450:4001::"
    assert analytics.anonymize("nonsense") == ""


@pytest.mark.parametrize(("referrer", "host"), [("https://www.google.com/search?q=x", "google.com"),
                                                ("android-app://com.slack/", "com.slack"), ("", ""),
                                                ("not a url", ""), ("http://[::1", "")])
def test_referrer_host(referrer, host):
    assert analytics.referrer_host(referrer) == host


@pytest.fixture
def city_database(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en"], ipv4_compatible=True)
    writer.insert_network(IPSet(["198.51.100.0/24"]), {
        "country": {"iso_code": "FR"}, "subdivisions": [{"names": {"en": "Île-de-France"}}],
        "city": {"names": {"en": "Paris"}},
        "location": {"latitude": 48.8534, "longitude": 2.3488, "time_zone": "Europe/Paris", "accuracy_radius": 20}})
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture
def overrides(request, city_database):
    return {"urls": {"geoip_database": city_database}} if "city" in request.node.name else {}


def test_a_city_database_adds_region_and_city(rt, client, make_link, user):
    make_link(user, vanity="city")
    client.get("/go/city", environ_base={"REMOTE_ADDR": "198.51.100.9"})  # in the database: Paris
    client.get("/go/city", environ_base={"REMOTE_ADDR": "8.8.8.8"})  # not in it: the embedded data
    flushed(rt)
    assert [(v.country, v.region, v.city) for v in visits()] == [("FR", "Île-de-France", "Paris"), ("US", None, None)]
    assert [(v.latitude, v.longitude, v.timezone) for v in visits()] == [(48.8534, 2.3488, "Europe/Paris"),
                                                                        (None, None, None)]
    assert day_rollups("country") == {"FR": 1, "US": 1}


def test_a_batch_that_fails_twice_is_dropped_and_counted_not_retried_forever(rt, make_link, user):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    link = make_link(user, vanity="poison")
    for _ in range(3):
        rt.visits.offer(LinkVisited(link_id=link.id, code="poison"))
    broken = create_engine("sqlite:////nonexistent-dir/nothing.db")  # every write fails
    with pytest.raises(OperationalError):
        analytics.write_queued(rt, broken)
    assert len(rt.visits) == 3 and rt.visits.dropped == 0  # given back once: the next round retries
    assert analytics.write_queued(rt, broken) == 0  # failed again: dropped, counted, the queue moves on
    assert len(rt.visits) == 0 and rt.visits.dropped == 3
    rt.visits.offer(LinkVisited(link_id=link.id, code="poison"))
    assert flushed(rt) == 1


def test_visit_events_pack_into_builtins_and_back_unchanged():
    """What the server sends its writer process: every field of every visit event survives the trip."""
    import pickle

    from zipshort.events import FileViewed, OrphanVisited

    visitor = Visitor(address="198.51.100.7", user_agent="curl/8.4.0", referrer="https://a.example/", languages=("de",),
                      do_not_track=True, url="", scheme="https", host="s.example:8443", root_path="/z", path="/go/x",
                      query=b"a=1&b=%20", country_hint="NL", accept_language="de-CH, en;q=0.5")
    at = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    events = [LinkVisited(link_id="l1", code="x", host="s.example", destination="https://d.example/", visitor=visitor,
                          at=at, request_id="r1", actor_id=None),
              FileViewed(file_id="f1", filename="a.png", host=None, visitor=None, at=at),
              OrphanVisited(kind="regular_404", host="s.example", url="https://s.example/nope", visitor=Visitor())]
    packed = analytics.pack(events)
    assert analytics.unpack(pickle.loads(pickle.dumps(packed))) == events
    assert all(type(v) in (int, float, str, bytes, bool, tuple, type(None))
               for row in packed for part in row for v in (part if isinstance(part, tuple) else (part,)))


def test_visit_times_survive_packing_to_the_microsecond():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    times = [start + dt.timedelta(microseconds=n * 7_919_999_983) for n in range(20_000)]  # into the 2030s
    events = [LinkVisited(link_id="l", code="x", at=at) for at in times]
    assert [e.at for e in analytics.unpack(analytics.pack(events))] == times


@pytest.mark.parametrize("overrides", [{"analytics": {"queue_size": 400, "batch_size": 20, "flush_seconds": 60}}])
def test_the_writer_starts_its_round_when_a_batch_waits(rt, live_server, make_link, user):
    """The writer does not let a busy queue fill until its next round (60 s here): 300 redirects fired 32 at a
    time are all stored while they run, none dropped, every view counted once."""
    make_link(user, vanity="wk")
    writer = analytics.VisitWriter(rt, db.engine).start()
    try:
        url = live_server.url + "/go/wk"
        assert set(burst(300, lambda i: fetch("GET", url).status_code)) == {302}
        deadline = time.monotonic() + 10
        while len(rt.visits) >= 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(rt.visits) < 20  # the rounds ran long before the interval
    finally:
        writer.stop()
    assert len(visits()) == 300 and rt.visits.dropped == 0
