"""What a key reaches: the SQL conditions select exactly the links the Python check admits, for every role over
links of every author and domain, on both databases; a key's stored role becomes its reach."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from tests.conftest import fresh
from zipshort.extensions import db
from zipshort.models import ApiKey, Link
from zipshort.services import apikeys, reach
from zipshort.services.reach import ALL, Reach

AUTHORS = (None, "k1", "k2")  # None: made in a browser session (or by a key since deleted)
DOMAINS = ("", "a.example", "b.example")


@pytest.fixture
def overrides():
    return {"domains": ["s.example"]}


@pytest.fixture
def keys(rt, user) -> dict[str, ApiKey]:
    made = {}
    for name in ("k1", "k2", "k3"):  # k3 creates nothing
        made[name] = apikeys.create_key(rt, apikeys.Actor.console(), user, name=name)[0]
    return made


@pytest.fixture
def grid(user, make_user, make_link, keys) -> dict[tuple[str | None, str], str]:
    """One link of ``user`` per (author, domain), columns written directly as the doors will; one link of
    somebody else made by nobody on ''. Returns {(author, domain): link id}."""
    made = {}
    for i, (author, domain) in enumerate(itertools.product(AUTHORS, DOMAINS)):
        link = make_link(user, vanity=f"r{i}", destination=f"https://example.com/{i}")
        db.session.query(Link).filter_by(id=link.id).update(
            {"domain": domain, "api_key_id": keys[author].id if author else None})
        made[(author, domain)] = link.id
    make_link(make_user("bob"), vanity="bobs")
    db.session.commit()
    return made


def _reaches(keys: dict[str, ApiKey]) -> dict[str, Reach]:
    k1, k2, k3 = (keys[n].id for n in ("k1", "k2", "k3"))
    return {"all": ALL, "k1 unrestricted": Reach(k1), "k1 authored": Reach(k1, authored_only=True),
            "k2 authored": Reach(k2, authored_only=True), "k3 authored": Reach(k3, authored_only=True),
            "platform": Reach(k1, domain=""), "a.example": Reach(k1, domain="a.example"),
            "k1 on a.example": Reach(k1, authored_only=True, domain="a.example"),
            "k2 on platform": Reach(k2, authored_only=True, domain=""),
            "unknown domain": Reach(k1, domain="c.example")}


# what each reach admits among the grid: {(author, domain)}
EXPECTED = {
    "all": set(itertools.product(AUTHORS, DOMAINS)),
    "k1 unrestricted": set(itertools.product(AUTHORS, DOMAINS)),
    "k1 authored": {("k1", d) for d in DOMAINS},
    "k2 authored": {("k2", d) for d in DOMAINS},
    "k3 authored": set(),
    "platform": {(a, "") for a in AUTHORS},
    "a.example": {(a, "a.example") for a in AUTHORS},
    "k1 on a.example": {("k1", "a.example")},
    "k2 on platform": {("k2", "")},
    "unknown domain": set(),
}


def test_the_sql_conditions_select_exactly_what_the_python_check_admits(user, keys, grid):
    rows = [fresh(Link, link_id) for link_id in grid.values()]
    names = {link_id: cell for cell, link_id in grid.items()}
    for label, each in _reaches(keys).items():
        in_sql = set(db.session.scalars(select(Link.id).where(Link.user_id == user.id, *each.link_conditions())))
        in_python = {row.id for row in rows if each.admits(row)}
        assert in_sql == in_python, label
        assert {names[i] for i in in_sql} == EXPECTED[label], label


def test_only_a_role_restricts():
    assert not ALL.restricted and not Reach("k").restricted
    assert Reach("k", authored_only=True).restricted and Reach("k", domain="").restricted
    assert ALL.link_conditions() == [] and Reach("k").link_conditions() == []


def test_a_domain_bound_reach_decides_where_new_links_go():
    assert ALL.creation_domain("a.example") == "a.example" and Reach("k").creation_domain("") == ""
    assert Reach("k", domain="").creation_domain("a.example") == ""
    assert Reach("k", domain="a.example").creation_domain("") == "a.example"


def test_authored_only_needs_a_key():
    with pytest.raises(ValueError):
        Reach(authored_only=True)


@pytest.mark.parametrize("stored,expected", [
    (None, None), ("", ""), ("s.example", ""), ("S.Example", ""), ("a.example", "a.example"),
    ("A.Example", "a.example"),
])
def test_a_keys_stored_role_becomes_its_reach(rt, keys, stored, expected):
    key = keys["k1"]
    key.domain, key.authored_only = stored, stored is not None
    db.session.commit()
    got = reach.reach_of(rt, fresh(ApiKey, key.id))
    assert got == Reach(key.id, authored_only=stored is not None, domain=expected)


def test_a_caller_without_key_reaches_everything(rt):
    assert reach.reach_of(rt, None) is ALL


def test_existing_keys_and_links_start_unrestricted(rt, user, keys, make_link):
    link = fresh(Link, make_link(user).id)
    assert (link.api_key_id, link.valid_since, link.forward_query, link.crawlable) == (None, None, False, False)
    key = fresh(ApiKey, keys["k1"].id)
    assert (key.authored_only, key.domain) == (False, None)
    assert not reach.reach_of(rt, key).restricted
