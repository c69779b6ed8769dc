"""Special redirects per domain (services/domains.py sets them, services/domainredirects.py shows them): who sets
them, merging, the visible domains."""

from __future__ import annotations

import pytest

from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.models import Role
from zipshort.services import domainredirects, domains
from zipshort.services.reach import ALL, Reach


def _stored(row) -> domainredirects.Redirects:
    return domainredirects.Redirects(row.base_url, row.regular_404, row.invalid_short_url)


def test_set_merges_and_clears(rt, user, own_domain):
    own_domain(user, "go.example")
    assert _stored(domains.set_domain_redirects(rt, user, "go.example", {"base_url": "https://a/"})) == \
        domainredirects.Redirects(base_url="https://a/")
    assert _stored(domains.set_domain_redirects(rt, user, "go.example", {"regular_404": " https://b/ "})) == \
        domainredirects.Redirects(base_url="https://a/", regular_404="https://b/")
    assert _stored(domains.set_domain_redirects(rt, user, "go.example", {"base_url": None, "invalid_short_url": ""})) \
        == domainredirects.Redirects(regular_404="https://b/")
    assert domainredirects.redirects_of(["go.example", "other"]) == {
        "go.example": domainredirects.Redirects(regular_404="https://b/")}
    assert domainredirects.redirects_of([]) == {}


def test_who_may_set(user, make_user, own_domain, rt):
    domains.add_custom(rt, user, "pending.example")
    own_domain(make_user("bob"), "bob.example")
    for name in ("pending.example", "bob.example", "unknown.example"):
        with pytest.raises(NotFound):
            domains.set_domain_redirects(rt, user, name, {"base_url": "https://a/"})
    with pytest.raises(Forbidden):
        domains.set_domain_redirects(rt, user, "", {"base_url": "https://a/"})
    admin = make_user("root", role=Role.ADMIN)
    assert domains.set_domain_redirects(rt, admin, "", {"base_url": "https://a/"}).base_url == "https://a/"
    own_domain(user, "go.example")
    for bad in ({"regular_404": 5}, {"base_url": "x" * 3000}, {"bogus": "https://a/"}):
        with pytest.raises(ValidationError) as refused:
            domains.set_domain_redirects(rt, user, "go.example", bad)
        assert refused.value.field == next(iter(bad))


def test_visible_domains(user, make_link, own_domain):
    own_domain(user, "b.example", "a.example")
    assert domainredirects.visible_domains(user, ALL) == (True, ["a.example", "b.example"])
    assert domainredirects.visible_domains(user, Reach(key_id="k", domain="a.example")) == (False, ["a.example"])
    assert domainredirects.visible_domains(user, Reach(key_id="k", domain="")) == (True, [])
    make_link(user, domain="b.example")
    assert domainredirects.visible_domains(user, Reach(key_id="k", authored_only=True)) == (True, [])
