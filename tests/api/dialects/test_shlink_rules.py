"""Shlink's redirect rules (§6): get, replace (POST and PATCH), the lookup before validation, errors naming the leaf,
round trips through h0p, and parallel replacements that never mix."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst, fetch, only_link

ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
URL = "/rest/v3/short-urls/{}/redirect-rules"


def cond(kind, value=None, key=None):
    return {"type": kind, "matchKey": key, "matchValue": value}


REFERENCE = {"redirectRules": [
    {"longUrl": "https://example.com/android", "priority": 7, "conditions": [cond("device", "android")]},
    {"longUrl": "https://example.com/promo", "conditions": [cond("query-param", "1", "promo"),
                                                            cond("language", "es_ES")]},
    {"longUrl": "https://example.com/never", "conditions": []},
]}


@pytest.fixture
def shlink(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


@pytest.fixture
def sale(make_link, user):
    return make_link(user, vanity="sale", destination="https://example.com/sale")


def test_a_link_without_rules_reads_its_destination_and_no_rules(shlink, sale):
    res = shlink.get(URL.format("sale"))
    assert res.status_code == 200 and res.get_json() == {"defaultLongUrl": "https://example.com/sale",
                                                         "redirectRules": []}


@pytest.mark.parametrize("method", ["post", "patch"])
def test_setting_rules_replaces_them_renumbered_in_array_order(shlink, sale, method):
    res = getattr(shlink, method)(URL.format("sale"), json=REFERENCE)
    assert res.status_code == 200
    body = res.get_json()
    assert body["defaultLongUrl"] == "https://example.com/sale"
    assert [(r["longUrl"], r["priority"], r["conditions"]) for r in body["redirectRules"]] == [
        (r["longUrl"], i, r["conditions"]) for i, r in enumerate(REFERENCE["redirectRules"], 1)]
    assert list(body["redirectRules"][0]) == ["longUrl", "priority", "conditions"]
    assert list(body["redirectRules"][1]["conditions"][0]) == ["type", "matchKey", "matchValue"]
    assert shlink.get(URL.format("sale")).get_json() == body
    again = shlink.post(URL.format("sale"), json={"redirectRules": REFERENCE["redirectRules"][2:]}).get_json()
    assert [r["longUrl"] for r in again["redirectRules"]] == ["https://example.com/never"]


def test_rules_set_through_shlink_route_visits(shlink, sale, client):
    assert shlink.post(URL.format("sale"), json=REFERENCE).status_code == 200
    assert client.get("/go/sale", headers={"User-Agent": ANDROID}).headers["Location"] == "https://example.com/android"
    promo = client.get("/go/sale?promo=1", headers={"Accept-Language": "es-ES"})
    assert promo.headers["Location"] == "https://example.com/promo"
    assert client.get("/go/sale?promo=1").headers["Location"] == "https://example.com/sale"


def test_an_empty_list_removes_every_rule(shlink, sale, client):
    shlink.post(URL.format("sale"), json=REFERENCE)
    res = shlink.post(URL.format("sale"), json={"redirectRules": []})
    assert res.status_code == 200 and res.get_json()["redirectRules"] == []
    assert only_link().rules is None and not only_link().smart
    assert client.get("/go/sale", headers={"User-Agent": ANDROID}).headers["Location"] == "https://example.com/sale"


def test_the_short_code_is_looked_up_before_the_body_is_judged(shlink, sale):
    for method in ("get", "post", "patch"):
        res = getattr(shlink, method)(URL.format("nope"), json={"redirectRules": "garbage"})
        assert res.status_code == 404 and res.mimetype == "application/problem+json"
        body = res.get_json()
        assert body["type"] == "https://shlink.io/api/error/short-url-not-found" and body["shortCode"] == "nope"


def test_a_link_on_a_custom_domain_needs_its_domain(shlink, user, make_link, own_domain):
    own_domain(user, "go.example")
    make_link(user, vanity="dom", destination="https://example.com/d", domain="go.example")
    assert shlink.get(URL.format("dom")).status_code == 404
    res = shlink.post(URL.format("dom") + "?domain=go.example", json=REFERENCE)
    assert res.status_code == 200 and len(res.get_json()["redirectRules"]) == 3


def test_another_users_link_is_not_found(shlink, make_user, make_link):
    make_link(make_user("bob"), vanity="bobs")
    assert shlink.post(URL.format("bobs"), json={"redirectRules": []}).status_code == 404


def test_reading_needs_links_read_and_writing_links_write(client, user, make_key, sale):
    reader = Api(client, make_key(user, scopes=["links:read"]), style="x-api-key")
    assert reader.get(URL.format("sale")).status_code == 200
    assert reader.post(URL.format("sale"), json={"redirectRules": []}).status_code == 403


def _rule(**fields):
    return {"longUrl": "https://example.com/x", "conditions": [], **fields}


@pytest.mark.parametrize("payload,element", [
    ({}, "redirectRules"),
    ({"redirectRules": "x"}, "redirectRules"),
    ({"redirectRules": {"a": 1}}, "redirectRules"),
    ({"redirectRules": [3]}, "redirectRules"),
    ({"redirectRules": [_rule()] * 21}, "redirectRules"),
    ({"redirectRules": [{"conditions": []}]}, "longUrl"),
    ({"redirectRules": [_rule(longUrl="example.com/x")]}, "longUrl"),
    ({"redirectRules": [_rule(longUrl="javascript:alert(1)")]}, "longUrl"),
    ({"redirectRules": [_rule(longUrl="http://localhost/go/sale")]}, "longUrl"),
    ({"redirectRules": [_rule(longUrl=["x"])]}, "longUrl"),
    ({"redirectRules": [_rule(conditions="device")]}, "conditions"),
    ({"redirectRules": [_rule(conditions=[None])]}, "conditions"),
    ({"redirectRules": [_rule(conditions=[cond("nope", "x")])]}, "type"),
    ({"redirectRules": [_rule(conditions=[{"type": None}])]}, "type"),
    ({"redirectRules": [_rule(conditions=[cond("device", "nokia")])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("language", None)])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("query-param", "", "a")])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("query-param", "1")])]}, "matchKey"),
    ({"redirectRules": [_rule(conditions=[cond("any-value-query-param", None, "")])]}, "matchKey"),
    ({"redirectRules": [_rule(conditions=[cond("valueless-query-param", None, {"a": 1})])]}, "matchKey"),
    ({"redirectRules": [_rule(conditions=[cond("ip-address", "1.2.3.4/40")])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("geolocation-country-code", "es")])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("geolocation-city-name", 42)])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("before-date", "soon")])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("after-date", "2025-13-01")])]}, "matchValue"),
    ({"redirectRules": [_rule(conditions=[cond("browser", "netscape")])]}, "matchValue"),
])
def test_invalid_rules_are_invalid_data_naming_the_leaf(shlink, sale, payload, element):
    shlink.post(URL.format("sale"), json=REFERENCE)
    res = shlink.post(URL.format("sale"), json=payload)
    assert res.status_code == 400 and res.mimetype == "application/problem+json", res.get_data(as_text=True)
    body = res.get_json()
    assert body["type"] == "https://shlink.io/api/error/invalid-data" and body["invalidElements"] == [element]
    assert len(only_link().rules) == 3  # nothing changed


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b'"x"', b"\xff"])
def test_a_body_that_is_no_json_object_is_a_400(shlink, sale, raw):
    res = shlink.post(URL.format("sale"), data=raw, content_type="application/json")
    assert res.status_code == 400 and res.mimetype == "application/problem+json"


def test_shlink_rules_read_truthfully_through_h0p_and_survive_its_edits(shlink, sale):
    set_ = shlink.post(URL.format("sale"), json=REFERENCE).get_json()
    h0p = shlink.get(f"/short-link/{sale.id}").get_json()
    assert [(r["countries"], r["languages"], r["osTypes"], r["conditions"]) for r in h0p["rules"]] == [
        ([], [], [], r["conditions"]) for r in REFERENCE["redirectRules"]]
    assert shlink.patch(f"/short-link/{sale.id}", json={"metaTags": {"title": "Sale"}}).status_code == 200
    assert shlink.get(URL.format("sale")).get_json() == set_
    assert shlink.patch(f"/short-link/{sale.id}", json={"rules": h0p["rules"]}).status_code == 200
    assert shlink.get(URL.format("sale")).get_json() == set_


def test_an_h0p_rule_reads_flat_and_posting_it_back_routes_the_same(shlink, client):
    made = shlink.post("/short-link", json={
        "slug": "multi", "destination": {"type": "link", "value": "https://example.com/"},
        "rules": [{"priority": 0, "destination": {"type": "email", "value": "na@example.com"},
                   "countries": ["US", "CA"], "osTypes": ["ios"]}]})
    assert made.status_code == 201
    flat = shlink.get(URL.format("multi")).get_json()
    assert flat == {"defaultLongUrl": "https://example.com/", "redirectRules": [
        {"longUrl": "mailto:na@example.com", "priority": 1,
         "conditions": [cond("geolocation-country-code", "US"), cond("device", "ios")]},
        {"longUrl": "mailto:na@example.com", "priority": 2,
         "conditions": [cond("geolocation-country-code", "CA"), cond("device", "ios")]}]}
    assert shlink.post(URL.format("multi"), json=flat).get_json() == flat
    rules = shlink.get(f"/short-link/{made.get_json()['id']}").get_json()["rules"]
    assert [r["destination"]["type"] for r in rules] == ["email", "email"]


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_parallel_replacements_leave_exactly_one_of_the_sets(live_server, shlink, sale, attempt):
    sets = [{"redirectRules": [{"longUrl": f"https://example.com/{n}/{i}",
                                "conditions": [cond("query-param", str(i), f"p{n}")]} for i in range(1 + n % 4)]}
            for n in range(12)]
    url = live_server.url + URL.format("sale")
    answers = burst(len(sets), lambda n: fetch("POST", url, json=sets[n], headers={"X-Api-Key": shlink.key}))
    assert all(answer.status_code == 200 for answer in answers)
    final = fetch("GET", url, headers={"X-Api-Key": shlink.key}).json()["redirectRules"]
    stored = [{"longUrl": r["longUrl"], "conditions": r["conditions"]} for r in final]
    assert stored in [s["redirectRules"] for s in sets]
    assert [r["priority"] for r in final] == list(range(1, len(final) + 1))


def test_an_h0p_client_that_drops_conditions_keeps_them_by_rule_id(shlink, sale):
    set_ = shlink.post(URL.format("sale"), json=REFERENCE).get_json()
    rules = shlink.get(f"/short-link/{sale.id}").get_json()["rules"]
    known = [{key: rule[key] for key in ("id", "priority", "destination", "countries", "languages", "osTypes")}
             for rule in rules]  # what a client typed against h0p's schema sends back
    assert shlink.patch(f"/short-link/{sale.id}", json={"rules": known}).status_code == 200
    assert shlink.get(URL.format("sale")).get_json() == set_
    cleared = [{**known[0], "conditions": []}, {**known[1], "id": "a-new-rule"}]
    assert shlink.patch(f"/short-link/{sale.id}", json={"rules": cleared}).status_code == 200
    assert [r["conditions"] for r in shlink.get(URL.format("sale")).get_json()["redirectRules"]] == [[], []]


def test_an_authored_only_key_reaches_only_the_rules_of_its_own_links(client, shlink, user, make_key, sale):
    from tests.api.dialects.test_shlink_short_urls import role_key

    authored = Api(client, role_key(user, make_key, authored_only=True), style="x-api-key")
    made = authored.post("/rest/v3/short-urls", json={"longUrl": "https://example.com/mine", "customSlug": "mine"})
    assert made.status_code == 200
    for call in (authored.get, authored.post):
        assert call(URL.format("sale"), json={"redirectRules": []}).status_code == 404
    assert authored.post(URL.format("mine"), json=REFERENCE).status_code == 200


def test_the_short_url_says_whether_it_has_rules(shlink, sale):
    assert shlink.get("/rest/v3/short-urls/sale").get_json()["hasRedirectRules"] is False
    shlink.post(URL.format("sale"), json=REFERENCE)
    assert shlink.get("/rest/v3/short-urls/sale").get_json()["hasRedirectRules"] is True
    shlink.post(URL.format("sale"), json={"redirectRules": []})
    assert shlink.get("/rest/v3/short-urls/sale").get_json()["hasRedirectRules"] is False
