"""Domains: platform domains from settings with stable ids; custom domains claimed by users, proven once,
then theirs alone; links keep a domain from being removed."""

from __future__ import annotations

import dataclasses

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


# --- special redirects ------------------------------------------------------------------------------------

def test_set_domain_redirects_keeps_what_is_not_given_and_clears_none(rt, make_user):
    admin = make_user("root", role=Role.SUPERADMIN)
    domains.set_domain_redirects(rt, admin, "", {"base_url": "https://a.example/", "regular_404": "https://b/"})
    row = domains.set_domain_redirects(rt, admin, "sho.rt", {"regular_404": None, "invalid_short_url": "foo.com"})
    assert (row.domain, row.base_url, row.regular_404, row.invalid_short_url) == ("", "https://a.example/", None,
                                                                                  "foo.com")
    assert domains.domain_redirects(rt, "alt.example").id == row.id  # every platform name is the platform's row
    assert domains.domain_redirects(rt, "elsewhere.example") is None


def test_the_platforms_redirects_are_an_administrators(rt, user):
    with pytest.raises(Forbidden):
        domains.set_domain_redirects(rt, user, "", {"base_url": "https://a.example/"})


def test_a_custom_domains_redirects_are_its_verified_owners(rt, user, make_user, own_domain):
    own_domain(user, "mine.example")
    domains.add_custom(rt, user, "unproven.example")
    row = domains.set_domain_redirects(rt, user, "Mine.Example", {"base_url": "https://x.example/"})
    assert row.domain == "mine.example"
    for actor, name in ((make_user("bob"), "mine.example"), (user, "unproven.example")):
        with pytest.raises(NotFound):
            domains.set_domain_redirects(rt, actor, name, {"base_url": "https://x.example/"})


@pytest.mark.parametrize("changes", [{"elsewhere": "https://x/"}, {"base_url": "https://x/\nLocation: y"},
                                     {"base_url": "https://x/" + "a" * 2048}, {"base_url": 5}])
def test_bad_redirects_are_refused(rt, make_user, changes):
    with pytest.raises(ValidationError):
        domains.set_domain_redirects(rt, make_user("root", role=Role.SUPERADMIN), "", changes)


@pytest.mark.parametrize("overrides", [{"urls": {"regular_404_redirect": "https://server.example/{ORIGINAL_PATH}",
                                                 "invalid_short_url_redirect": "https://server.example/code"}}])
def test_special_redirect_takes_the_domains_then_the_platforms_then_the_servers(rt, user, make_user, own_domain):
    admin = make_user("root", role=Role.SUPERADMIN)
    own_domain(user, "mine.example")
    domains.set_domain_redirects(rt, admin, "", {"regular_404": "https://platform.example/", "base_url": "https://b/"})
    domains.set_domain_redirects(rt, user, "mine.example", {"invalid_short_url": "https://mine.example/gone"})
    assert domains.special_redirect(rt, "regular_404", "localhost", "/x") == "https://platform.example/"
    assert domains.special_redirect(rt, "invalid_short_url", "localhost", "/go/x") == "https://server.example/code"
    assert domains.special_redirect(rt, "invalid_short_url", "mine.example", "/go/x") == "https://mine.example/gone"
    # a custom domain does not take the platform's redirects: its missing kinds go to the server's
    assert domains.special_redirect(rt, "regular_404", "mine.example", "/a/b") == "https://server.example/a/b"
    assert domains.special_redirect(rt, "base_url", "mine.example", "/") is None


@pytest.mark.parametrize(("target", "filled"), [
    ("https://x.example/{ORIGINAL_PATH}", "https://x.example/go/a%20b"),
    ("https://x.example/from/{DOMAIN}{ORIGINAL_PATH}", "https://x.example/from/s.example:8080/go/a%20b"),
    ("https://x.example/?d={DOMAIN}&p={ORIGINAL_PATH}#{DOMAIN}",
     "https://x.example/?d=s.example%3A8080&p=%2Fgo%2Fa%2520b#{DOMAIN}"),
    ("https://{DOMAIN}/home", "https://s.example:8080/home"),
])
def test_placeholders_are_filled_as_shlink_fills_them(rt, target, filled):
    urls = dataclasses.replace(rt.settings.urls, regular_404_redirect=target)
    configured = dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, urls=urls))
    assert domains.special_redirect(configured, "regular_404", "S.example:8080", "/go/a%20b") == filled
