"""Domains: platform domains from settings with stable ids; custom domains claimed by users, proven once,
then theirs alone; links keep a domain from being removed."""

from __future__ import annotations

import pytest

from tests.conftest import count
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.models import CustomDomain, Role
from zipshort.services import domains


@pytest.fixture
def overrides():
    return {"domains": ["sho.rt", "alt.example"], "core": {"default_domain": "alt.example"}}


def test_platform_domains_put_the_default_first_with_stable_ids(rt):
    listed = domains.platform_domains(rt, "ignored.host")
    assert [(d.hostname, d.is_primary) for d in listed] == [("alt.example", True), ("sho.rt", False)]
    assert listed[1].id == domains.domain_id("SHO.RT") == domains.platform_domains(rt, "x")[1].id


@pytest.mark.parametrize("overrides", [{}])
def test_without_configured_domains_the_request_host_is_the_platform(rt):
    assert [d.hostname for d in domains.platform_domains(rt, "Here.Example")] == ["here.example"]


def test_choose_finds_by_id_or_name_and_falls_back_to_the_primary(rt, user, own_domain):
    assert domains.choose(rt, "x", name="sho.rt").hostname == "sho.rt"
    assert domains.choose(rt, "x", ident=domains.domain_id("sho.rt")).hostname == "sho.rt"
    assert domains.choose(rt, "x", name="nowhere.example").hostname == "alt.example"
    own_domain(user, "mine.example")
    assert domains.choose(rt, "x", name="mine.example").hostname == "alt.example"  # not without its owner
    mine = domains.choose(rt, "x", name="mine.example", owner=user)
    assert mine.custom and domains.link_domain(mine) == "mine.example"
    assert domains.link_domain(domains.choose(rt, "x", name="sho.rt")) == ""  # platform links answer everywhere


@pytest.mark.parametrize("value,expected", [(" Links.Example.COM. ", "links.example.com"),
                                            ("bücher.example", "xn--bcher-kva.example"),
                                            ("host.example:8443", "host.example:8443")])
def test_hostnames_are_normalised(value, expected):
    assert domains.normalise_hostname(value) == expected


@pytest.mark.parametrize("value", ["", "https://a.example", "a.example/path", "-bad.example", "a..example",
                                   "a.example:99999", None, "a" * 64 + ".example"])
def test_what_is_not_a_hostname_is_refused(value):
    with pytest.raises(ValidationError):
        domains.normalise_hostname(value)


def test_add_list_get_and_delete_a_custom_domain(rt, user):
    row = domains.add_custom(rt, user, "Go.Mine.Example")
    assert (row.hostname, row.verified, len(row.verify_token) >= 24) == ("go.mine.example", False, True)
    assert [d.id for d in domains.list_custom(user)] == [row.id]
    assert domains.get_custom(user, row.id).id == row.id
    domains.delete_custom(rt, user, row.id)
    assert count(CustomDomain) == 0


@pytest.mark.parametrize("hostname", ["sho.rt", "alt.example"])
def test_a_platform_domain_cannot_be_claimed(rt, user, hostname):
    with pytest.raises(Conflict):
        domains.add_custom(rt, user, hostname)


@pytest.mark.parametrize("overrides", [{"urls": {"custom_domains_per_user": 2}}])
def test_the_per_user_limit_holds(rt, user):
    domains.add_custom(rt, user, "one.example")
    domains.add_custom(rt, user, "two.example")
    with pytest.raises(Forbidden, match="at most 2"):
        domains.add_custom(rt, user, "three.example")
    assert count(CustomDomain) == 2


@pytest.mark.parametrize("overrides", [{"urls": {"custom_domains_per_user": 0}}])
def test_custom_domains_can_be_turned_off(rt, user):
    with pytest.raises(Forbidden):
        domains.add_custom(rt, user, "one.example")


def test_several_users_may_claim_a_name_until_one_proves_it(rt, user, make_user):
    mine = domains.add_custom(rt, user, "shared.example")
    theirs = domains.add_custom(rt, make_user("bob"), "shared.example")
    domains.mark_verified(rt, mine.id, True)
    assert count(CustomDomain) == 1 and domains.get_custom(user, mine.id).verified  # the other claim went
    with pytest.raises(NotFound):
        domains.get_custom(user, theirs.id)
    with pytest.raises(Conflict, match="already in use"):
        domains.add_custom(rt, make_user("carol"), "shared.example")


def test_a_domain_in_use_by_links_cannot_be_deleted(rt, user, own_domain, make_link):
    own_domain(user, "used.example")
    make_link(user, domain="used.example")
    (row,) = domains.list_custom(user)
    with pytest.raises(Conflict, match="1 link"):
        domains.delete_custom(rt, user, row.id)
    assert count(CustomDomain) == 1


def test_only_administrators_verify_by_hand_and_only_what_they_manage(rt, user, make_user):
    row = domains.add_custom(rt, user, "hand.example")
    with pytest.raises(Forbidden):
        domains.set_verified(rt, user, row.id, True)
    admin = make_user("boss", role=Role.ADMIN)
    assert domains.set_verified(rt, admin, row.id, True).verified
    root_row = domains.add_custom(rt, make_user("root", role=Role.SUPERADMIN), "root.example")
    with pytest.raises(NotFound):
        domains.set_verified(rt, admin, root_row.id, True)
    assert [d.id for d in domains.list_custom(admin, everyone=True)] == [row.id]


def test_a_verified_domain_passes_the_trusted_hosts_at_once(rt, user):
    from zipshort.extensions import db

    row = domains.add_custom(rt, user, "trusted.example")
    assert "trusted.example" not in domains.verified_hostnames(rt, db.engine)
    domains.mark_verified(rt, row.id, True)
    assert "trusted.example" in domains.verified_hostnames(rt, db.engine)
