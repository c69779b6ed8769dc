"""Reading links the Shlink way (services/linksearch.py): by code and domain within a reach, visit summaries."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.services.test_visitstats import CHROME, GOOGLEBOT, plant
from zipshort.errors import ValidationError
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


def test_search_links_filters_pages_and_orders(user, make_link):
    a = make_link(user, "https://one.example/", vanity="aa", tags=["Red", "blue"], max_views=1)
    b = make_link(user, "https://two.example/", vanity="bb", tags=["red"], title="Second")
    make_link(user, "https://three.example/", vanity="cc")
    search = linksearch.LinkSearch
    codes = lambda **kw: [link.slug for link in linksearch.search_links(user, ALL, search(**kw))[0]]  # noqa: E731
    assert codes() == ["cc", "bb", "aa"]
    assert codes(tags=("RED",)) == ["bb", "aa"] and codes(tags=("red", "blue"), tags_all=True) == ["aa"]
    assert codes(exclude_tags=("red",)) == ["cc"]
    assert codes(search_term="SECOND") == ["bb"] and codes(search_term="blu") == ["aa"]
    assert codes(search_term="blu", tags=("red", "blue"), tags_all=True) == []  # tag names not searched then
    assert codes(order="shortCode", descending=False) == ["aa", "bb", "cc"]
    assert codes(per_page=1, page=2) == ["bb"] and codes(per_page=None, page=2) == []
    assert linksearch.search_links(user, ALL, search(per_page=2))[1] == 3
    assert codes(domain="x.example") == [] and codes(domain="") == ["cc", "bb", "aa"]
    assert codes(start=utcnow() + dt.timedelta(days=1)) == []
    with pytest.raises(ValidationError):
        linksearch.search_links(user, ALL, search(order="bogus"))
    assert a.id != b.id


def test_find_matching_is_the_first_created_with_every_given_constraint(user, make_link):
    first = make_link(user, "https://x.example/", tags=["a"], max_views=3)
    make_link(user, "https://x.example/", tags=["a"], max_views=3)
    assert linksearch.find_matching(user, ALL, "https://x.example/").id == first.id
    assert linksearch.find_matching(user, ALL, "https://x.example/", tags=["A"], max_views=3).id == first.id
    assert linksearch.find_matching(user, ALL, "https://x.example/", tags=[]) is None
    assert linksearch.find_matching(user, ALL, "https://x.example/", max_views=4) is None
    assert linksearch.find_matching(user, ALL, "https://x.example/", domain="go.example") is None
    assert linksearch.find_matching(user, ALL, "https://x.example/", slug=first.slug.upper()).id == first.id
    assert linksearch.find_matching(user, Reach(key_id="k", authored_only=True), "https://x.example/") is None
