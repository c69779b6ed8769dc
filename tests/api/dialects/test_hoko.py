"""hoko: bulk create up to 10,000 links, all or nothing, UTM merged at redirect."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst, count, fetch, fresh
from zipshort.models import Link, User
from zipshort.services import accounts, folders


@pytest.fixture
def hoko(client, user, make_key):
    return Api(client, make_key(user), style="bearer")


@pytest.fixture
def collection(user):
    return folders.create_folder(user, "Collection")


def seed_item(collection_id: str, **extra) -> dict:
    return {"url": "https://example.com", "title": "Example Link", "description": "An example link",
            "collectionId": collection_id, "utm": {"source": "google", "medium": "cpc", "campaign": "summer"},
            **extra}


def test_seed_example(hoko, collection, client):
    res = hoko.post("/api/links", json=[seed_item(collection.id)])
    assert res.status_code == 201
    (item,) = res.get_json()
    assert set(item) == {"id", "url", "shortUrl", "title", "description", "collectionId", "createdAt"}
    assert item["url"] == "https://example.com" and item["collectionId"] == collection.id
    assert item["createdAt"].endswith("Z") and item["shortUrl"].startswith("http://localhost/go/")
    code = item["shortUrl"].rsplit("/", 1)[1]
    target = client.get(f"/go/{code}").headers["Location"]
    assert target == "https://example.com?utm_source=google&utm_medium=cpc&utm_campaign=summer"


def test_utm_keeps_the_destinations_own_values(hoko, collection, client):
    res = hoko.post("/api/links", json=[seed_item(collection.id, url="https://e.com/p?utm_source=own&x=1")])
    code = res.get_json()[0]["shortUrl"].rsplit("/", 1)[1]
    assert client.get(f"/go/{code}").headers["Location"] == \
        "https://e.com/p?utm_source=own&x=1&utm_medium=cpc&utm_campaign=summer"


@pytest.mark.parametrize("bad,field", [
    ({"url": "javascript:alert(1)"}, "url"), ({"url": None}, "url"), ({"collectionId": None}, "collectionId"),
    ({"collectionId": "00000000-0000-7000-8000-000000000000"}, "collectionId"), ({"utm": {"bogus": "x"}}, "utm"),
    ({"image": "ftp://x/y.png"}, "image"), ({"partnerId": "not-a-uuid"}, "partnerId"), ({"title": 5}, "title"),
])
def test_one_bad_item_fails_everything_with_its_index(hoko, collection, user, bad, field):
    items = [seed_item(collection.id, externalId=f"e{i}") for i in range(5)]
    items[3] = {**items[3], **bad}
    res = hoko.post("/api/links", json=items)
    assert res.status_code == 400
    body = res.get_json()
    assert body["index"] == 3 and body["error"].startswith("links[3]")
    assert count(Link) == 0 and fresh(User, user.id).url_count == 0


def test_external_ids_unique_per_user(hoko, collection, client, make_user, make_key):
    assert hoko.post("/api/links", json=[seed_item(collection.id, externalId="x1")]).status_code == 201
    dup = hoko.post("/api/links", json=[seed_item(collection.id, externalId="x2"),
                                        seed_item(collection.id, externalId="x1")])
    assert dup.status_code == 400 and dup.get_json()["index"] == 1
    twice = hoko.post("/api/links", json=[seed_item(collection.id, externalId="y"),
                                          seed_item(collection.id, externalId="y")])
    assert twice.status_code == 400 and twice.get_json()["index"] == 1
    other = make_user("bob")
    theirs = folders.create_folder(other, "B")
    res = Api(client, make_key(other), "bearer").post("/api/links", json=[seed_item(theirs.id, externalId="x1")])
    assert res.status_code == 201  # per user
    assert count(Link) == 2


def test_someone_elses_collection_is_refused(hoko, make_user):
    theirs = folders.create_folder(make_user("bob"), "B")
    res = hoko.post("/api/links", json=[seed_item(theirs.id)])
    assert res.status_code == 400 and res.get_json()["index"] == 0 and count(Link) == 0


@pytest.mark.parametrize("overrides", [{"urls": {"bulk_max_per_request": 3, "bulk_max_links": 5}}])
def test_limits_per_request_and_in_total(hoko, collection, rt, user):
    assert hoko.post("/api/links", json=[seed_item(collection.id)] * 4).status_code == 400
    assert hoko.post("/api/links", json=[seed_item(collection.id)] * 3).status_code == 201
    over = hoko.post("/api/links", json=[seed_item(collection.id)] * 3)
    assert over.status_code == 403 and over.get_json()["code"] == "quota_exceeded"
    assert count(Link) == 3
    assert hoko.post("/api/links", json=[seed_item(collection.id)] * 2).status_code == 201
    assert count(Link) == 5 and fresh(User, user.id).url_count == 5


def test_user_quota_applies_to_the_whole_batch(hoko, collection, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=10)))
    assert hoko.post("/api/links", json=[seed_item(collection.id)] * 11).status_code == 403
    assert count(Link) == 0
    assert hoko.post("/api/links", json=[seed_item(collection.id)] * 10).status_code == 201


def test_body_shape_scope_and_auth(hoko, client, user, make_key, collection):
    assert hoko.post("/api/links", json={"url": "https://e.com"}).status_code == 400
    assert hoko.post("/api/links", json=[]).status_code == 400
    assert client.post("/api/links", json=[seed_item(collection.id)]).status_code == 401
    reader = Api(client, make_key(user, scopes=["links:read"]), "bearer")
    assert reader.post("/api/links", json=[seed_item(collection.id)]).status_code == 403


@pytest.mark.slow
def test_ten_thousand_links_in_one_request(hoko, collection, client):
    items = [{"url": f"https://example.com/{i}", "collectionId": collection.id, "externalId": f"ext-{i}"}
             for i in range(10_000)]
    res = hoko.post("/api/links", json=items)
    assert res.status_code == 201
    body = res.get_json()
    assert len(body) == 10_000 and len({b["shortUrl"] for b in body}) == 10_000
    assert count(Link) == 10_000
    code = body[1234]["shortUrl"].rsplit("/", 1)[1]
    assert client.get(f"/go/{code}").headers["Location"] == "https://example.com/1234"


@pytest.mark.slow
def test_parallel_bulk_requests_respect_the_quota(app, live_server, rt, user, make_key, collection):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=50)))
    key = make_key(user)
    headers = {"Authorization": f"Bearer {key}"}
    results = burst(12, lambda i: fetch("POST", live_server.url + "/api/links", headers=headers,
                                        json=[{"url": f"https://e.com/{i}/{j}", "collectionId": collection.id}
                                              for j in range(10)]))
    assert sorted(r.status_code for r in results).count(201) == 5
    assert count(Link) == 50 and fresh(User, user.id).url_count == 50
