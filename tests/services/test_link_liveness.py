"""One liveness rule for links: every condition of services/linkstate.py says the same in SQL (the redirect's
statements) as in Python (listings, API objects, the classification of a miss), for every combination of
states, at the boundaries, on both databases."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tests.conftest import fresh
from zipshort.database import hot_statement
from zipshort.errors import Gone, PasswordRequired
from zipshort.extensions import db
from zipshort.models import Link, User
from zipshort.services import linkstate, redirects

NOW = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
EXPIRIES = {"never": None, "past": NOW - dt.timedelta(days=1), "just-past": NOW - dt.timedelta(microseconds=1),
            "exactly-now": NOW, "just-future": NOW + dt.timedelta(microseconds=1), "future": NOW + dt.timedelta(days=1)}
VIEWS = {"unlimited": (5, None), "one-left": (2, 3), "used-up": (3, 3), "over": (4, 3)}
# validSince: live from that instant on (exactly now is live, a microsecond later is not yet)
STARTS = {"always": None, "exactly-now": NOW, "just-future": NOW + dt.timedelta(microseconds=1)}
GRID = list(itertools.product((True, False), (False, True), EXPIRIES, VIEWS, STARTS))


@pytest.fixture
def grid(rt, make_user, make_link):
    """One link per combination of enabled, owner disabled, expiry, views and start (columns written directly, as
    time and visits would leave them); returns {code: (facts, link id)}."""
    owners = {False: make_user("alice"), True: make_user("dora")}
    made = {}
    for i, (enabled, owner_disabled, expiry, views, start) in enumerate(GRID):
        link = make_link(owners[owner_disabled], vanity=f"g{i}", destination=f"https://example.com/{i}")
        seen, limit = VIEWS[views]
        db.session.query(Link).filter_by(id=link.id).update(
            {"enabled": enabled, "expires_at": EXPIRIES[expiry], "views": seen, "max_views": limit,
             "valid_since": STARTS[start]})
        made[f"g{i}"] = (linkstate.Facts(enabled, EXPIRIES[expiry], seen, limit, owner_disabled, STARTS[start]),
                         link.id)
    db.session.query(User).filter_by(id=owners[True].id).update({"disabled": True})
    db.session.commit()
    return made


def _state(facts: linkstate.Facts) -> str:
    return linkstate.state_of(facts.enabled, facts.expires_at, facts.views, facts.max_views, facts.owner_disabled,
                              NOW, valid_since=facts.valid_since)


def _sql_holds(sql: str, link_id: str) -> bool:
    row = hot_statement(db.engine, f"SELECT id FROM links WHERE id = :id AND ({sql})", {"id": link_id, "now": NOW},
                        write=False)
    return row is not None


def test_every_condition_says_the_same_in_sql_and_in_python(grid):
    for condition in linkstate.CONDITIONS:
        for code, (facts, link_id) in grid.items():
            assert _sql_holds(condition.sql, link_id) == condition.holds(facts, NOW), (condition.fails_as, code, facts)


def test_the_redirects_filter_is_live_exactly_when_the_state_is_active(grid):
    for code, (facts, link_id) in grid.items():
        state = _state(facts)
        assert _sql_holds(linkstate.LIVE_SQL, link_id) == (state == linkstate.ACTIVE), (code, facts, state)


def test_the_row_the_listings_read_has_the_same_state(grid):
    for code, (facts, link_id) in grid.items():
        expected = _state(facts)
        row = fresh(Link, link_id)
        assert linkstate.link_state(row, NOW, facts.owner_disabled) == expected, code
        assert linkstate.is_live(row, NOW, facts.owner_disabled) == (expected == linkstate.ACTIVE)


def test_a_visit_redirects_exactly_when_the_state_is_active(rt, grid):
    for code, (facts, _) in grid.items():
        state = _state(facts)
        if state == linkstate.ACTIVE:
            assert redirects.follow(rt, code, "localhost", now=NOW, count=False).destination.startswith("https://")
        else:
            with pytest.raises(Gone):
                redirects.follow(rt, code, "localhost", now=NOW, count=False)


def test_a_protected_miss_asks_for_the_password_only_when_live(rt, grid):
    """The classification of a miss (services/redirects._missing) reads the same rule."""
    db.session.query(Link).update({"password_hash": rt.passwords.hash("pw")})
    db.session.commit()
    for code, (facts, _) in grid.items():
        live = _state(facts) == linkstate.ACTIVE
        with pytest.raises(PasswordRequired if live else Gone):
            redirects.follow(rt, code, "localhost", now=NOW)


def test_the_order_names_a_dead_link_by_its_first_failing_condition():
    past = NOW - dt.timedelta(seconds=1)
    assert linkstate.state_of(False, past, 3, 3, now=NOW) == linkstate.DISABLED
    assert linkstate.state_of(True, past, 3, 3, owner_disabled=True, now=NOW) == linkstate.DISABLED
    assert linkstate.state_of(True, past, 3, 3, now=NOW) == linkstate.EXPIRED
    assert linkstate.state_of(True, None, 3, 3, now=NOW) == linkstate.USED_UP
    later = NOW + dt.timedelta(seconds=1)
    assert linkstate.state_of(False, past, 3, 3, now=NOW, valid_since=later) == linkstate.DISABLED
    assert linkstate.state_of(True, past, 3, 3, now=NOW, valid_since=later) == linkstate.NOT_YET_VALID
    assert linkstate.state_of(True, None, 2, 3, now=NOW, valid_since=NOW) == linkstate.ACTIVE
    assert linkstate.state_of(True, None, 2, 3, now=NOW) == linkstate.ACTIVE
    assert [c.fails_as for c in linkstate.CONDITIONS] == [s for s in linkstate.LINK_STATES if s != linkstate.ACTIVE]
