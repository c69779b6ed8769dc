"""Folders and tags: Zipline's API texts, ownership, uploads into folders (also anonymous), tag search."""

from __future__ import annotations

import io

import pytest

from tests.conftest import Api, count, fresh
from zipshort.models import File, Folder, User


def put(api, name="a.txt", headers=None):
    res = api.post("/api/upload", data={"file": [(io.BytesIO(b"x"), name, "text/plain")]}, headers=headers,
                   content_type="multipart/form-data")
    return res


@pytest.fixture
def other(client, make_user, make_key):
    return Api(client, make_key(make_user("bob")))


def test_folder_lifecycle(api):
    ids = [put(api, f"{i}.txt").get_json()["files"][0]["id"] for i in range(3)]
    folder = api.post("/api/user/folders", json={"name": "Trip", "isPublic": True, "files": ids[:2]}).get_json()
    assert folder["name"] == "Trip" and folder["public"] is True and len(folder["files"]) == 2
    assert api.put(f"/api/user/folders/{folder['id']}", json={"id": ids[2]}).get_json()["files"][0]["folderId"] \
        == folder["id"]
    again = api.put(f"/api/user/folders/{folder['id']}", json={"id": ids[2]})
    assert again.status_code == 400 and again.get_json()["error"] == "File already in folder"
    patched = api.patch(f"/api/user/folders/{folder['id']}", json={"name": "Trip 2", "allowUploads": True})
    assert patched.get_json()["allowUploads"] is True and patched.get_json()["name"] == "Trip 2"
    removed = api.delete(f"/api/user/folders/{folder['id']}", json={"delete": "file", "id": ids[0]})
    assert len(removed.get_json()["files"]) == 2
    assert "files" not in api.get("/api/user/folders?noincl=true").get_json()[0]
    assert api.delete(f"/api/user/folders/{folder['id']}", json={"delete": "folder"}).status_code == 200
    assert count(Folder) == 0 and count(File) == 3


@pytest.mark.parametrize("body,message", [({}, "Name is required"), ({"name": "  "}, "Name is required"),
                                          ({"name": "x", "files": ["nope"]}, "No files found, with given request")])
def test_create_folder_errors(api, body, message):
    res = api.post("/api/user/folders", json=body)
    assert res.status_code == 400 and res.get_json()["error"] == message and count(Folder) == 0


def test_someone_elses_folder_is_404(api, other):
    folder = api.post("/api/user/folders", json={"name": "Mine"}).get_json()
    assert other.get(f"/api/user/folders/{folder['id']}").status_code == 404
    assert other.patch(f"/api/user/folders/{folder['id']}", json={"name": "x"}).status_code == 404
    assert other.delete(f"/api/user/folders/{folder['id']}", json={"delete": "folder"}).status_code == 404


def test_upload_into_own_folder(api):
    folder = api.post("/api/user/folders", json={"name": "Shots"}).get_json()
    item = put(api, headers={"x-zipline-folder": folder["id"]}).get_json()["files"][0]
    assert api.get(f"/api/user/files/{item['id']}").get_json()["folderId"] == folder["id"]


def test_upload_into_unknown_folder_is_400(api, app):
    res = put(api, headers={"x-zipline-folder": "nope"})
    assert res.status_code == 400 and res.get_json()["error"] == "folder not found" and count(File) == 0


def test_upload_into_someone_elses_closed_folder_is_403(api, other):
    folder = api.post("/api/user/folders", json={"name": "Private"}).get_json()
    res = put(other, headers={"x-zipline-folder": folder["id"]})
    assert res.status_code == 403 and res.get_json()["error"] == "folder is not open" and count(File) == 0


def test_anonymous_upload_into_an_open_folder_belongs_to_its_owner(api, client, user):
    folder = api.post("/api/user/folders", json={"name": "Drop box"}).get_json()
    assert client.post("/api/upload", data={"file": [(io.BytesIO(b"anon"), "a.txt", "text/plain")]},
                       headers={"x-zipline-folder": folder["id"]},
                       content_type="multipart/form-data").status_code == 403
    assert api.patch(f"/api/user/folders/{folder['id']}", json={"allowUploads": True}).status_code == 200
    res = client.post("/api/upload", data={"file": [(io.BytesIO(b"anon"), "a.txt", "text/plain")]},
                      headers={"x-zipline-folder": folder["id"]}, content_type="multipart/form-data")
    assert res.status_code == 200
    row = File.query.one()
    assert row.user_id == user.id and row.anonymous is True and row.folder_id == folder["id"]
    assert fresh(User, user.id).used_bytes == 4


