"""Zipline v4's files API: list, recent, get, edit, delete, bulk actions, stats, public server info."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import iso
from zipshort.auth import check_caller, public_route, require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.inputs import whole_number
from zipshort.models import File, User
from zipshort.services import accounts, files, folders, partials, tags, ziplineobjects


class ZiplineTag(Open):
    """``tag_json``."""

    id: str
    name: str
    color: str | None
    userId: str


class ZiplineFile(Open):
    """``file_json``."""

    id: str
    createdAt: str | None
    updatedAt: str | None
    deletesAt: str | None
    favorite: bool
    originalName: str | None
    name: str
    size: int
    type: str
    views: int
    maxViews: int | None
    folderId: str | None
    thumbnail: dict[str, str] | None
    tags: list[ZiplineTag]
    password: bool
    url: str


class FilePage(Open):
    page: list[ZiplineFile]
    total: int
    pages: int


class FileQuery(Open):
    page: int | None = None
    perpage: int | None = None
    filter: str | None = Field(None, description="all, dashboard or none")
    favorite: str | None = Field(None, description="true: favourites only")
    sortBy: str | None = None
    order: str | None = Field(None, description="asc or desc")
    searchField: str | None = None
    searchQuery: str | None = None
    id: str | None = Field(None, description="another user's id (administrators)")


class FileEdit(Open):
    favorite: bool | None = None
    maxViews: int | None = None
    password: str | None = None
    originalName: str | None = None
    type: str | None = None
    name: str | None = None
    tags: list[str] | None = None


class IncompleteFile(Open):
    """``incomplete_json``: a chunked upload in progress."""

    id: str
    status: str
    chunksTotal: int
    chunksComplete: int
    bytesTotal: int
    bytesReceived: int
    metadata: dict[str, Any]


class IncompleteIds(Open):
    id: list[str]


class UserFileStats(Open):
    filesUploaded: int
    favoriteFiles: int
    views: int
    avgViews: float
    storageUsed: int
    avgStorageUsed: float
    urlsCreated: int
    urlViews: int
    sortTypeCount: dict[str, int]


def file_json(row: File) -> dict[str, Any]:
    """Zipline v4's File object (password as a boolean, url relative to the host)."""
    return ziplineobjects.file_json(row, runtime().settings.files.route)


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw)
    if value is None:
        raise ValidationError(f"{name} must be a positive integer", field=name)
    return value


