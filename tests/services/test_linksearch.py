"""Reading links the Shlink way (services/linksearch.py): by code and domain within a reach, visit summaries."""

from __future__ import annotations

import datetime as dt

from tests.services.test_visitstats import CHROME, GOOGLEBOT, plant
from zipshort.models import utcnow
from zipshort.services import linksearch
from zipshort.services.reach import ALL, Reach


def test_find_by_code_is_exact_on_domain_owner_and_reach(rt, make_link, make_user, user, own_domain):
    own_domain(user, "go.example")
    plain = make_link(user, vanity="Same")
    custom = make_link(user, vanity="other", domain="go.example")
    assert linksearch.find_by_code(user, "same", "", ALL).id == plain.id  # codes ignore case, as they are unique so
    assert linksearch.find_by_code(user, "Same", "go.example", ALL) is None  # no fallback between domains
    assert linksearch.find_by_code(user, "other", "go.example", ALL).id == custom.id
    assert linksearch.find_by_code(user, "other", "", ALL) is None
    assert linksearch.find_by_code(make_user("bob"), "Same", "", ALL) is None
    assert linksearch.find_by_code(user, "Same", "", Reach(key_id="k", authored_only=True)) is None
    assert linksearch.find_by_code(user, "other", "go.example", Reach(key_id="k", domain="")) is None
    assert linksearch.find_by_code(user, "x" * 300, "", ALL) is None


def test_visit_summaries_count_bots_apart_in_one_query(rt, make_link, user):
    a, b, c = make_link(user), make_link(user), make_link(user)
    now = utcnow()
    plant(rt, a, now, now - dt.timedelta(hours=3), agent=CHROME)
    plant(rt, a, now, agent=GOOGLEBOT)
    plant(rt, b, now - dt.timedelta(days=40), agent=GOOGLEBOT)
    assert linksearch.visit_summaries([a.id, b.id, c.id]) == {a.id: (3, 1), b.id: (1, 1)}
    assert linksearch.visit_summaries([]) == {}
