"""hozip: create-link and list, with the example requests of hozip's own API documents."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst, count, fetch, fresh
from zipshort.models import Folder, Link
from zipshort.services import domains, folders

SEED_MINIMAL = {"long_url": "https://example.com/landing"}
SEED_ALIAS = {"long_url": "https://example.com/landing", "short_code": "summer-sale",
              "group_id": "018e1b2c-0000-7f8a-9b0c-1d2e3f4a5b6c"}


@pytest.fixture
def hozip(client, user, make_key):
    return Api(client, make_key(user), style="token")


def create(hozip, body):
    return hozip.post("/api/v1/external/links/create-link", json=body)


def test_minimal_seed_request(hozip, rt):
    res = create(hozip, SEED_MINIMAL)
    assert res.status_code == 201
    body = res.get_json()
    assert set(body) == {"id", "short_code", "short_url", "group_id", "domain", "domain_id"}
    assert body["domain"] == "localhost" and body["domain_id"] == domains.domain_id("localhost")
    assert body["short_url"] == f"http://localhost/go/{body['short_code']}"
    assert fresh(Folder, body["group_id"]).name == "Default"  # the default group
    assert create(hozip, SEED_MINIMAL).get_json()["group_id"] == body["group_id"]  # one default group


def test_alias_seed_request_stores_lowercase_and_unknown_group_falls_back(hozip, user):
    res = create(hozip, {**SEED_ALIAS, "short_code": "Summer-Sale"})
    assert res.status_code == 201 and res.get_json()["short_code"] == "summer-sale"
    mine = folders.create_folder(user, "Campaigns")
    res = create(hozip, {**SEED_ALIAS, "short_code": "other", "group_id": mine.id})
    assert res.get_json()["group_id"] == mine.id


@pytest.mark.parametrize("body,field", [
    ({}, "long_url"), ({"long_url": "http://example.com/"}, "long_url"),
    ({"long_url": "https://e.com/" + "a" * 2048}, "long_url"), ({"long_url": 5}, "long_url"),
    ({"long_url": "https://e.com/", "short_code": "ab"}, "short_code"),
    ({"long_url": "https://e.com/", "short_code": "a" * 51}, "short_code"),
    ({"long_url": "https://e.com/", "short_code": "has space"}, "short_code"),
    ({"long_url": "https://e.com/", "short_code": "dot.ted"}, "short_code"),
])
def test_validation_errors(hozip, body, field):
    res = create(hozip, body)
    assert res.status_code == 400
    data = res.get_json()
    assert set(data) == {"detail", "error_code"} and data["error_code"] == "validation_error"
    assert field in data["detail"]
    assert count(Link) == 0


def test_short_code_exists_and_auth(hozip, client):
    assert create(hozip, {**SEED_ALIAS}).status_code == 201
    res = create(hozip, {**SEED_ALIAS, "short_code": "SUMMER-SALE"})
    assert res.status_code == 400 and res.get_json()["error_code"] == "short_code_exists"
    assert client.post("/api/v1/external/links/create-link", json=SEED_MINIMAL).status_code == 401
    bad = client.post("/api/v1/external/links/create-link", json=SEED_MINIMAL,
                      headers={"Authorization": "Token nope"})
    assert bad.status_code == 401 and "detail" in bad.get_json()


@pytest.mark.parametrize("overrides", [{"urls": {"hozip_create_limit": "3/hour"}}])
def test_rate_limit_per_key(client, user, make_key, rt):
    first, second = Api(client, make_key(user), "token"), Api(client, make_key(user), "token")
    codes = [create(first, SEED_MINIMAL).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    res = create(first, SEED_MINIMAL)
    assert res.headers["Retry-After"] and res.get_json()["error_code"] == "throttled"
    assert create(second, SEED_MINIMAL).status_code == 201  # per key


@pytest.mark.slow
def test_parallel_creates_of_one_short_code_one_winner(app, live_server, user, make_key):
    key = make_key(user)
    results = burst(20, lambda i: fetch("POST", live_server.url + "/api/v1/external/links/create-link",
                                        json={"long_url": f"https://e.com/{i}", "short_code": "race"},
                                        headers={"Authorization": f"Token {key}"}))
    assert sorted(r.status_code for r in results) == [201] + [400] * 19
    assert count(Link) == 1


def test_list_pagination_filter_and_errors(hozip, make_link, user):
    for i in range(25):
        make_link(user, destination=f"https://example.com/{i:02}")
    make_link(user, destination="https://other.org/x")
    res = hozip.get("/api/v1/external/links")
    body = res.get_json()
    assert res.status_code == 200 and body["limit"] == 20 and body["offset"] == 0 and body["total"] == 26
    assert len(body["results"]) == 20 and body["results"][0]["long_url"] == "https://other.org/x"  # newest first
    item = body["results"][0]
    assert set(item) == {"id", "short_code", "long_url", "domain", "group_id", "is_active", "created_at"}
    assert item["created_at"].endswith("Z") and item["is_active"] is True
    page = hozip.get("/api/v1/external/links?limit=10&offset=20").get_json()
    assert len(page["results"]) == 6 and page["total"] == 26
    exact = hozip.get("/api/v1/external/links", query_string={"long_url": "https://example.com/07"}).get_json()
    assert exact["total"] == 1 and exact["results"][0]["long_url"] == "https://example.com/07"
    prefix = hozip.get("/api/v1/external/links",
                       query_string={"long_url": "https://example.com/", "match": "startswith"}).get_json()
    assert prefix["total"] == 25
    percent = hozip.get("/api/v1/external/links",
                        query_string={"long_url": "https://example.com/%", "match": "startswith"}).get_json()
    assert percent["total"] == 0  # no wildcard injection
    for query in ("limit=0", "limit=101", "limit=x", "offset=-1", "match=contains"):
        bad = hozip.get(f"/api/v1/external/links?{query}")
        assert bad.status_code == 400 and set(bad.get_json()) == {"detail", "error_code"}


def test_links_of_every_dialect_are_one_list(hozip, api):
    assert create(hozip, {**SEED_ALIAS}).status_code == 201
    assert api.post("/api/user/urls", json={"destination": "https://zipline.example/"}).status_code == 200
    assert hozip.get("/api/v1/external/links").get_json()["total"] == 2
    assert len(api.get("/api/user/urls").get_json()) == 2


def test_deleting_a_folder_leaves_no_link_naming_it(hozip, api):
    folder = api.post("/api/user/folders", json={"name": "Group"}).get_json()
    made = create(hozip, {**SEED_MINIMAL, "group_id": folder["id"]}).get_json()
    assert made["group_id"] == folder["id"]
    assert api.delete(f"/api/user/folders/{folder['id']}", json={"delete": "folder"}).status_code == 200
    assert fresh(Link, made["id"]).folder_id is None
