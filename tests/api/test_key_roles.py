"""Keys with roles minted through every face (the CLI, the settings form, the Zipline API) and then used: an
authored-only key lists only the links it created, a domain key's links land on its domain (Shlink's API)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Api
from tests.web.test_pages import csrf, log_in
from zipshort.cli import main
from zipshort.models import ApiKey


@pytest.fixture
def overrides():
    return {"domains": ["s.example"]}


def keys() -> dict[str, ApiKey]:
    return {k.name: k for k in ApiKey.query.filter_by(is_token=False).all()}


def shlink_codes(api: Api) -> list[str]:
    res = api.get("/rest/v3/short-urls")
    assert res.status_code == 200, res.get_data(as_text=True)
    return sorted(item["shortCode"] for item in res.get_json()["shortUrls"]["data"])


def shlink_create(api: Api, slug: str, **body) -> dict:
    res = api.post("/rest/v3/short-urls", json={"longUrl": "https://example.com/", "customSlug": slug, **body})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


# --- the CLI --------------------------------------------------------------------------------------------------

def test_the_cli_mints_roles_and_lists_them(runner, user, own_domain):
    own_domain(user, "go.example")
    made = runner.invoke(main, ["key", "create", "alice", "--name", "both", "--authored-only",
                                "--domain", "go.example"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(main, ["key", "create", "alice", "--name", "shlink", "--author-only",
                                "--domain-only", "s.example"]).exit_code == 0
    assert runner.invoke(main, ["key", "create", "alice", "--name", "plain"]).exit_code == 0
    rows = keys()
    assert (rows["both"].authored_only, rows["both"].domain) == (True, "go.example")
    assert (rows["shlink"].authored_only, rows["shlink"].domain) == (True, "s.example")
    assert (rows["plain"].authored_only, rows["plain"].domain) == (False, None)
    listed = runner.invoke(main, ["key", "list", "alice"]).output.splitlines()
    line = {name: next(x for x in listed if f" {name} " in x) for name in rows}
    assert line["both"].endswith("authored-only  domain=go.example")
    assert line["plain"].endswith("]")


def test_the_cli_refuses_a_domain_not_the_users(runner, user, make_user, own_domain):
    own_domain(make_user("bob"), "bobs.example")
    result = runner.invoke(main, ["key", "create", "alice", "--domain", "bobs.example"])
    assert result.exit_code != 0 and "bobs.example is neither" in result.output
    assert keys() == {}


# --- the settings form ----------------------------------------------------------------------------------------

def form_mint(client, **fields) -> tuple[int, str]:
    page = client.get("/dashboard/settings")
    data = {"csrf_token": csrf(page), "name": "web", "scopes": ["links:read", "links:write"], "expires": "", **fields}
    res = client.post("/dashboard/settings/keys", data=data)
    return res.status_code, res.get_data(as_text=True)


def test_the_settings_form_offers_the_domains_and_mints_roles(client, user, own_domain):
    own_domain(user, "go.example")
    assert log_in(client).status_code == 303
    page = client.get("/dashboard/settings").get_data(as_text=True)
    select = re.search(r'<select id="key-domain" name="domain">(.*?)</select>', page).group(1)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == ["Every domain", "s.example", "go.example"]
    assert 'name="authored_only"' in page
    status, body = form_mint(client, name="both", authored_only="on", domain="go.example")
    assert status == 201 and 'id="new-key-value"' in body
    assert "own links only" in body and "go.example only" in body  # the listing shows the roles
    status, _ = form_mint(client, name="none", domain="")
    rows = keys()
    assert (rows["both"].authored_only, rows["both"].domain) == (True, "go.example")
    assert (rows["none"].authored_only, rows["none"].domain) == (False, None)


def test_the_settings_form_refuses_an_unverified_domain(client, user, rt):
    from zipshort.services import domains

    domains.add_custom(rt, user, "pending.example")
    assert log_in(client).status_code == 303
    status, body = form_mint(client, domain="pending.example")
    assert status == 400 and "pending.example is neither" in body and keys() == {}


# --- the Zipline API ------------------------------------------------------------------------------------------

def test_the_zipline_api_mints_and_lists_roles(client, user, own_domain, make_key):
    own_domain(user, "go.example")
    api = Api(client, make_key(user, scopes=["links:read", "keys:read", "keys:write"], name="admin-ish"))
    res = api.post("/api/user/keys", json={"name": "r", "scopes": ["links:read"], "authoredOnly": True,
                                           "domain": "go.example"})
    assert res.status_code == 201, res.get_data(as_text=True)
    assert res.get_json()["authoredOnly"] is True and res.get_json()["domain"] == "go.example"
    listed = {k["name"]: k for k in api.get("/api/user/keys").get_json()}
    assert (listed["r"]["authoredOnly"], listed["r"]["domain"]) == (True, "go.example")
    assert (listed["admin-ish"]["authoredOnly"], listed["admin-ish"]["domain"]) == (False, None)


@pytest.mark.parametrize(("body", "said"), [({"authoredOnly": "yes"}, "authoredOnly must be a boolean"),
                                            ({"authoredOnly": 1}, "authoredOnly must be a boolean"),
                                            ({"domain": 7}, "domain must be a hostname"),
                                            ({"domain": ["s.example"]}, "domain must be a hostname"),
                                            ({"domain": ""}, "domain: hostname is required"),
                                            ({"domain": "http://s.example/"}, "domain: Give the hostname only"),
                                            ({"domain": "nowhere.example"}, "nowhere.example is neither")])
def test_the_zipline_api_refuses_bad_roles(client, user, make_key, body, said):
    api = Api(client, make_key(user, scopes=["links:read", "keys:write"], name="minter"))
    res = api.post("/api/user/keys", json={"name": "r", "scopes": ["links:read"], **body})
    assert res.status_code == 400 and said in res.get_json()["error"], res.get_data(as_text=True)
    assert list(keys()) == ["minter"]


def test_a_key_holding_a_role_cannot_mint_a_wider_one_through_the_zipline_api(client, user, rt):
    from zipshort.services import apikeys

    _, plain = apikeys.create_key(rt, apikeys.Actor.console(), user, name="narrow", authored_only=True,
                                  scopes=["links:read", "keys:write"])
    narrow = Api(client, plain)
    res = narrow.post("/api/user/keys", json={"name": "wider", "scopes": ["links:read"]})
    assert res.status_code == 403 and res.get_json()["code"] == "wider_reach"
    assert narrow.post("/api/user/keys", json={"name": "same", "scopes": ["links:read"],
                                               "authoredOnly": True}).status_code == 201


# --- end to end: minted by a face, honoured by Shlink's API ------------------------------------------------

def test_an_authored_only_key_from_the_form_lists_only_its_links_in_shlink(client, user, make_key):
    everything = Api(client, make_key(user, name="everything"), style="x-api-key")
    shlink_create(everything, "theirs")
    assert log_in(client).status_code == 303
    status, body = form_mint(client, name="mine", authored_only="on")
    assert status == 201
    plain = re.search(r'id="new-key-value">([^<]+)<', body).group(1)
    mine = Api(client.application.test_client(), plain, style="x-api-key")
    shlink_create(mine, "ours")
    assert shlink_codes(mine) == ["ours"]
    assert shlink_codes(everything) == ["ours", "theirs"]
    assert mine.get("/rest/v3/short-urls/theirs").status_code == 404


def test_a_domain_key_from_the_cli_creates_on_its_domain_in_shlink(client, runner, user, own_domain, make_key):
    own_domain(user, "go.example")
    everything = Api(client, make_key(user, name="everything"), style="x-api-key")
    shlink_create(everything, "plain")
    made = runner.invoke(main, ["key", "create", "alice", "--name", "bound", "--domain", "go.example"])
    assert made.exit_code == 0, made.output
    bound = Api(client, made.output.strip(), style="x-api-key")
    assert shlink_create(bound, "onit")["domain"] == "go.example"
    assert shlink_create(bound, "forced", domain="s.example")["domain"] == "go.example"
    assert shlink_codes(bound) == ["forced", "onit"]
    platform = runner.invoke(main, ["key", "create", "alice", "--name", "platform", "--domain", "s.example"])
    on_platform = Api(client, platform.output.strip(), style="x-api-key")
    assert shlink_codes(on_platform) == ["plain"]
    assert shlink_create(on_platform, "here")["domain"] is None


class TestWithoutPlatformDomains:
    """No ``domains`` configured: the form offers the host of the request, and a key bound to it reaches the
    domain-less links (stored ``''``), through Shlink's API too."""

    @pytest.fixture
    def overrides(self):
        return {}

    def test_the_request_host_is_offered_and_binds_to_the_platform(self, client, user, own_domain, make_key):
        own_domain(user, "go.example")
        everything = Api(client, make_key(user, name="everything"), style="x-api-key")
        shlink_create(everything, "plain")
        shlink_create(everything, "custom", domain="go.example")
        assert log_in(client).status_code == 303
        page = client.get("/dashboard/settings").get_data(as_text=True)
        select = re.search(r'<select id="key-domain" name="domain">(.*?)</select>', page).group(1)
        assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == ["Every domain", "localhost", "go.example"]
        status, body = form_mint(client, name="here", domain="localhost")
        assert status == 201 and "default domain only" in body and keys()["here"].domain == ""
        here = Api(client.application.test_client(),
                   re.search(r'id="new-key-value">([^<]+)<', body).group(1), style="x-api-key")
        assert shlink_codes(here) == ["plain"]
