"""Zipline v4's files API: pages, search, sort, edit, delete, bulk actions, stats, ownership."""

from __future__ import annotations

import io

import pytest

from tests.conftest import Api, count, fresh
from zipshort.models import File, User

FILE_KEYS = {"id", "createdAt", "updatedAt", "deletesAt", "favorite", "originalName", "name", "size", "type", "views",
             "maxViews", "folderId", "thumbnail", "tags", "password", "url"}


def put(api, name="a.txt", content=b"x", ctype="text/plain", headers=None) -> dict:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    return res.get_json()["files"][0]


def test_list_files_pages_with_every_zipline_key(api):
    for i in range(5):
        put(api, f"{i}.txt")
    body = api.get("/api/user/files?page=2&perpage=2").get_json()
    assert body["total"] == 5 and body["pages"] == 3 and len(body["page"]) == 2
    assert FILE_KEYS <= set(body["page"][0]) and body["page"][0]["url"].startswith("/u/")


def test_list_files_only_shows_own_files(api, client, make_user, make_key):
    put(api)
    other = Api(client, make_key(make_user("bob")))
    assert other.get("/api/user/files").get_json()["total"] == 0


def test_list_files_filters_sorts_and_searches(api):
    put(api, "big.png", b"\x89PNG" + b"x" * 100, "image/png")
    put(api, "small.zip", b"z", "application/zip")
    assert [f["type"] for f in api.get("/api/user/files?filter=dashboard").get_json()["page"]] == ["image/png"]
    by_size = api.get("/api/user/files?sortBy=size&order=asc").get_json()["page"]
    assert [f["size"] for f in by_size] == [1, 104]
    found = api.get("/api/user/files?searchField=type&searchQuery=ZIP").get_json()
    assert [f["type"] for f in found["page"]] == ["application/zip"]
    assert found["search"] == {"field": "type", "query": "ZIP"}


@pytest.mark.parametrize("query", ["sortBy=password", "order=sideways", "perpage=0", "page=x",
                                   "searchField=password&searchQuery=x", "filter=odd"])
def test_list_files_bad_parameters_are_400(api, query):
    assert api.get(f"/api/user/files?{query}").status_code == 400


def test_recent_files(api):
    for i in range(4):
        put(api, f"{i}.txt")
    assert len(api.get("/api/user/recent?take=3").get_json()) == 3


def test_get_file_by_id_or_name(api):
    item = put(api)
    assert api.get(f"/api/user/files/{item['id']}").get_json()["name"] == item["name"]
    assert api.get(f"/api/user/files/{item['name']}").get_json()["id"] == item["id"]


def test_other_users_file_is_404_everywhere(api, client, make_user, make_key):
    item = put(api)
    other = Api(client, make_key(make_user("bob")))
    assert other.get(f"/api/user/files/{item['id']}").status_code == 404
    assert other.patch(f"/api/user/files/{item['id']}", json={"favorite": True}).status_code == 404
    assert other.delete(f"/api/user/files/{item['id']}").status_code == 404
    assert other.delete("/api/user/files/transaction", json={"files": [item["id"]]}).status_code == 404
    assert count(File) == 1


def test_patch_file_fields(api, client):
    item = put(api, headers={"x-zipline-max-views": "1"})
    res = api.patch(f"/api/user/files/{item['id']}", json={"favorite": True, "maxViews": 0, "name": "renamed.txt",
                                                           "password": "pw-12345", "originalName": "orig.txt"})
    body = res.get_json()
    assert (body["favorite"], body["maxViews"], body["name"], body["password"], body["originalName"]) == \
        (True, None, "renamed.txt", True, "orig.txt")
    assert client.get("/u/renamed.txt").status_code == 200  # the password page
    assert client.get(f"/u/{item['name']}").status_code == 404


