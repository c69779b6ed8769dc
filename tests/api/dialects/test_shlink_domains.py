"""Shlink's domains: the list (default first, custom domains, redirects, defaults) and editing redirects."""

from __future__ import annotations

import pytest

from tests.api.dialects.test_shlink_base import assert_problem
from tests.api.dialects.test_shlink_short_urls import create, role_key
from tests.conftest import Api
from zipshort.extensions import db
from zipshort.models import DomainRedirect, Role
from zipshort.services import domains as domain_service

NONE = {"baseUrlRedirect": None, "regular404Redirect": None, "invalidShortUrlRedirect": None}


@pytest.fixture
def shlink(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


def domains(api) -> dict:
    res = api.get("/rest/v3/domains")
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["domains"]


def test_list_default_first_then_custom_domains_by_name(shlink, user, own_domain, rt):
    assert domains(shlink) == {"data": [{"domain": "localhost", "isDefault": True, "redirects": NONE}],
                               "defaultRedirects": NONE}
    own_domain(user, "z.example", "a.example")
    domain_service.add_custom(rt, user, "pending.example")  # not verified: not listed
    listed = domains(shlink)["data"]
    assert [d["domain"] for d in listed] == ["localhost", "a.example", "z.example"]
    assert [d["isDefault"] for d in listed] == [True, False, False]


class TestDefaults:
    @pytest.fixture
    def overrides(self):
        return {"core": {"default_domain": "s.example"},
                "urls": {"base_url_redirect": "https://home.example/", "regular_404_redirect": "",
                         "invalid_short_url_redirect": "https://{DOMAIN}/nope"}}

    def test_default_redirects_and_domain_name_come_from_the_settings(self, shlink):
        listed = domains(shlink)
        assert listed["data"][0]["domain"] == "s.example"
        assert listed["defaultRedirects"] == {"baseUrlRedirect": "https://home.example/", "regular404Redirect": None,
                                              "invalidShortUrlRedirect": "https://{DOMAIN}/nope"}


def test_edit_redirects_of_a_custom_domain(shlink, user, own_domain):
    own_domain(user, "go.example")
    res = shlink.patch("/rest/v3/domains/redirects", json={"domain": "GO.example", "baseUrlRedirect": "foo.com"})
    assert res.status_code == 200
    assert res.get_json() == {**NONE, "baseUrlRedirect": "foo.com"}
    res = shlink.patch("/rest/v3/domains/redirects", json={"domain": "go.example", "regular404Redirect": "https://x/"})
    assert res.get_json() == {"baseUrlRedirect": "foo.com", "regular404Redirect": "https://x/",
                              "invalidShortUrlRedirect": None}  # omitted keys are kept
    res = shlink.patch("/rest/v3/domains/redirects", json={"domain": "go.example", "baseUrlRedirect": None})
    assert res.get_json()["baseUrlRedirect"] is None and res.get_json()["regular404Redirect"] == "https://x/"
    listed = domains(shlink)["data"]
    assert listed[1] == {"domain": "go.example", "isDefault": False,
                         "redirects": {**NONE, "regular404Redirect": "https://x/"}}
    assert db.session.scalar(db.select(db.func.count()).select_from(DomainRedirect)) == 1


@pytest.mark.parametrize("data,elements", [
    ({}, ["domain"]), ({"domain": None}, ["domain"]), ({"domain": ""}, ["domain"]),
    ({"domain": "not a domain"}, ["domain"]), ({"domain": "go.example:888888"}, ["domain"]),
    ({"domain": 5}, ["domain"]),
    ({"domain": "go.example", "baseUrlRedirect": 5}, ["baseUrlRedirect"]),
    ({"domain": "go.example", "invalidShortUrlRedirect": ["x"], "regular404Redirect": {}},
     ["regular404Redirect", "invalidShortUrlRedirect"]),
    ({"domain": "go.example", "baseUrlRedirect": "a\nb"}, ["baseUrlRedirect"]),
])
def test_bad_redirect_edits(shlink, user, own_domain, data, elements):
    own_domain(user, "go.example")
    body = assert_problem(shlink.patch("/rest/v3/domains/redirects", json=data), 400, "invalid-data")
    assert body["invalidElements"] == elements


def test_someone_elses_or_an_unknown_domain_is_not_found(shlink, make_user, own_domain):
    own_domain(make_user("bob"), "bob.example")
    for name in ("bob.example", "nobody.example"):
        body = assert_problem(shlink.patch("/rest/v3/domains/redirects", json={"domain": name}), 404,
                              "domain-not-found")
        assert body["authority"] == name


def test_only_an_administrator_sets_the_default_domains_redirects(shlink, client, make_user, make_key):
    res = shlink.patch("/rest/v3/domains/redirects", json={"domain": "localhost", "baseUrlRedirect": "https://a/"})
    assert res.status_code == 403
    admin = Api(client, make_key(make_user("root", role=Role.ADMIN)), style="x-api-key")
    res = admin.patch("/rest/v3/domains/redirects", json={"domain": "localhost", "baseUrlRedirect": "https://a/"})
    assert res.status_code == 200 and res.get_json()["baseUrlRedirect"] == "https://a/"
    assert domains(shlink)["data"][0]["redirects"]["baseUrlRedirect"] == "https://a/"
    row = db.session.scalars(db.select(DomainRedirect)).one()
    assert row.domain == ""  # stored as the platform's


def test_key_roles(client, shlink, user, make_key, own_domain):
    own_domain(user, "a.example", "b.example")
    authored = Api(client, role_key(user, make_key, authored_only=True), style="x-api-key")
    create(authored, domain="b.example")
    assert [d["domain"] for d in domains(authored)["data"]] == ["localhost", "b.example"]
    bound = Api(client, role_key(user, make_key, domain="a.example", name="bound"), style="x-api-key")
    assert [d["domain"] for d in domains(bound)["data"]] == ["a.example"]  # no default entry
    assert_problem(bound.patch("/rest/v3/domains/redirects", json={"domain": "b.example"}), 404, "domain-not-found")
    assert bound.patch("/rest/v3/domains/redirects", json={"domain": "a.example"}).status_code == 200
