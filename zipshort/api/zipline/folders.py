"""Zipline v4's folders and tags API, and the public folder endpoint."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.files import ZiplineFile, ZiplineTag, file_json
from zipshort.api.zipline.schemas import iso
from zipshort.auth import public_route, require_user
from zipshort.errors import ValidationError
from zipshort.models import Folder
from zipshort.services import folders, tags
from zipshort.services.ziplineobjects import tag_json


class ZiplineFolder(Open):
    """``folder_json``: ``files`` unless left out (``?noincl=true``, a deleted folder)."""

    id: str
    name: str
    public: bool
    allowUploads: bool
    userId: str
    files: list[ZiplineFile] | None = None


class PublicFolder(ZiplineFolder):
    """A public folder: its files without their password flag."""

    files: list[dict[str, Any]] | None = None  # type: ignore[assignment]


class FolderCreate(Open):
    name: str
    isPublic: bool | None = None
    files: list[str] | None = None


class FolderEdit(Open):
    name: str | None = None
    isPublic: bool | None = None
    allowUploads: bool | None = None


class FolderFile(Open):
    id: str


class FolderDelete(Open):
    delete: str = Field(description="folder: delete the folder; file: take the file ``id`` out of it")
    id: str | None = None


class NoIncl(Open):
    noincl: str | None = Field(None, description="true: without the files")


class PublicQuery(Open):
    uploads: str | None = Field(None, description="true: a folder open for uploads, without its files")


class TagInput(Open):
    name: str | None = None
    color: str | None = None


def folder_json(folder: Folder, with_files: bool = True) -> dict[str, Any]:
    """Zipline's Folder object (``files`` unless left out)."""
    data: dict[str, Any] = {"id": folder.id, "createdAt": iso(folder.created_at), "updatedAt": iso(folder.updated_at),
                            "name": folder.name, "public": folder.public, "allowUploads": folder.allow_uploads,
                            "userId": folder.user_id}
    if with_files:
        data["files"] = [file_json(f) for f in folders.folder_files(folder)]
    return data


@bp.get("/user/folders")
@documented("List your folders", query=NoIncl, responses={200: list[ZiplineFolder]})
@require_user(scope="files:read")
def list_folders():
    with_files = request.args.get("noincl") != "true"
    return jsonify([folder_json(f, with_files) for f in folders.list_folders(g.user)])


@bp.post("/user/folders")
@documented("Create a folder", body=FolderCreate, responses={200: ZiplineFolder})
@require_user(scope="files:write")
def create_folder():
    body = json_body()
    file_ids = body.get("files") or []
    if not isinstance(file_ids, list) or not all(isinstance(i, str) for i in file_ids):
        raise ValidationError("files must be a list of file ids", field="files")
    public = body.get("isPublic", False)
    if not isinstance(public, bool):
        raise ValidationError("isPublic must be a boolean", field="isPublic")
    return jsonify(folder_json(folders.create_folder(g.user, body.get("name"), public, file_ids)))


@bp.get("/user/folders/<folder_id>")
@documented("Get a folder", responses={200: ZiplineFolder})
@require_user(scope="files:read")
def get_folder(folder_id: str):
    return jsonify(folder_json(folders.get_folder(g.user, folder_id)))


@bp.put("/user/folders/<folder_id>")
@documented("Put a file in a folder", body=FolderFile, responses={200: ZiplineFolder})
@require_user(scope="files:write")
def add_to_folder(folder_id: str):
    return jsonify(folder_json(folders.add_file(g.user, folder_id, json_body().get("id"))))


@bp.patch("/user/folders/<folder_id>")
@documented("Edit a folder", body=FolderEdit, responses={200: ZiplineFolder})
@require_user(scope="files:write")
def update_folder(folder_id: str):
    body = json_body()
    changes = folders.FolderChanges(**{attr: body[key] for key, attr in
                                       (("name", "name"), ("isPublic", "public"), ("allowUploads", "allow_uploads"))
                                       if key in body})
    return jsonify(folder_json(folders.update_folder(g.user, folder_id, changes)))


@bp.delete("/user/folders/<folder_id>")
@documented("Delete a folder, or take a file out", body=FolderDelete, responses={200: ZiplineFolder})
@require_user(scope="files:write")
def delete_folder(folder_id: str):
    body = json_body()
    if body.get("delete") == "folder":
        return jsonify(folder_json(folders.delete_folder(g.user, folder_id), with_files=False))
    if body.get("delete") == "file":
        return jsonify(folder_json(folders.remove_file(g.user, folder_id, body.get("id"))))
    raise ValidationError("delete must be 'folder' or 'file'", field="delete")


@bp.get("/server/folder/<folder_id>")
@documented("A public folder", query=PublicQuery, responses={200: PublicFolder})
@public_route("public folders only")
def public_folder(folder_id: str):
    """A public folder for anyone (``?uploads=true``: a folder open for uploads, without its files)."""
    uploads = request.args.get("uploads") == "true"
    folder = folders.public_folder(folder_id, for_uploads=uploads)
    data = folder_json(folder, with_files=not uploads)
    for item in data.get("files", []):
        item.pop("password", None)
    return jsonify(data)


@bp.get("/user/tags")
@documented("List your file tags", responses={200: list[ZiplineTag]})
@require_user(scope="files:read")
def list_tags():
    return jsonify([tag_json(t) for t in tags.list_tags(g.user)])


@bp.post("/user/tags")
@documented("Create a file tag", body=TagInput, responses={200: ZiplineTag})
@require_user(scope="files:write")
def create_tag():
    body = json_body()
    return jsonify(tag_json(tags.create_tag(g.user, body.get("name"), body.get("color"))))


@bp.patch("/user/tags/<tag_id>")
@documented("Edit a file tag", body=TagInput, responses={200: ZiplineTag})
@require_user(scope="files:write")
def update_tag(tag_id: str):
    body = json_body()
    return jsonify(tag_json(tags.update_tag(g.user, tag_id, body.get("name"), body.get("color"))))


@bp.delete("/user/tags/<tag_id>")
@documented("Delete a file tag", responses={200: ZiplineTag})
@require_user(scope="files:write")
def delete_tag(tag_id: str):
    return jsonify(tag_json(tags.delete_tag(g.user, tag_id)))
