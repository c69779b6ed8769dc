"""Custom domains: add, prove by a DNS TXT record (a real DNS server on loopback), links bound to the host,
removal, limits, pending claims that block nobody, trusted hosts."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst, count, dns_overrides, fetch, fresh
from tests.stubs import HttpStub
from zipshort.models import CustomDomain, Link, Role


@pytest.fixture
def overrides(dns_zone):
    return dns_overrides(dns_zone)


def add(api, hostname: str = "links.acme.test"):
    return api.post("/api/user/domains", json={"hostname": hostname})


def publish(zone, body: dict) -> None:
    """Create the TXT record the domain asks for, as its owner would at their DNS provider."""
    record = body["txtRecord"]
    zone.txt.setdefault(record["name"], []).append(record["value"])


def check(api, body: dict):
    return api.post(f"/api/user/domains/{body['id']}/verify")


def verify(api, zone, body: dict):
    publish(zone, body)
    res = check(api, body)
    assert res.status_code == 200 and res.get_json()["verified"] is True, res.get_json()
    return res


def test_add_verify_and_create_links_on_a_custom_domain(api, client, dns_zone):
    res = add(api, "Links.ACME.test")
    assert res.status_code == 201
    body = res.get_json()
    assert body["hostname"] == "links.acme.test" and body["verified"] is False
    assert body["txtRecord"] == {"type": "TXT", "name": "_zipshort-challenge.links.acme.test",
                                 "value": fresh(CustomDomain, body["id"]).verify_token}
    # Not verified yet: h0p refuses it, hozip falls back to a platform domain.
    refused = api.post("/short-link", json={"slug": "early", "domainId": body["id"],
                                            "destination": {"type": "link", "value": "https://a.example/"}},
                       headers={"x-api-key": api.key})
    assert refused.status_code == 400
    hz = Api(client, api.key, style="token")
    fallback = hz.post("/api/v1/external/links/create-link",
                       json={"long_url": "https://a.example/x", "domain_id": body["id"]})
    assert fallback.status_code == 201 and fallback.get_json()["domain"] == "localhost"

    verify(api, dns_zone, body)
    listed = api.get("/api/user/domains").get_json()
    assert listed[0]["verified"] is True and listed[0]["verifiedAt"]
    assert check(api, body).status_code == 200  # checking a verified domain again changes nothing

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


def test_a_forged_host_header_verifies_nothing(api, client):
    """The old proof (a request arriving with the name as its Host) is gone: anyone can send any Host."""
    body = add(api, "victim.test").get_json()
    token = fresh(CustomDomain, body["id"]).verify_token
    for path in (f"/.well-known/zipshort-domain/{token}", f"/.well-known/zipshort-challenge/{token}"):
        assert client.get(path, headers={"Host": "victim.test"}).status_code == 404
    assert fresh(CustomDomain, body["id"]).verified_at is None
    assert check(api, body).status_code == 422


def test_check_without_the_record_names_the_record_expected(api, dns_zone):
    body = add(api).get_json()
    res = check(api, body)
    assert res.status_code == 422
    message = res.get_json()["error"]
    assert "_zipshort-challenge.links.acme.test" in message and body["txtRecord"]["value"] in message
    assert fresh(CustomDomain, body["id"]).verified_at is None


def test_check_with_other_values_is_refused_and_lists_them(api, dns_zone):
    body = add(api).get_json()
    dns_zone.txt["_zipshort-challenge.links.acme.test"] = ["someone-elses-token", "v=spf1 -all"]
    res = check(api, body)
    assert res.status_code == 422 and "someone-elses-token" in res.get_json()["error"]
    assert fresh(CustomDomain, body["id"]).verified_at is None


def test_the_token_among_long_split_values_is_found(api, dns_zone):
    body = add(api).get_json()
    dns_zone.txt["_zipshort-challenge.links.acme.test"] = ["x" * 600, body["txtRecord"]["value"]]
    assert check(api, body).get_json()["verified"] is True


@pytest.mark.parametrize("failure", ["servfail", "silent"])
def test_a_failed_lookup_is_503_and_verifies_nothing(api, dns_zone, failure):
    body = add(api).get_json()
    publish(dns_zone, body)
    setattr(dns_zone, failure, True)
    res = check(api, body)
    assert res.status_code == 503 and "DNS" in res.get_json()["error"]
    assert fresh(CustomDomain, body["id"]).verified_at is None


class TestRateLimit:
    @pytest.fixture
    def overrides(self, dns_zone):
        return dns_overrides(dns_zone, rate_limit="2/minute")

    def test_checks_are_rate_limited_per_user(self, api, dns_zone):
        body = add(api).get_json()
        assert [check(api, body).status_code for _ in range(3)] == [422, 422, 429]


def test_a_pending_claim_blocks_nobody_and_the_proof_removes_it(api, client, make_user, make_key, dns_zone):
    squatter = Api(client, make_key(make_user("eve")))
    early = add(squatter, "acme.test").get_json()
    owner = add(api, "acme.test")
    assert owner.status_code == 201  # the name's real owner can still add it
    publish(dns_zone, owner.get_json())
    assert check(squatter, early).status_code == 422  # the owner's record does not prove eve's claim
    verify(api, dns_zone, owner.get_json())
    assert squatter.get("/api/user/domains").get_json() == [] and count(CustomDomain) == 1
    assert add(squatter, "acme.test").status_code == 409


def test_proof_refused_while_another_accounts_links_use_the_name(api, client, make_user, make_key, dns_zone):
    body = add(api, "shared.test").get_json()
    verify(api, dns_zone, body)
    h0p = Api(client, api.key, style="x-api-key")
    made = h0p.post("/short-link", json={"slug": "shared", "domain": "shared.test", "destination": {
        "type": "link", "value": "https://a.example/"}})
    assert made.status_code == 201, made.get_json()
    admin = Api(client, make_key(make_user("root", role=Role.SUPERADMIN), scopes=["admin", "domains"]))
    assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": False}).status_code == 200
    bob = Api(client, make_key(make_user("bob")))
    claim = add(bob, "shared.test").get_json()
    publish(dns_zone, claim)
    res = check(bob, claim)
    assert res.status_code == 409 and res.get_json()["error"] == "Links of another account still use shared.test"
    assert admin.patch(f"/api/user/domains/{claim['id']}", json={"verified": True}).status_code == 409
    assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": True}).status_code == 200


def test_verifying_by_hand_ends_the_other_claims_and_a_claim_is_removable_beside_others_links(
        api, client, make_user, make_key):
    squatter = Api(client, make_key(make_user("eve")))
    early = add(squatter, "acme.test").get_json()
    admin = Api(client, make_key(make_user("root", role=Role.SUPERADMIN), scopes=["admin", "domains"]))
    body = add(api, "acme.test").get_json()
    assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": True}).status_code == 200
    assert fresh(CustomDomain, early["id"]) is None
    h0p = Api(client, api.key, style="x-api-key")
    assert h0p.post("/short-link", json={"slug": "promo", "domain": "acme.test", "destination": {
        "type": "link", "value": "https://a.example/"}}).status_code == 201
    assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": False}).status_code == 200
    late = add(squatter, "acme.test").get_json()  # nobody holds a proof now: a claim may be added again
    assert squatter.delete(f"/api/user/domains/{late['id']}").status_code == 200  # alice's links are not eve's
    assert api.delete(f"/api/user/domains/{body['id']}").status_code == 409


class TestHttpCheck:
    @pytest.fixture
    def stub(self):
        server = HttpStub("127.0.0.1")
        yield server
        server.close()

    @pytest.fixture
    def overrides(self, dns_zone, request):
        return {**dns_overrides(dns_zone, http_check=True),
                "outbound": {"allowed_networks": request.param, "timeout": 2}}

    @pytest.mark.parametrize("overrides", [["127.0.0.0/8"]], indirect=True)
    def test_http_proof_on_an_allowed_network_verifies(self, api, stub):
        body = add(api, f"127.0.0.1:{stub.port}").get_json()
        res = check(api, body)
        assert res.status_code == 422 and "/.well-known/zipshort-challenge.txt (it answered 404)" in \
            res.get_json()["error"]
        stub.routes["/.well-known/zipshort-challenge.txt"] = (200, {}, f"{body['txtRecord']['value']}\n".encode())
        assert check(api, body).get_json()["verified"] is True
        assert stub.hosts[-1] == f"127.0.0.1:{stub.port}"

    @pytest.mark.parametrize("overrides", [[]], indirect=True)
    def test_http_proof_never_reaches_a_private_address(self, api, stub):
        body = add(api, f"127.0.0.1:{stub.port}").get_json()
        stub.routes["/.well-known/zipshort-challenge.txt"] = (200, {}, body["txtRecord"]["value"].encode())
        res = check(api, body)
        assert res.status_code == 422 and "an address this server does not contact" in res.get_json()["error"]
        assert stub.hosts == [] and fresh(CustomDomain, body["id"]).verified_at is None


def test_someone_elses_domain_cannot_be_used_or_seen(api, client, make_user, make_key, dns_zone):
    body = add(api).get_json()
    verify(api, dns_zone, body)
    bob = Api(client, make_key(make_user("bob")), style="x-api-key")
    res = bob.post("/short-link", json={"slug": "steal", "domainId": body["id"],
                                        "destination": {"type": "link", "value": "https://a.example/"}})
    assert res.status_code == 400 and count(Link) == 0
    assert bob.get(f"/api/user/domains/{body['id']}").status_code == 404
    assert bob.delete(f"/api/user/domains/{body['id']}").status_code == 404
    assert bob.post(f"/api/user/domains/{body['id']}/verify").status_code == 404
    assert add(bob, "LINKS.acme.test").status_code == 409  # one owner per verified hostname
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


def test_parallel_claims_of_one_hostname_are_all_pending_and_one_proof_wins(client, make_user, make_key, dns_zone):
    apis = [Api(client, make_key(make_user(f"u{i}"))) for i in range(12)]
    bodies = burst(12, lambda i: add(apis[i], "race.test").get_json())
    assert all(b["verified"] is False for b in bodies) and count(CustomDomain) == 12
    for body in bodies:
        publish(dns_zone, body)  # a zone holding every token: each claim could prove itself
    statuses = burst(12, lambda i: check(apis[i], bodies[i]).status_code)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 404, 409}, statuses
    assert count(CustomDomain) == 1 and CustomDomain.query.one().verified


def test_removal_refused_while_links_use_it(api, client, dns_zone):
    body = add(api).get_json()
    verify(api, dns_zone, body)
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


def test_verification_through_the_real_server(api, live_server, dns_zone):
    body = add(api, "localhost:" + live_server.url.rsplit(":", 1)[1]).get_json()
    assert body["txtRecord"]["name"] == "_zipshort-challenge.localhost"  # the port is not part of the name
    res = fetch("POST", f"{live_server.url}/api/user/domains/{body['id']}/verify", headers={"Authorization": api.key})
    assert res.status_code == 422
    publish(dns_zone, body)
    res = fetch("POST", f"{live_server.url}/api/user/domains/{body['id']}/verify", headers={"Authorization": api.key})
    assert res.status_code == 200 and res.json()["verified"] is True


class TestTrustedHosts:
    @pytest.fixture
    def overrides(self, dns_zone):
        return {**dns_overrides(dns_zone), "core": {"trusted_hosts": ["localhost"]}}

    def test_only_verified_custom_domains_are_trusted_hosts(self, api, client, dns_zone, make_user, make_key):
        assert client.get("/go/x", headers={"Host": "forged.test"}).status_code == 400
        body = add(api, "mine.test").get_json()
        assert client.get("/go/x", headers={"Host": "mine.test"}).status_code == 400  # claimed, not proven
        verify(api, dns_zone, body)
        h0p = Api(client, api.key, style="x-api-key")
        assert h0p.post("/short-link", json={"slug": "t", "domain": "mine.test", "destination": {
            "type": "link", "value": "https://a.example/"}}).status_code == 201
        assert client.get("/go/t", headers={"Host": "mine.test"}).status_code == 302
        assert client.get("/go/t", headers={"Host": "forged.test"}).status_code == 400
        admin = Api(client, make_key(make_user("root", role=Role.SUPERADMIN), scopes=["admin", "domains"]))
        assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": False}).status_code == 200
        assert client.get("/go/t", headers={"Host": "mine.test"}).status_code == 400  # unverified: out at once
        assert admin.patch(f"/api/user/domains/{body['id']}", json={"verified": True}).status_code == 200
        assert h0p.delete(f"/short-link/{Link.query.one().id}").status_code == 200
        assert api.delete(f"/api/user/domains/{body['id']}").status_code == 200
        assert client.get("/go/t", headers={"Host": "mine.test"}).status_code == 400
