"""Custom domains: add, verify by a visit through the name, links bound to the host, removal, limits."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst, count, fetch
from zipshort.models import CustomDomain, Link, Role


def add(api, hostname: str = "links.acme.test"):
    return api.post("/api/user/domains", json={"hostname": hostname})


def verify(client, body: dict):
    """Open the verification URL the way a browser would: through the domain's name (its Host)."""
    host, path = body["verifyUrl"].split("://", 1)[1].split("/", 1)
    return client.get("/" + path, headers={"Host": host})


def test_add_verify_and_create_links_on_a_custom_domain(api, client):
    res = add(api, "Links.ACME.test")
    assert res.status_code == 201
    body = res.get_json()
    assert body["hostname"] == "links.acme.test" and body["verified"] is False
    assert body["verifyUrl"].startswith("http://links.acme.test/.well-known/zipshort-domain/")
    # Not verified yet: h0p refuses it, hozip falls back to a platform domain.
    refused = api.post("/short-link", json={"slug": "early", "domainId": body["id"],
                                            "destination": {"type": "link", "value": "https://a.example/"}},
                       headers={"x-api-key": api.key})
    assert refused.status_code == 400
    hz = Api(client, api.key, style="token")
    fallback = hz.post("/api/v1/external/links/create-link",
                       json={"long_url": "https://a.example/x", "domain_id": body["id"]})
    assert fallback.status_code == 201 and fallback.get_json()["domain"] == "localhost"

    # The verification visit must arrive through the name; the token on another host does nothing.
    token_path = body["verifyUrl"].split("links.acme.test", 1)[1]
    assert client.get(token_path, headers={"Host": "evil.test"}).status_code == 404
    assert client.get(token_path.rsplit("/", 1)[0] + "/wrong", headers={"Host": "links.acme.test"}).status_code == 404
    ok = verify(client, body)
    assert ok.status_code == 200 and "verified" in ok.get_data(as_text=True)
    listed = api.get("/api/user/domains").get_json()
    assert listed[0]["verified"] is True and listed[0]["verifyUrl"] is None

    h0p = Api(client, api.key, style="x-api-key")
    made = h0p.post("/short-link", json={"slug": "promo", "domain": "links.acme.test",
                                         "destination": {"type": "link", "value": "https://shop.example/"}})
    assert made.status_code == 201
    link = made.get_json()
    assert link["domain"]["id"] == body["id"] and link["domain"]["isVerified"] is True
    assert link["domain"]["isPrimary"] is False and link["originUrl"] == "http://links.acme.test/go/promo"
    # The link answers on its domain only.
    assert client.get("/go/promo", headers={"Host": "links.acme.test"}).headers["Location"] == "https://shop.example/"
    assert client.get("/go/promo").status_code == 404
    made = hz.post("/api/v1/external/links/create-link",
                   json={"long_url": "https://b.example/", "domain_id": body["id"], "short_code": "hz-code"})
    assert made.status_code == 201
    assert made.get_json()["short_url"] == "http://links.acme.test/go/hz-code"
    assert made.get_json()["domain_id"] == body["id"]
    assert client.get("/go/hz-code", headers={"Host": "links.acme.test"}).status_code == 302


def test_someone_elses_domain_cannot_be_used_or_seen(api, client, make_user, make_key):
    body = add(api).get_json()
    verify(client, body)
    bob = Api(client, make_key(make_user("bob")), style="x-api-key")
    res = bob.post("/short-link", json={"slug": "steal", "domainId": body["id"],
                                        "destination": {"type": "link", "value": "https://a.example/"}})
    assert res.status_code == 400 and count(Link) == 0
    assert bob.get(f"/api/user/domains/{body['id']}").status_code == 404
    assert bob.delete(f"/api/user/domains/{body['id']}").status_code == 404
    assert add(bob, "LINKS.acme.test").status_code == 409  # one owner per hostname
    assert bob.get("/api/user/domains").get_json() == []


@pytest.mark.parametrize("hostname", ["", "http://x.test", "x.test/path", "-bad.test", "a..b", "x" * 64 + ".test",
                                      "host:0", "host:70000", "sp ace.test", 12, None, "a_b.test"])
def test_bad_hostnames_are_refused(api, hostname):
    res = api.post("/api/user/domains", json={"hostname": hostname})
    assert res.status_code == 400 and count(CustomDomain) == 0


