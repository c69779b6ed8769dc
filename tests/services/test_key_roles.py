"""Minting keys with roles (Shlink's AUTHORED_SHORT_URLS and DOMAIN_SPECIFIC) through the key door: what it takes,
what it stores, what it refuses, what the listing shows, and that a key holding a role mints no wider key."""

from __future__ import annotations

import pytest

from tests.conftest import count
from zipshort.errors import Forbidden, ValidationError
from zipshort.models import ApiKey
from zipshort.services import apikeys, domains
from zipshort.services.reach import Reach, reach_of

Actor = apikeys.Actor


@pytest.fixture
def overrides():
    return {"domains": ["s.example", "t.example"]}


def mint(rt, user, actor=None, **roles):
    return apikeys.create_key(rt, actor or Actor.of(user), user, name="k", **roles)[0]


def test_no_role_by_default(rt, user):
    row = mint(rt, user)
    assert row.authored_only is False and row.domain is None and reach_of(rt, row) == Reach(row.id)


def test_authored_only(rt, user):
    row = mint(rt, user, authored_only=True)
    assert row.authored_only is True and row.domain is None
    assert reach_of(rt, row) == Reach(row.id, authored_only=True)


def test_a_verified_custom_domain_is_stored_normalised(rt, user, own_domain):
    own_domain(user, "go.example")
    row = mint(rt, user, domain=" GO.example. ")
    assert row.domain == "go.example" and reach_of(rt, row) == Reach(row.id, domain="go.example")


@pytest.mark.parametrize("host", ["s.example", "T.EXAMPLE"])
def test_a_platform_host_is_stored_as_given_and_reaches_the_domain_less_links(rt, user, host):
    row = mint(rt, user, domain=host)
    assert row.domain == host.lower() and reach_of(rt, row) == Reach(row.id, domain="")


def test_both_roles_at_once_and_on_a_bot_key(rt, user, own_domain):
    own_domain(user, "go.example")
    row = mint(rt, user, authored_only=True, domain="go.example", bot=True)
    assert row.bot and reach_of(rt, row) == Reach(row.id, authored_only=True, domain="go.example")


def test_the_listing_shows_the_roles(rt, user, own_domain):
    own_domain(user, "go.example")
    mint(rt, user)
    mint(rt, user, authored_only=True)
    mint(rt, user, domain="go.example")
    mint(rt, user, authored_only=True, domain="s.example")
    listed = [(k.authored_only, k.domain, apikeys.role_labels(k)) for k in apikeys.list_keys(user)]
    assert listed == [(True, "s.example", ["authored-only", "domain=s.example"]),
                      (False, "go.example", ["domain=go.example"]), (True, None, ["authored-only"]),
                      (False, None, [])]


def test_an_unverified_or_anothers_domain_is_refused(rt, user, make_user, own_domain):
    domains.add_custom(rt, user, "pending.example")  # claimed, never verified
    own_domain(make_user("bob"), "bobs.example")
    for host in ("pending.example", "bobs.example", "nowhere.example", "localhost"):
        with pytest.raises(ValidationError) as err:
            mint(rt, user, domain=host)
        assert err.value.field == "domain" and host in err.value.message
    assert count(ApiKey) == 0


@pytest.mark.parametrize("domain", ["", "  ", "https://go.example/", "a b", "go.example/x", 5, ["go.example"],
                                    {"authority": "go.example"}, True])
def test_a_domain_that_is_no_hostname_is_refused(rt, user, domain):
    with pytest.raises(ValidationError) as err:
        mint(rt, user, domain=domain)
    assert err.value.field == "domain" and err.value.status == 400 and count(ApiKey) == 0


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
def test_authored_only_must_be_a_boolean(rt, user, value):
    with pytest.raises(ValidationError) as err:
        mint(rt, user, authored_only=value)
    assert err.value.field == "authoredOnly" and err.value.status == 400 and count(ApiKey) == 0


def test_a_key_holding_a_role_mints_only_keys_holding_it_too(rt, user, own_domain):
    own_domain(user, "go.example")
    scopes = ["links:read", "links:write", "keys:write"]
    authored = apikeys.create_key(rt, Actor.of(user), user, name="a", scopes=scopes, authored_only=True)[0]
    bound = apikeys.create_key(rt, Actor.of(user), user, name="d", scopes=scopes, domain="s.example")[0]
    for key, roles in ((authored, {}), (authored, {"domain": "go.example"}), (bound, {}),
                       (bound, {"domain": "go.example"}), (bound, {"authored_only": True})):
        with pytest.raises(Forbidden) as err:
            mint(rt, user, Actor.of(user, key), scopes=["links:read"], **roles)
        assert err.value.code == "wider_reach"
    assert mint(rt, user, Actor.of(user, authored), scopes=["links:read"], authored_only=True,
                domain="go.example").authored_only
    # the same domain however named: another platform host is the same domain-less links
    assert mint(rt, user, Actor.of(user, bound), scopes=["links:read"], domain="t.example").domain == "t.example"
    assert count(ApiKey) == 4


class TestWithoutPlatformDomains:
    """With no ``domains`` nor ``core.default_domain``, the platform is the host of the request: a key bound to it
    stores ``''`` (the domain-less links)."""

    @pytest.fixture
    def overrides(self):
        return {}

    def test_the_request_host_binds_to_the_platform(self, rt, user):
        row = mint(rt, user, domain="LocalHost", request_host="localhost")
        assert row.domain == "" and reach_of(rt, row) == Reach(row.id, domain="")
        assert apikeys.role_labels(row) == ["domain="]

    def test_without_a_request_host_it_is_unknown(self, rt, user):
        with pytest.raises(ValidationError):
            mint(rt, user, domain="localhost")