@bp.get("/user/files")
@documented("List your files", query=FileQuery, responses={200: FilePage})
@require_user(scope="files:read", note="`?id=<userId>`: also an administrator, key scope `admin`")
def list_files():
    search_field = request.args.get("searchField")
    search_query = request.args.get("searchQuery")
    searching = bool(search_query)
    query = files.FileQuery(
        page=int_arg("page", 1), per_page=int_arg("perpage", 15), filter=request.args.get("filter", "all"),
        favorite=request.args.get("favorite") == "true", sort_by=request.args.get("sortBy", "createdAt"),
        order=request.args.get("order", "desc"),
        search_field=(search_field or "name") if searching else None, search_query=search_query)
    rows, total = files.list_files(_listed_user(), query)
    body: dict[str, Any] = {"page": [file_json(r) for r in rows], "total": total,
                            "pages": max(1, -(-total // query.per_page))}
    if searching:
        body["search"] = {"field": query.search_field, "query": search_query}
    return jsonify(body)


def _listed_user() -> User:
    """Whose files to list: the caller's, or with ``id=<userId>`` (Zipline) another user's for an
    administrator who may manage them (a key then needs the admin scope; others answer 404)."""
    ident = request.args.get("id")
    if not ident or ident == g.user.id:
        return g.user
    check_caller("files:read", admin=True)
    return accounts.get_managed_user(g.user, ident)


def incomplete_json(session) -> dict[str, Any]:
    """Zipline's IncompleteFile: chunks counted in ``files.chunk_size`` pieces, plus the exact bytes."""
    size = max(1, runtime().settings.files.chunk_size)
    return {"id": session.id, "status": "PENDING", "chunksTotal": max(1, -(-session.total_size // size)),
            "chunksComplete": session.received // size if session.received < session.total_size else
            max(1, -(-session.total_size // size)),
            "bytesTotal": session.total_size, "bytesReceived": session.received,
            "createdAt": iso(session.created_at), "updatedAt": iso(session.updated_at),
            "metadata": {"file": {"id": session.identifier, "filename": session.filename,
                                  "type": session.content_type}}}


@bp.get("/user/files/incomplete")
@documented("Your chunked uploads in progress", responses={200: list[IncompleteFile]})
@require_user(scope="files:read")
def list_incomplete():
    return jsonify([incomplete_json(s) for s in partials.list_incomplete(g.user)])


@bp.delete("/user/files/incomplete")
@documented("Cancel chunked uploads", body=IncompleteIds, responses={200: list[IncompleteFile]})
@require_user(scope="files:write")
def cancel_incomplete():
    ids = json_body().get("id")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
        raise ValidationError("id must be a list of incomplete file ids", field="id")
    return jsonify([incomplete_json(s) for s in partials.cancel(runtime(), g.user, ids)])


@bp.get("/user/recent")
@documented("Your recent files", responses={200: list[ZiplineFile]})
@require_user(scope="files:read")
def recent_files():
    take = min(int_arg("take", 3), 100)
    rows, _ = files.list_files(g.user, files.FileQuery(per_page=max(take, 1)))
    return jsonify([file_json(r) for r in rows[:take]])


@bp.get("/user/files/<ident>")
@documented("Get a file", responses={200: ZiplineFile})
@require_user(scope="files:read")
def get_file(ident: str):
    return jsonify(file_json(files.get_owned_file(g.user, ident)))


def _file_changes(body: dict[str, Any]) -> files.FileChanges:
    values: dict[str, Any] = {}
    if "favorite" in body:
        if not isinstance(body["favorite"], bool):
            raise ValidationError("favorite must be a boolean", field="favorite")
        values["favorite"] = body["favorite"]
    if "maxViews" in body:
        max_views = body["maxViews"]
        if max_views is not None and (isinstance(max_views, bool) or not isinstance(max_views, int) or max_views < 0):
            raise ValidationError("maxViews must be >= 0", field="maxViews")
        values["max_views"] = max_views or None
    if "password" in body:
        password = body["password"]
        if password is not None and not isinstance(password, str):
            raise ValidationError("password must be a string", field="password")
        values["password"] = password
    for key, attr in (("originalName", "original_name"), ("type", "type"), ("name", "name")):
        if key in body:
            value = body[key]
            if not isinstance(value, str) or not value or len(value) > 255 or not value.isprintable() \
                    or (key == "name" and ("/" in value or "\\" in value or value.startswith("."))):
                raise ValidationError(f"Invalid {key}", field=key)
            values[attr] = value
    if "tags" in body:
        values["tags"] = tags.resolve(g.user, body["tags"])
    return files.FileChanges(**values)


@bp.patch("/user/files/<ident>")
@documented("Edit a file", body=FileEdit, responses={200: ZiplineFile})
@require_user(scope="files:write")
def update_file(ident: str):
    if ident == "transaction":
        return bulk_update()
    return jsonify(file_json(files.update_file(runtime(), g.user, ident, _file_changes(json_body()))))


@bp.delete("/user/files/<ident>")
@documented("Delete a file", responses={200: ZiplineFile})
@require_user(scope="files:write")
def delete_file(ident: str):
    if ident == "transaction":
        return bulk_delete()
    return jsonify(file_json(files.delete_files(runtime(), g.user, [ident])[0]))


def _ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("files")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
        raise ValidationError("files must be a list of 1-1000 file ids", field="files")
    return ids


def bulk_update():
    body = json_body()
    if "folder" in body:  # Zipline: move the files into a folder (null: out of any)
        folder = body["folder"]
        if folder is not None and not isinstance(folder, str):
            raise ValidationError("folder must be a folder id or null", field="folder")
        return jsonify({"count": folders.move_files(g.user, _ids(body), folder)})
    if "favorite" not in body:
        raise ValidationError("can't PATCH without an action", code="no_action")
    if not isinstance(body["favorite"], bool):
        raise ValidationError("favorite must be a boolean", field="favorite")
    return jsonify({"count": files.set_favorite(g.user, _ids(body), body["favorite"])})


def bulk_delete():
    rows = files.delete_files(runtime(), g.user, _ids(json_body()), bulk=True)
    return jsonify({"count": len(rows)})


@bp.get("/user/stats")
@documented("Your file and URL counts", responses={200: UserFileStats})
@require_user(scope="stats:read")
def stats():
    return jsonify(files.user_stats(g.user))


class PublicSettings(Open):
    """What clients may know without an account (Zipline 4.x's public settings)."""

    features: dict[str, Any]
    files: dict[str, Any]
    urls: dict[str, Any]
    domains: list[str]
    firstSetup: bool


@bp.get("/server/public")
@documented("What clients may know without an account", responses={200: PublicSettings})
@public_route("what clients may know without an account")
def server_public():
    """What clients may know without an account (Zipline 4.x's public settings)."""
    settings = runtime().settings
    return jsonify({
        "oauth": {"bypassLocalLogin": False, "loginOnly": False},
        "oauthEnabled": {"discord": False, "github": False, "google": False, "oidc": False},
        "website": {"loginBackground": None, "loginBackgroundBlur": True, "title": "zipshort"},
        "features": {"oauthRegistration": False, "userRegistration": settings.features.user_registration},
        "mfa": {"passkeys": False},
        "tos": False,
        "files": {"route": settings.files.route, "maxFileSize": settings.files.max_file_size},
        "urls": {"route": settings.urls.route},
        "domains": list(settings.allowed_domains),
        "firstSetup": accounts.count_users() == 0,
    })
