"""Leases: while the view flusher runs, a limited link with views to spare is served from a lease of its views
held in memory (no SQL per visit); the flush counts what was used and returns the rest; the limit holds exactly,
under bursts and across edits, and a lease whose process died is counted as used, never handed out twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from tests.conftest import burst, only_link
from zipshort.errors import Gone
from zipshort.extensions import db
from zipshort.models import utcnow
from zipshort.services import links, redirects
from zipshort.services.maintenance import lease_lifetime
from zipshort.services.visits import flush_views, reclaim_leases


@pytest.fixture
def leasing(rt):
    """The runtime as `zipshort serve` runs it: the view flusher's leases active (flushed by hand here)."""
    rt.leases.active = True
    yield rt
    rt.leases.active = False


def lease_rows() -> list[tuple[str, int]]:
    db.session.rollback()
    return [tuple(r) for r in db.session.execute(sa.text("SELECT holder, amount FROM view_leases")).all()]


def flush(rt) -> int:
    return flush_views(db.engine, rt.views, rt.leases)


def visits(rt, code: str, n: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for _ in range(n):
        try:
            outcomes[redirects.follow(rt, code, "h").destination] += 1
        except Gone:
            outcomes["gone"] += 1
    return outcomes


def test_a_limited_link_is_served_from_a_lease_and_the_flush_counts_it(leasing, user, make_link):
    link = make_link(user, destination="https://example.com/l", vanity="leased", max_views=1000)
    assert visits(leasing, "leased", 100) == {"https://example.com/l": 100}
    # one lease of an eighth of what was left: the visits cost no SQL, the link's views wait for the flush
    assert only_link().views == 0 and lease_rows() == [(leasing.leases.holder, 125)]
    assert leasing.leases.held() == 25
    assert flush(leasing) == 100
    assert only_link().views == 100 and lease_rows() == [] and leasing.leases.held() == 0
    assert link.max_views == 1000


def test_the_limit_holds_exactly_through_leases_and_the_last_views_counted_one_by_one(leasing, user, make_link):
    make_link(user, vanity="hundred", max_views=100)
    outcomes = visits(leasing, "hundred", 90)
    flush(leasing)  # a flush in the middle: used views counted, the rest of the lease returned
    outcomes += visits(leasing, "hundred", 60)
    assert outcomes == {"https://example.com/": 100, "gone": 50}
    flush(leasing)
    assert only_link().views == 100 and lease_rows() == []


@pytest.mark.parametrize("attempt", range(2))
def test_a_burst_on_a_leased_link_serves_exactly_its_limit(app, leasing, user, make_link, attempt):
    make_link(user, vanity="burst", max_views=500)

    def visit(i: int) -> str:
        with app.app_context():
            try:
                redirects.follow(leasing, "burst", "h")
                return "ok"
            except Gone:
                return "gone"
            finally:
                if i % 97 == 0:
                    flush(leasing)  # flushes racing the visits

    assert Counter(burst(800, visit, workers=16)) == {"ok": 500, "gone": 300}
    flush(leasing)
    assert only_link().views == 500 and lease_rows() == []


def test_an_edit_stops_the_lease_and_the_new_limit_applies(leasing, rt, user, make_link):
    link = make_link(user, vanity="edit", max_views=1000)
    visits(leasing, "edit", 10)  # a lease of 125, 10 used
    links.update_link(rt, user, link.id, links.LinkChanges(max_views=60))
    # the lease is frozen: nothing more comes out of it, and the new limit counts the leased views
    outcomes = visits(leasing, "edit", 5)
    assert outcomes == {"gone": 5}  # 10 used + 125 leased >= 60 until the flush settles the lease
    flush(leasing)
    assert only_link().views == 10 and lease_rows() == []
    assert visits(leasing, "edit", 60) == {"https://example.com/": 50, "gone": 10}
    flush(leasing)
    assert only_link().views == 60


def test_after_an_edit_one_fresh_lease_serves_the_next_visits(leasing, rt, user, make_link):
    link = make_link(user, destination="https://example.com/old", vanity="fresh", max_views=1000)
    visits(leasing, "fresh", 10)  # a lease of 125, 10 used
    links.update_link(rt, user, link.id, links.LinkChanges(destination="https://example.com/new"))
    assert visits(leasing, "fresh", 20) == {"https://example.com/new": 20}
    # the old lease is held back for the flush to return; one new lease (an eighth of 1000 - 125) serves all 20
    assert lease_rows() == [(leasing.leases.holder, 125 + 109)] and leasing.leases.held() == 109 - 20
    flush(leasing)
    assert only_link().views == 30 and lease_rows() == []


def test_a_lease_whose_process_died_is_counted_as_used(leasing, rt, user, make_link):
    make_link(user, vanity="dead", max_views=1000)
    visits(leasing, "dead", 3)
    leasing.leases.drain()  # the process dies: its book is gone, its lease row stays
    assert reclaim_leases(db.engine, utcnow(), lease_lifetime(rt)) == 0  # still fresh
    later = utcnow() + lease_lifetime(rt) + dt.timedelta(seconds=1)
    assert reclaim_leases(db.engine, later, lease_lifetime(rt)) == 125
    assert only_link().views == 125 and lease_rows() == []


def test_a_failed_flush_keeps_the_lease_for_the_next(leasing, user, make_link):
    make_link(user, vanity="keep", max_views=1000)
    visits(leasing, "keep", 7)
    broken = sa.create_engine("sqlite:////nonexistent/dir/db.sqlite")
    with pytest.raises(sa.exc.OperationalError):
        flush_views(broken, leasing.views, leasing.leases)
    assert flush(leasing) == 7 and only_link().views == 7 and lease_rows() == []


def test_without_the_flusher_every_limited_view_is_counted_at_once(rt, user, make_link):
    make_link(user, vanity="direct", max_views=1000)
    visits(rt, "direct", 3)
    assert only_link().views == 3 and lease_rows() == []


def test_leased_views_count_against_a_password_link_and_other_processes(leasing, rt, user, make_link):
    """Another process sees leased views as spent: its own count stops where views + leases reach the limit."""
    make_link(user, vanity="shared", max_views=80)
    visits(leasing, "shared", 1)  # a lease of 10 (an eighth of 80), 1 used
    rt.leases.active = False  # now count as a process without a flusher would, while the lease is out
    rt.link_cache.clear()
    assert visits(rt, "shared", 75) == {"https://example.com/": 70, "gone": 5}
    rt.leases.active = True
    flush(leasing)
    assert only_link().views == 71
    assert visits(leasing, "shared", 12) == {"https://example.com/": 9, "gone": 3}


def test_concurrent_rounds_keep_one_lease_row_per_process(app, leasing, user, make_link):
    make_link(user, vanity="rows", max_views=100_000)
    threads = [threading.Thread(target=lambda: app.app_context().__enter__() and visits(leasing, "rows", 300))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [holder for holder, _ in lease_rows()] == [leasing.leases.holder]
    flush(leasing)
    assert only_link().views == 1200


def test_a_leased_link_is_not_served_from_its_lease_outside_its_time_window(leasing, user, make_link):
    start = utcnow() + dt.timedelta(hours=1)
    make_link(user, destination="https://example.com/l", vanity="window", max_views=1000, valid_since=start,
              expires_at=start + dt.timedelta(hours=1))
    assert redirects.follow(leasing, "window", "h", now=start).destination == "https://example.com/l"
    assert leasing.leases.held() > 0  # the next visits would come out of the lease, from the cache
    for outside in (start - dt.timedelta(microseconds=1), start + dt.timedelta(hours=1)):
        with pytest.raises(Gone):
            redirects.follow(leasing, "window", "h", now=outside)
    flush(leasing)
    assert only_link().views == 1