def test_international_names_and_ports(api):
    assert add(api, "bücher.test").get_json()["hostname"] == "xn--bcher-kva.test"
    assert add(api, "localhost:8080").get_json()["hostname"] == "localhost:8080"


class TestLimits:
    @pytest.fixture
    def overrides(self):
        return {"core": {"default_domain": "zip.example"}, "urls": {"custom_domains_per_user": 2}}

    def test_limit_and_platform_names(self, api):
        assert add(api, "zip.example").status_code == 409
        assert add(api, "a.test").status_code == 201 and add(api, "b.test").status_code == 201
        res = add(api, "c.test")
        assert res.status_code == 403 and res.get_json()["code"] == "domain_limit"

    def test_parallel_adds_stay_within_the_limit(self, api):
        statuses = burst(10, lambda i: add(api, f"d{i}.test").status_code)
        assert statuses.count(201) == 2 and count(CustomDomain) == 2


class TestTurnedOff:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"custom_domains_per_user": 0}}

    def test_adding_is_refused(self, api):
        res = add(api)
        assert res.status_code == 403 and res.get_json()["code"] == "custom_domains_disabled"


def test_parallel_adds_of_one_hostname_give_one_owner(client, make_user, make_key):
    apis = [Api(client, make_key(make_user(f"u{i}"))) for i in range(12)]
    statuses = burst(12, lambda i: add(apis[i], "race.test").status_code)
    assert sorted(statuses) == [201] + [409] * 11 and count(CustomDomain) == 1


def test_removal_refused_while_links_use_it(api, client):
    body = add(api).get_json()
    verify(client, body)
    h0p = Api(client, api.key, style="x-api-key")
    link = h0p.post("/short-link", json={"domainId": body["id"],
                                         "destination": {"type": "link", "value": "https://a.example/"}}).get_json()
    res = api.delete(f"/api/user/domains/{body['id']}")
    assert res.status_code == 409 and res.get_json()["code"] == "domain_in_use"
    assert h0p.delete(f"/short-link/{link['id']}").status_code == 200
    assert api.delete(f"/api/user/domains/{body['id']}").status_code == 200 and count(CustomDomain) == 0


def test_admin_verifies_by_hand_and_users_cannot(api, client, make_user, make_key):
    body = add(api).get_json()
    assert api.patch(f"/api/user/domains/{body['id']}", json={"verified": True}).status_code == 403
    admin = Api(client, make_key(make_user("root", role=Role.ADMIN), scopes=["admin", "domains"]))
    assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": "yes"}).status_code == 400
    res = admin.patch(f"/api/user/domains/{body['id']}", json={"verified": True})
    assert res.status_code == 200 and res.get_json()["verified"] is True
    assert any(d["id"] == body["id"] for d in admin.get("/api/user/domains?all=1").get_json())


def test_domain_scopes(client, user, make_key):
    reader = Api(client, make_key(user, scopes=["domains:read"]))
    assert reader.get("/api/user/domains").status_code == 200
    assert add(reader).status_code == 403
    links_only = Api(client, make_key(user, scopes=["shortLinks"]))  # h0p's permission name
    assert links_only.get("/api/user/domains").status_code == 403


def test_verification_through_the_real_server(api, live_server):
    body = add(api, "localhost:" + live_server.url.rsplit(":", 1)[1]).get_json()
    res = fetch("GET", body["verifyUrl"])
    assert res.status_code == 200
    assert api.get(f"/api/user/domains/{body['id']}").get_json()["verified"] is True


class TestTrustedHosts:
    @pytest.fixture
    def overrides(self):
        return {"core": {"trusted_hosts": ["localhost"]}}

    def test_custom_domains_are_trusted_hosts_and_others_are_not(self, api, client):
        assert client.get("/go/x", headers={"Host": "forged.test"}).status_code == 400
        body = add(api, "mine.test").get_json()
        assert verify(client, body).status_code == 200  # the verification visit itself gets through
        h0p = Api(client, api.key, style="x-api-key")
        assert h0p.post("/short-link", json={"slug": "t", "domain": "mine.test", "destination": {
            "type": "link", "value": "https://a.example/"}}).status_code == 201
        assert client.get("/go/t", headers={"Host": "mine.test"}).status_code == 302
        assert client.get("/go/t", headers={"Host": "forged.test"}).status_code == 400
        assert h0p.delete(f"/short-link/{Link.query.one().id}").status_code == 200
        assert api.delete(f"/api/user/domains/{body['id']}").status_code == 200
        assert client.get("/go/t", headers={"Host": "mine.test"}).status_code == 400
