"""Visits as Shlink lists them (services/visitqueries.py), written by the real analytics writer: each list, each
filter, the paging numbers, key roles, who sees orphan visits, the all-time overview from the rollups, deletions
(also while the writer is storing visits)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update

from tests.conftest import burst
from tests.services.test_analytics import CHROME_WINDOWS as CHROME
from tests.services.test_analytics import GOOGLEBOT
from zipshort.errors import NotFound, ValidationError
from zipshort.events import LinkVisited, OrphanVisited, Visitor
from zipshort.extensions import db
from zipshort.models import ApiKey, Link, Role, Visit, VisitDay, VisitHour
from zipshort.services import analytics, apikeys, linksearch, visitqueries
from zipshort.services.reach import reach_of
from zipshort.services.visitqueries import Params, parse_orphan_type, parse_params

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ALL = Params()


@pytest.fixture
def overrides():
    return {"domains": ["s.example"]}


def flushed(rt) -> int:
    return analytics.flush(rt, db.engine)


def link_visit(rt, link, at: dt.datetime = T0, agent: str = CHROME) -> None:
    rt.visits.offer(LinkVisited(link_id=link.id, code=link.slug, host="s.example", destination=link.destination, at=at,
                                visitor=Visitor(address="8.8.8.8", user_agent=agent,
                                                url=f"https://s.example/go/{link.slug}")))


def orphan_visit(rt, kind: str, url: str, at: dt.datetime = T0, agent: str = CHROME) -> None:
    rt.visits.offer(OrphanVisited(kind=kind, host="s.example", url=url, at=at,
                                  visitor=Visitor(address="8.8.4.4", user_agent=agent)))


def key_of(rt, user, name: str = "k", scopes=None, **role) -> ApiKey:
    key = apikeys.create_key(rt, apikeys.Actor.console(), user, name=name, scopes=scopes)[0]
    if role:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(**role))
        db.session.commit()
        db.session.refresh(key)
    return key


def reader_for(rt, user, key: ApiKey | None = None):
    return visitqueries.reader(apikeys.Actor.of(user, key), reach_of(rt, key))


def made_by(link, key: ApiKey) -> None:
    """What the doors record for a link made by ``key`` (written directly, as tests/services/test_reach.py does)."""
    db.session.execute(update(Link).where(Link.id == link.id).values(api_key_id=key.id))
    db.session.commit()


def by_code(who, code: str, domain: str = ""):
    """The short URL as the Shlink face finds it (api/shlink/common.find_short_url)."""
    return linksearch.find_by_code(who.user, code, domain, who.reach)


def urls(page) -> list[str]:
    return [v.url for v in page.visits]


# --- parameters ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page,size,expected", [
    (None, None, (1, None)), ("", "", (1, None)), ("0", "5", (1, 5)), ("-3", "5", (1, 5)), ("2", "-1", (2, None)),
    ("3", "0", (3, None)), (" 4 ", "10", (4, 10)),
])
def test_page_and_items_per_page_follow_shlinks_defaults(page, size, expected):
    params = parse_params(page=page, items_per_page=size)
    assert (params.page, params.per_page) == expected


@pytest.mark.parametrize("field,value", [("page", "x"), ("page", "1.5"), ("itemsPerPage", "1e3"),
                                         ("itemsPerPage", "9" * 40), ("page", "²"), ("startDate", "yesterday"),
                                         ("endDate", "2026-13-01"), ("startDate", "0000-01-01"),
                                         ("page", "9" * 17)])
def test_bad_parameters_are_refused_naming_the_field(field, value):
    names = {"page": "page", "itemsPerPage": "items_per_page", "startDate": "start_date", "endDate": "end_date"}
    with pytest.raises(ValidationError) as caught:
        parse_params(**{names[field]: value})
    assert caught.value.field == field


def test_a_far_page_is_refused_not_a_database_error():
    with pytest.raises(ValidationError) as caught:
        parse_params(page=str(10**17), items_per_page=str(10**17))
    assert caught.value.field == "page"


def test_dates_are_inclusive_and_a_date_means_its_whole_day():
    params = parse_params(start_date="2026-03-04", end_date="2026-03-04")
    assert params.start == dt.datetime(2026, 3, 4, tzinfo=UTC)
    assert params.end == dt.datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)
    exact = parse_params(start_date="2026-03-04T10:00:00+02:00", end_date="2026-03-04 12:00:00")
    assert exact.start == dt.datetime(2026, 3, 4, 8, tzinfo=UTC)
    assert exact.end == dt.datetime(2026, 3, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize("value", ["base_url", "invalid_short_url", "regular_404"])
def test_the_three_orphan_types_are_accepted(value):
    assert parse_orphan_type(value) == value


@pytest.mark.parametrize("value", ["BASE_URL", "other", " base_url", "regular404"])
def test_any_other_orphan_type_is_refused(value):
    with pytest.raises(ValidationError) as caught:
        parse_orphan_type(value)
    assert caught.value.field == "type"


# --- one short URL ---------------------------------------------------------------------------------------------

def test_a_short_urls_visits_come_newest_first_with_bots_flagged(rt, client, make_link, user):
    link = make_link(user, vanity="one", destination="https://example.com/one")
    other = make_link(user, vanity="two")
    client.get("/go/one", headers={"User-Agent": CHROME})
    client.get("/go/two")
    client.get("/go/one?x=1", headers={"User-Agent": GOOGLEBOT})
    assert flushed(rt) == 3
    page = visitqueries.link_visits(by_code(reader_for(rt, user), "ONE"), ALL)  # codes match in any case
    assert urls(page) == ["http://localhost/go/one?x=1", "http://localhost/go/one"]
    assert [v.bot for v in page.visits] == [True, False] and page.total == 2
    assert {v.link_id for v in page.visits} == {link.id} != {other.id}


def test_exclude_bots_and_dates_filter_the_list(rt, make_link, user):
    link = make_link(user, vanity="f")
    for hours, agent in [(0, CHROME), (1, GOOGLEBOT), (24, CHROME), (48, CHROME)]:
        link_visit(rt, link, T0 + dt.timedelta(hours=hours), agent)
    flushed(rt)
    who = reader_for(rt, user)
    no_bots = visitqueries.link_visits(by_code(who, "f"), Params(exclude_bots=True))
    assert [v.at for v in no_bots.visits] == [T0 + dt.timedelta(hours=h) for h in (48, 24, 0)]
    day = parse_params(start_date="2026-03-05", end_date="2026-03-05")
    assert [v.at for v in visitqueries.link_visits(by_code(who, "f"), day).visits] == [T0 + dt.timedelta(hours=24)]
    edges = parse_params(start_date=T0.isoformat(), end_date=(T0 + dt.timedelta(hours=1)).isoformat())
    assert visitqueries.link_visits(by_code(who, "f"), edges).total == 2  # both ends inclusive


def test_pages_are_slices_of_the_newest_first_list(rt, make_link, user):
    link = make_link(user, vanity="p")
    for i in range(7):
        link_visit(rt, link, T0 + dt.timedelta(minutes=i))
    flushed(rt)
    who = reader_for(rt, user)
    third = visitqueries.link_visits(by_code(who, "p"), parse_params(page="3", items_per_page="3"))
    assert ([v.at for v in third.visits], third.total, third.page, third.per_page) == ([T0], 7, 3, 3)
    second = visitqueries.link_visits(by_code(who, "p"), parse_params(page="2", items_per_page="3"))
    assert [v.at for v in second.visits] == [T0 + dt.timedelta(minutes=m) for m in (3, 2, 1)]
    beyond = visitqueries.link_visits(by_code(who, "p"), parse_params(page="9", items_per_page="3"))
    assert (beyond.visits, beyond.total) == ([], 7)
    every = visitqueries.link_visits(by_code(who, "p"), ALL)
    assert (len(every.visits), every.per_page) == (7, None)


def test_a_short_url_is_found_on_its_domain_only(rt, make_link, user, own_domain):
    own_domain(user, "a.example")
    on_custom = make_link(user, vanity="dom", domain="a.example")
    link_visit(rt, on_custom)
    flushed(rt)
    who = reader_for(rt, user)
    assert visitqueries.link_visits(by_code(who, "dom", "a.example"), ALL).total == 1
    assert by_code(who, "dom") is None and by_code(who, "dom", "b.example") is None


def test_another_users_short_url_is_not_found_even_for_an_administrator(rt, make_link, make_user, user):
    make_link(user, vanity="mine")
    boss = make_user("boss", role=Role.SUPERADMIN)
    assert by_code(reader_for(rt, boss), "mine") is None


# --- key roles -------------------------------------------------------------------------------------------------

def test_an_authored_only_key_sees_only_its_links_visits(rt, make_link, user):
    key = key_of(rt, user, "author", authored_only=True)
    ours, theirs = make_link(user, vanity="ours"), make_link(user, vanity="theirs")
    made_by(ours, key)
    for link in (ours, theirs, theirs):
        link_visit(rt, link)
    flushed(rt)
    who = reader_for(rt, user, key)
    assert visitqueries.link_visits(by_code(who, "ours"), ALL).total == 1
    assert by_code(who, "theirs") is None
    assert [v.link_id for v in visitqueries.non_orphan_visits(who, None, ALL).visits] == [ours.id]
    linked, _ = visitqueries.overview(who)
    assert linked.total == 1
    assert visitqueries.overview(reader_for(rt, user))[0].total == 3


def test_a_domain_key_sees_only_its_domains_visits(rt, make_link, user, own_domain):
    own_domain(user, "a.example", "b.example")
    key = key_of(rt, user, "dom", domain="a.example")
    on_a, on_b, bare = (make_link(user, vanity="on-a", domain="a.example"),
                        make_link(user, vanity="on-b", domain="b.example"), make_link(user, vanity="bare"))
    for link in (on_a, on_b, bare):
        link_visit(rt, link)
    flushed(rt)
    who = reader_for(rt, user, key)
    assert [v.link_id for v in visitqueries.non_orphan_visits(who, None, ALL).visits] == [on_a.id]
    assert visitqueries.domain_visits(who, "a.example", "a.example", ALL).total == 1
    for authority, domain in (("b.example", "b.example"), ("DEFAULT", ""), ("s.example", "")):
        with pytest.raises(NotFound) as caught:
            visitqueries.domain_visits(who, authority, domain, ALL)
        assert (caught.value.code, dict(caught.value.extra)) == ("domain_not_found", {"authority": authority})
    assert visitqueries.overview(who)[0].total == 1


def test_a_key_bound_to_the_platform_domain_reads_default_domain_visits(rt, make_link, user, own_domain):
    own_domain(user, "a.example")
    key = key_of(rt, user, "platform", domain="s.example")  # a platform host: the domain-less links
    bare, custom = make_link(user, vanity="bare"), make_link(user, vanity="custom", domain="a.example")
    link_visit(rt, bare)
    link_visit(rt, custom)
    flushed(rt)
    who = reader_for(rt, user, key)
    assert [v.link_id for v in visitqueries.domain_visits(who, "DEFAULT", "", ALL).visits] == [bare.id]
    with pytest.raises(NotFound):
        visitqueries.domain_visits(who, "a.example", "a.example", ALL)


# --- tags, domains, non-orphan ---------------------------------------------------------------------------------

def test_tag_visits_match_the_tag_name_exactly(rt, make_link, make_user, user, own_domain):
    own_domain(user, "a.example")
    tagged = make_link(user, vanity="t1", tags=["launch"])
    tagged_elsewhere = make_link(user, vanity="t2", tags=["launch", "x"], domain="a.example")
    untagged = make_link(user, vanity="t3")
    bobs = make_link(make_user("bob"), vanity="t4", tags=["launch"])
    for link in (tagged, tagged_elsewhere, untagged, bobs):
        link_visit(rt, link)
    flushed(rt)
    who = reader_for(rt, user)
    assert {v.link_id for v in visitqueries.tag_visits(who, "launch", None, ALL).visits} == {
        tagged.id, tagged_elsewhere.id}
    assert [v.link_id for v in visitqueries.tag_visits(who, "launch", "", ALL).visits] == [tagged.id]
    assert [v.link_id for v in visitqueries.tag_visits(who, "launch", "a.example", ALL).visits] == [
        tagged_elsewhere.id]
    for name in ("Launch", "launc", "nope", "x" * 300):
        with pytest.raises(NotFound) as caught:
            visitqueries.tag_visits(who, name, None, ALL)
        assert (caught.value.code, dict(caught.value.extra)) == ("tag_not_found", {"tag": name})


def test_a_restricted_key_sees_only_tags_of_links_it_reaches(rt, make_link, user):
    key = key_of(rt, user, "author", authored_only=True)
    mine, other = make_link(user, vanity="m", tags=["mine"]), make_link(user, vanity="o", tags=["other", "mine"])
    made_by(mine, key)
    link_visit(rt, mine)
    link_visit(rt, other)
    flushed(rt)
    who = reader_for(rt, user, key)
    assert [v.link_id for v in visitqueries.tag_visits(who, "mine", None, ALL).visits] == [mine.id]
    with pytest.raises(NotFound):
        visitqueries.tag_visits(who, "other", None, ALL)
    assert visitqueries.tag_visits(reader_for(rt, user), "other", None, ALL).total == 1


def test_domain_visits_of_the_default_and_a_custom_domain(rt, make_link, user, own_domain):
    own_domain(user, "a.example", "quiet.example")
    bare, custom = make_link(user, vanity="bare"), make_link(user, vanity="custom", domain="a.example")
    link_visit(rt, bare)
    link_visit(rt, custom)
    link_visit(rt, custom)
    flushed(rt)
    who = reader_for(rt, user)
    assert [v.link_id for v in visitqueries.domain_visits(who, "DEFAULT", "", ALL).visits] == [bare.id]
    assert visitqueries.domain_visits(who, "a.example", "a.example", ALL).total == 2
    quiet = visitqueries.domain_visits(who, "quiet.example", "quiet.example", ALL)  # claimed, no links: known
    assert quiet.total == 0
    with pytest.raises(NotFound):
        visitqueries.domain_visits(who, "unknown.example", "unknown.example", ALL)


def test_non_orphan_visits_are_every_visible_link_and_no_file_or_orphan(rt, client, make_link, make_file, make_user,
                                                                        user, own_domain):
    own_domain(user, "a.example")
    bare, custom = make_link(user, vanity="n1"), make_link(user, vanity="n2", domain="a.example")
    make_link(make_user("bob"), vanity="n3")
    make_file(user, b"x", name="n.txt")
    for path in ("/go/n1", "/go/n3", "/u/n.txt", "/go/missing", "/"):
        client.get(path)
    link_visit(rt, custom)
    flushed(rt)
    who = reader_for(rt, user)
    assert {v.link_id for v in visitqueries.non_orphan_visits(who, None, ALL).visits} == {bare.id, custom.id}
    assert [v.link_id for v in visitqueries.non_orphan_visits(who, "a.example", ALL).visits] == [custom.id]
    assert [v.link_id for v in visitqueries.non_orphan_visits(who, "", ALL).visits] == [bare.id]


# --- orphan visits ---------------------------------------------------------------------------------------------

@pytest.fixture
def admin(make_user):
    return make_user("root", role=Role.ADMIN)


def test_orphan_visits_by_type_and_url(rt, client, admin):
    client.get("/")
    client.get("/go/nothing", headers={"User-Agent": GOOGLEBOT})
    client.get("/wp-login.php")
    orphan_visit(rt, "regular_404", "https://other.example/x")
    flushed(rt)
    who = reader_for(rt, admin, key_of(rt, admin, scopes=["stats:read", "admin"]))
    every = visitqueries.orphan_visits(who, None, (), ALL)
    assert [(v.orphan_type, v.url) for v in every.visits] == [
        ("regular_404", "https://other.example/x"), ("regular_404", "http://localhost/wp-login.php"),
        ("invalid_short_url", "http://localhost/go/nothing"), ("base_url", "http://localhost/")]
    assert urls(visitqueries.orphan_visits(who, "regular_404", (), ALL)) == [
        "https://other.example/x", "http://localhost/wp-login.php"]
    assert urls(visitqueries.orphan_visits(who, None, ("other.exa",), ALL)) == ["https://other.example/x"]
    assert urls(visitqueries.orphan_visits(who, None, ("%",), ALL)) == []  # a substring, not a pattern
    no_bots = visitqueries.orphan_visits(who, "invalid_short_url", (), Params(exclude_bots=True))
    assert no_bots.total == 0


def test_orphan_visits_whose_url_holds_any_of_several_hosts(rt, admin):
    for url in ("https://s.example/", "https://a.example/", "https://b.example/"):
        orphan_visit(rt, "base_url", url)
    flushed(rt)
    who = reader_for(rt, admin)  # a browser session: every scope of an administrator
    assert urls(visitqueries.orphan_visits(who, None, ("s.example", "b.example"), ALL)) == [
        "https://b.example/", "https://s.example/"]


@pytest.mark.parametrize("who", ["user", "admin key without the admin scope", "restricted admin key", "bot key"])
def test_orphan_visits_are_for_unrestricted_administrators_only(rt, user, admin, who):
    orphan_visit(rt, "base_url", "https://s.example/")
    flushed(rt)
    if who == "user":
        caller = reader_for(rt, user)
    elif who == "bot key":
        bot = apikeys.create_key(rt, apikeys.Actor.console(), admin, name="bot", bot=True, scopes=["stats:read"])[0]
        caller = reader_for(rt, admin, bot)
    else:
        restricted = {"authored_only": True} if who.startswith("restricted") else {}
        scopes = ["stats:read", "admin"] if restricted else ["stats:read"]
        caller = reader_for(rt, admin, key_of(rt, admin, scopes=scopes, **restricted))
    page = visitqueries.orphan_visits(caller, None, (), ALL)
    assert (page.visits, page.total) == ([], 0)
    assert visitqueries.overview(caller)[1] == visitqueries.Summary()
    assert visitqueries.delete_orphan_visits(caller) == 0
    assert visitqueries.overview(reader_for(rt, admin))[1].total == 1  # nothing was deleted


# --- the overview ----------------------------------------------------------------------------------------------

def test_the_overview_counts_bots_apart_and_outlives_raw_visits(rt, make_link, make_user, admin):
    link = make_link(admin, vanity="ov")
    make_link(make_user("bob"), vanity="bob")
    old = dt.datetime.now(UTC) - dt.timedelta(days=400)
    for at, agent in [(old, CHROME), (old, GOOGLEBOT), (T0, CHROME), (T0, CHROME)]:
        link_visit(rt, link, at, agent)
    orphan_visit(rt, "base_url", "https://s.example/", agent=GOOGLEBOT)
    orphan_visit(rt, "regular_404", "https://s.example/x")
    link_visit(rt, make_link(make_user("carol"), vanity="c"))
    flushed(rt)
    analytics.prune(rt, db.engine, dt.datetime.now(UTC))  # the raw visits of 400 days ago go
    linked, orphaned = visitqueries.overview(reader_for(rt, admin))
    assert (linked.total, linked.non_bots, linked.bots) == (4, 3, 1)
    assert (orphaned.total, orphaned.non_bots, orphaned.bots) == (2, 1, 1)
    assert visitqueries.non_orphan_visits(reader_for(rt, admin), None, ALL).total < 4  # lists read raw visits


# --- deletions -------------------------------------------------------------------------------------------------

def test_deleting_a_short_urls_visits_removes_raw_visits_and_rollups(rt, make_link, user):
    link, kept = make_link(user, vanity="del"), make_link(user, vanity="kept")
    for target in (link, link, kept):
        link_visit(rt, target)
    flushed(rt)
    who = reader_for(rt, user)
    assert visitqueries.delete_link_visits(who, link) == 2
    assert visitqueries.link_visits(by_code(who, "del"), ALL).total == 0
    assert visitqueries.overview(who)[0].total == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(VisitDay).where(VisitDay.target == link.id)) == 0
    assert visitqueries.delete_link_visits(who, link) == 0


def test_deleting_orphan_visits_removes_them_all_and_nothing_else(rt, make_link, admin):
    link = make_link(admin, vanity="keep")
    link_visit(rt, link)
    for kind in ("base_url", "invalid_short_url", "regular_404", "regular_404"):
        orphan_visit(rt, kind, "https://s.example/")
    flushed(rt)
    who = reader_for(rt, admin)
    assert visitqueries.delete_orphan_visits(who) == 4
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 1
    assert set(db.session.scalars(select(VisitHour.target))) == {link.id}
    assert set(db.session.scalars(select(VisitDay.target))) == {link.id}
    assert visitqueries.overview(who) == (visitqueries.Summary(1, 0), visitqueries.Summary())


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_deleting_orphan_visits_while_they_are_written_keeps_raw_visits_and_rollups_equal(rt, app, admin, attempt):
    """Writers store batches of orphan visits while deletions run: every raw visit left has its rollups and every
    rollup its raw visits, and what was deleted plus what is left is what was written."""
    who = reader_for(rt, admin)
    batches, per_batch = 30, 40
    deleted: list[int] = []
    written = threading.Semaphore(0)  # one release per batch stored: a deletion runs while the next is written
    done = threading.Event()

    def write(_: int) -> None:
        try:
            with app.app_context():
                for _ in range(batches):
                    events = [OrphanVisited(kind="regular_404", host="s.example", url="https://s.example/x",
                                            visitor=Visitor(address="8.8.8.8", user_agent=CHROME))
                              for _ in range(per_batch)]
                    analytics.write_batch(rt, db.engine, events)
                    written.release()
        finally:
            done.set()
            written.release()

    def delete(_: int) -> None:
        with app.app_context():
            while not done.is_set():
                if written.acquire(timeout=30):
                    deleted.append(visitqueries.delete_orphan_visits(who))
            db.session.remove()

    burst(2, lambda i: (write if i == 0 else delete)(i), workers=2)
    db.session.rollback()
    raw = db.session.scalar(select(func.count()).select_from(Visit)) or 0
    rolled = db.session.scalar(select(func.coalesce(func.sum(VisitHour.count), 0))) or 0
    by_day = db.session.scalar(select(func.coalesce(func.sum(VisitDay.count), 0))
                               .where(VisitDay.dimension == "country")) or 0
    assert raw == rolled == by_day
    assert sum(deleted) + raw == batches * per_batch
    assert len(deleted) > 1
