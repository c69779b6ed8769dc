"""Special redirects per domain (services/domainredirects.py): who sets them, merging, the visible domains."""

from __future__ import annotations

import pytest

from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.models import Role
from zipshort.services import domainredirects
from zipshort.services.reach import ALL, Reach


def test_set_merges_and_clears(user, own_domain):
    own_domain(user, "go.example")
    assert domainredirects.set_redirects(user, "go.example", {"base_url": "https://a/", "bogus": "x"}) == \
        domainredirects.Redirects(base_url="https://a/")
    assert domainredirects.set_redirects(user, "go.example", {"regular_404": " https://b/ "}) == \
        domainredirects.Redirects(base_url="https://a/", regular_404="https://b/")
    assert domainredirects.set_redirects(user, "go.example", {"base_url": None, "invalid_short_url": ""}) == \
        domainredirects.Redirects(regular_404="https://b/")
    assert domainredirects.redirects_of(["go.example", "other"]) == {
        "go.example": domainredirects.Redirects(regular_404="https://b/")}
    assert domainredirects.redirects_of([]) == {}


def test_who_may_set(user, make_user, own_domain, rt):
    from zipshort.services import domains

    domains.add_custom(rt, user, "pending.example")
    own_domain(make_user("bob"), "bob.example")
    for name in ("pending.example", "bob.example", "unknown.example"):
        with pytest.raises(NotFound):
            domainredirects.set_redirects(user, name, {"base_url": "https://a/"})
    with pytest.raises(Forbidden):
        domainredirects.set_redirects(user, "", {"base_url": "https://a/"})
    admin = make_user("root", role=Role.ADMIN)
    assert domainredirects.set_redirects(admin, "", {"base_url": "https://a/"}).base_url == "https://a/"
    own_domain(user, "go.example")
    with pytest.raises(ValidationError) as refused:
        domainredirects.set_redirects(user, "go.example", {"regular_404": 5})
    assert refused.value.field == "regular_404"
    with pytest.raises(ValidationError):
        domainredirects.set_redirects(user, "go.example", {"base_url": "x" * 3000})


def test_visible_domains(user, make_link, own_domain):
    own_domain(user, "b.example", "a.example")
    assert domainredirects.visible_domains(user, ALL) == (True, ["a.example", "b.example"])
    assert domainredirects.visible_domains(user, Reach(key_id="k", domain="a.example")) == (False, ["a.example"])
    assert domainredirects.visible_domains(user, Reach(key_id="k", domain="")) == (True, [])
    make_link(user, domain="b.example", api_key_id=None)
    assert domainredirects.visible_domains(user, Reach(key_id="k", authored_only=True)) == (True, [])