def test_patch_file_rename_to_taken_name_is_refused(api):
    first, second = put(api, "1.txt"), put(api, "2.txt")
    res = api.patch(f"/api/user/files/{second['id']}", json={"name": first["name"]})
    assert res.status_code == 409 and res.get_json()["error"] == "File with this name already exists"


@pytest.mark.parametrize("body", [{"favorite": "yes"}, {"maxViews": -1}, {"password": 3}, {"name": "../x"},
                                  {"name": ""}, {"name": "a\x00b"}])
def test_patch_file_bad_values_are_400(api, body):
    item = put(api)
    assert api.patch(f"/api/user/files/{item['id']}", json=body).status_code == 400


def test_delete_file_removes_row_blob_and_quota(api, app, user):
    item = put(api, content=b"12345")
    storage = app.extensions["zipshort"].storage
    assert api.delete(f"/api/user/files/{item['id']}").get_json()["id"] == item["id"]
    assert count(File) == 0 and list(storage.keys()) == []
    assert fresh(User, user.id).used_bytes == 0 and fresh(User, user.id).file_count == 0


def test_bulk_favorite_and_delete(api):
    ids = [put(api, f"{i}.txt")["id"] for i in range(3)]
    assert api.patch("/api/user/files/transaction", json={"files": ids[:2], "favorite": True}).get_json() == \
        {"count": 2}
    assert api.get("/api/user/files?favorite=true").get_json()["total"] == 2
    assert api.patch("/api/user/files/transaction", json={"files": ids}).status_code == 400
    assert api.delete("/api/user/files/transaction", json={"files": ids}).get_json() == {"count": 3}
    assert count(File) == 0


def test_stats(api, make_link, user, client):
    put(api, "a.png", b"\x89PNG", "image/png")
    put(api, "b.png", b"\x89PNG1234", "image/png")
    make_link(user, vanity="s1")
    client.get("/go/s1")
    body = api.get("/api/user/stats").get_json()
    assert body["filesUploaded"] == 2 and body["storageUsed"] == 12 and body["urlsCreated"] == 1
    assert body["urlViews"] == 1 and body["sortTypeCount"] == {"image/png": 2} and body["avgStorageUsed"] == 6


def test_server_public_needs_no_auth(client):
    body = client.get("/api/server/public").get_json()
    assert body["files"]["route"] == "/u" and body["urls"]["route"] == "/go" and body["firstSetup"] is True
    assert body["features"]["userRegistration"] is False


@pytest.mark.parametrize("overrides", [{"features": {"user_registration": True}}])
def test_server_public_says_when_registration_is_open(client):
    assert client.get("/api/server/public").get_json()["features"]["userRegistration"] is True


def test_admin_lists_another_users_files_with_id(client, user, make_user, make_key):
    from tests.conftest import Api
    from zipshort.models import Role

    owner = Api(client, make_key(user))
    owner.post("/api/upload", data={"file": [(io.BytesIO(b"x"), "mine.txt", "text/plain")]},
               content_type="multipart/form-data")
    admin = Api(client, make_key(make_user("root", role=Role.ADMIN), scopes=["admin", "files:read"]))
    listed = admin.get(f"/api/user/files?page=1&id={user.id}").get_json()
    assert listed["total"] == 1 and listed["page"][0]["name"].endswith(".txt")
    assert admin.get("/api/user/files?page=1").get_json()["total"] == 0  # their own
    no_admin_scope = Api(client, make_key(make_user("root2", role=Role.ADMIN), scopes=["files:read"]))
    assert no_admin_scope.get(f"/api/user/files?page=1&id={user.id}").status_code == 403
    peer = Api(client, make_key(make_user("bob"), scopes=["files:read"]))
    assert peer.get(f"/api/user/files?page=1&id={user.id}").status_code == 403
    super_ = make_user("boss", role=Role.SUPERADMIN)
    assert admin.get(f"/api/user/files?page=1&id={super_.id}").status_code == 404  # ADMIN cannot manage SUPERADMIN
    assert admin.get("/api/user/files?page=1&id=nope").status_code == 404