def test_anonymous_upload_without_folder_is_401(client):
    res = client.post("/api/upload", data={"file": [(io.BytesIO(b"x"), "a.txt", "text/plain")]},
                      content_type="multipart/form-data")
    assert res.status_code == 401 and count(File) == 0


def test_public_folder_endpoint(api, client):
    folder = api.post("/api/user/folders", json={"name": "Pub"}).get_json()
    assert client.get(f"/api/server/folder/{folder['id']}").status_code == 404
    assert api.patch(f"/api/user/folders/{folder['id']}", json={"isPublic": True}).status_code == 200
    put(api, headers={"x-zipline-folder": folder["id"]})
    body = client.get(f"/api/server/folder/{folder['id']}").get_json()
    assert body["name"] == "Pub" and len(body["files"]) == 1


def test_tags_lifecycle_and_search(api):
    red = api.post("/api/user/tags", json={"name": "red", "color": "#ff0000"}).get_json()
    big = api.post("/api/user/tags", json={"name": "big", "color": "blue"}).get_json()
    dup = api.post("/api/user/tags", json={"name": "RED", "color": "#f00"})
    assert dup.status_code == 400 and dup.get_json()["error"] == "Cannot create tag with the same name"
    one, two = (put(api, f"{i}.txt").get_json()["files"][0] for i in range(2))
    tagged = api.patch(f"/api/user/files/{one['id']}", json={"tags": [red["id"], big["id"]]}).get_json()
    assert sorted(t["name"] for t in tagged["tags"]) == ["big", "red"]
    assert api.patch(f"/api/user/files/{two['id']}", json={"tags": [red["id"]]}).status_code == 200
    both = api.get(f"/api/user/files?searchField=tags&searchQuery={red['id']},{big['id']}").get_json()
    assert [f["id"] for f in both["page"]] == [one["id"]]
    renamed = api.patch(f"/api/user/tags/{big['id']}", json={"name": "red"})
    assert renamed.status_code == 400 and renamed.get_json()["error"] == "tag name already exists"
    assert api.delete(f"/api/user/tags/{red['id']}").status_code == 200
    assert [t["name"] for t in api.get(f"/api/user/files/{one['id']}").get_json()["tags"]] == ["big"]


@pytest.mark.parametrize("body,message", [({"color": "#fff"}, "Name is required"),
                                          ({"name": "x"}, "Color is required")])
def test_tag_errors(api, body, message):
    res = api.post("/api/user/tags", json=body)
    assert res.status_code == 400 and res.get_json()["error"] == message


def test_someone_elses_tag_cannot_be_attached(api, other):
    tag = other.post("/api/user/tags", json={"name": "theirs", "color": "#000"}).get_json()
    item = put(api).get_json()["files"][0]
    assert api.patch(f"/api/user/files/{item['id']}", json={"tags": [tag["id"]]}).status_code == 400


def test_folder_owner_cannot_move_edit_or_delete_another_users_upload(client, make_user, make_key):
    alice, bob = make_user("alice"), make_user("bob")
    owner, uploader = Api(client, make_key(alice)), Api(client, make_key(bob))
    folder = owner.post("/api/user/folders", json={"name": "Drop box"}).get_json()
    owner.patch(f"/api/user/folders/{folder['id']}", json={"allowUploads": True})
    res = uploader.post("/api/upload", data={"file": [(io.BytesIO(b"bobs"), "b.txt", "text/plain")]},
                        headers={"x-zipline-folder": folder["id"]}, content_type="multipart/form-data")
    file_id = res.get_json()["files"][0]["id"]
    assert [f["id"] for f in owner.get(f"/api/user/folders/{folder['id']}").get_json()["files"]] == [file_id]
    taken = owner.delete(f"/api/user/folders/{folder['id']}", json={"delete": "file", "id": file_id})
    assert taken.status_code == 400
    assert owner.patch("/api/user/files/transaction", json={"files": [file_id], "folder": None}).status_code == 400
    assert owner.delete(f"/api/user/files/{file_id}").status_code == 404
    gone = owner.delete(f"/api/user/folders/{folder['id']}", json={"delete": "folder"})
    assert gone.status_code == 409 and gone.get_json()["code"] == "folder_has_others_files"
    row = File.query.one()
    assert row.user_id == bob.id and row.folder_id == folder["id"]
    # the uploader takes it out; then the folder can go
    assert uploader.patch("/api/user/files/transaction", json={"files": [file_id], "folder": None}).status_code == 200
    assert owner.delete(f"/api/user/folders/{folder['id']}", json={"delete": "folder"}).status_code == 200
    assert fresh(File, file_id).folder_id is None
