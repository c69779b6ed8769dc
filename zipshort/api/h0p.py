"""h0p's short-link API: create, list, get, update, delete; the complete object every time.

Errors come NestJS style: ``{statusCode, message, error}``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from flask import Blueprint, g, jsonify, request

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.auth import caller_reach, load_caller, require_user
from zipshort.dates import parse_datetime
from zipshort.errors import Forbidden, NotFound, ValidationError, VanityTaken
from zipshort.http import runtime
from zipshort.models import Link, User
from zipshort.services import domains, links
from zipshort.urls import link_url, public_url

bp = Blueprint("h0p", __name__, url_prefix="/short-link")
bp.before_request(load_caller)

SLUG = re.compile(r"^(?![-_])[A-Za-z0-9_-]{1,50}(?<![-_])$")
UNSET = links.UNSET
NAMES = links.FieldNames(title="metaTags.title", description="metaTags.description", image_id="metaTags.imageId")


def _iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z" if value else None


def _derived(link: Link, what: str) -> str:
    return str(uuid.uuid5(uuid.UUID(link.id), what))


def _destination(kind: str, value: str) -> dict[str, Any]:
    return {"type": kind, "value": value, "threatTypes": None}


def link_json(link: Link, host: str) -> dict[str, Any]:
    """The complete short link object of the seed."""
    rt = runtime()
    domain = domains.of_link(rt, host, link)
    short_url = link_url(rt.settings, link, domain.hostname)
    image_id = link.image[5:] if link.image and link.image.startswith("file:") else None
    return {
        "domain": {"id": domain.id, "domain": domain.hostname, "isPrimary": domain.is_primary,
                   "isVerified": domain.is_verified, "createdAt": _iso(domain.created_at or link.created_at)},
        "rules": [{"priority": r["priority"],
                   "destination": _destination(r["destination"]["type"], r["destination"]["value"]), "id": r["id"],
                   "countries": r["countries"], "languages": r["languages"], "osTypes": r["osTypes"],
                   "conditions": r.get("conditions") or []}  # zipshort's addition: Shlink's conditions, ANDed
                  for r in link.rules or []],
        "qrCode": {"options": {"data": short_url,
                               **((link.qr_options or {}).get("options") or {})},
                   "imageId": (link.qr_options or {}).get("imageId")},
        "destination": _destination(link.destination_type, link.destination),
        "metaTags": {"title": link.title, "description": link.description, "imageId": image_id,
                     "image": {"id": image_id, "key": f"meta-tag/{image_id}"} if image_id else None},
        "tags": [{"id": t.id, "name": t.name, "color": t.color} for t in link.tags],
        "id": link.id,
        "organizationId": link.user_id,
        # false for disabled, not yet valid (validSince), expired, used up
        "isActive": links.is_live(link, owner_disabled=g.user.disabled),
        "qrCodeId": _derived(link, "qr") if link.qr_options else None,
        "domainId": domain.id,
        "folderId": link.folder_id,
        "slug": link.slug,
        "originUrl": short_url,
        "expiresAt": _iso(link.expires_at),
        "maxClicks": link.max_views,
        "currentClicks": link.views,
        "hasPassword": link.password_hash is not None,
        "cloaking": link.cloaking,
        "destinationId": _derived(link, "destination"),
        "createdAt": _iso(link.created_at),
        "updatedAt": _iso(link.updated_at),
    }


class H0pDestination(Open):
    type: str
    value: str


class H0pDestinationInput(Open):
    type: str
    value: WebUrl


class H0pDomain(Open):
    id: str | None
    domain: str
    isPrimary: bool
    isVerified: bool


class H0pLink(Open):
    """``link_json``: the complete object."""

    domain: H0pDomain
    rules: list[dict[str, Any]]
    qrCode: dict[str, Any]
    destination: H0pDestination
    metaTags: dict[str, Any]
    tags: list[dict[str, Any]]
    id: str
    organizationId: str
    isActive: bool
    qrCodeId: str | None
    domainId: str | None
    folderId: str | None
    slug: str
    originUrl: str
    expiresAt: str | None
    maxClicks: int | None
    currentClicks: int
    hasPassword: bool
    cloaking: bool | None
    destinationId: str
    createdAt: str | None
    updatedAt: str | None


class H0pLinkInput(Open):
    """Create (``destination`` required) or PUT; PATCH takes any subset."""

    destination: H0pDestinationInput | None = None
    slug: str | None = None
    tags: list[str] | None = None
    folderId: str | None = None
    maxClicks: int | None = None
    expiresAt: str | None = None
    password: str | None = None
    cloaking: bool | None = None
    enableDeepLinking: bool | None = None
    rules: list[dict[str, Any]] | None = None
    qrCode: dict[str, Any] | None = None
    metaTags: dict[str, Any] | None = None
    isActive: bool | None = None
    domainId: str | None = None
    domain: str | None = None


class H0pMeta(Open):
    total: int
    page: int
    limit: int
    totalPages: int


class H0pPage(Open):
    data: list[H0pLink]
    meta: H0pMeta


class H0pQuery(Open):
    page: int | None = None
    limit: int | None = None


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object", field="body")
    return data


def _fields(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The seed's request fields → keyword arguments shared by NewLink and LinkChanges."""
    out: dict[str, Any] = {}
    if "destination" in body or creating:
        dest = body.get("destination")
        if not isinstance(dest, dict):
            raise ValidationError("destination must be an object {type, value}", field="destination")
        out["destination"], out["destination_type"] = dest.get("value"), dest.get("type")
    if "slug" in body and body["slug"] is not None:
        if not isinstance(body["slug"], str) or not SLUG.fullmatch(body["slug"]):
            raise ValidationError("slug must be 1-50 letters, digits, '-' or '_', not starting or ending with "
                                  "'-' or '_'", field="slug")
        out["vanity"] = body["slug"]
    if "tags" in body:
        out["tags"] = body["tags"]
    if "folderId" in body:
        if body["folderId"] is not None and not isinstance(body["folderId"], str):
            raise ValidationError("folderId must be a UUID", field="folderId")
        out["folder_id"] = body["folderId"].lower() if body["folderId"] else None
    if "maxClicks" in body:
        clicks = body["maxClicks"]
        if clicks is not None and (isinstance(clicks, bool) or not isinstance(clicks, (int, float))
                                   or clicks != int(clicks) or clicks <= 1):
            raise ValidationError("maxClicks must be a whole number greater than 1", field="maxClicks")
        out["max_views"] = int(clicks) if clicks is not None else None
    if "expiresAt" in body:
        out["expires_at"] = parse_datetime(body["expiresAt"], "expiresAt")
    if "password" in body:
        password = body["password"]
        if password is not None and (not isinstance(password, str) or not 5 <= len(password) <= 25):
            raise ValidationError("password must be 5-25 characters", field="password")
        out["password"] = password
    for key, attr in (("cloaking", "cloaking"), ("enableDeepLinking", "deep_linking")):
        if key in body:
            if not isinstance(body[key], bool):
                raise ValidationError(f"{key} must be a boolean", field=key)
            out[attr] = body[key]
    if "rules" in body:
        out["rules"] = body["rules"]
    if "qrCode" in body:
        out["qr_options"] = body["qrCode"]
    if "metaTags" in body:
        out.update(_meta(body["metaTags"]))
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise ValidationError("isActive must be a boolean", field="isActive")
        out["enabled"] = body["isActive"]
    return out


def _meta(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {"title": None, "description": None, "image": None}
    if not isinstance(meta, dict):
        raise ValidationError("metaTags must be an object", field="metaTags")
    out = {"title": meta.get("title"), "description": meta.get("description"), "image": None}
    if meta.get("imageId"):  # one of the caller's uploaded files
        out["image_id"] = str(meta["imageId"])
    return out



def _owned(link_id: str) -> Link:
    try:
        return links.get_owned_link(g.user, link_id, reach=caller_reach())
    except (NotFound, Forbidden):
        raise NotFound("Short link not found", code="not_found") from None


@bp.post("")
@documented("Create a short link", body=H0pLinkInput, responses={201: H0pLink})
@require_user("links:write")
def create():
    user = g.user
    body = _body()
    spec = _fields(body, creating=True)
    domain = _domain(body, user)
    try:
        rt = runtime()
        link = links.create_link(rt, user, links.NewLink(domain=domain, **spec), host=request.host, names=NAMES,
                                 reach=caller_reach(), origin=public_url(rt.settings))
    except VanityTaken:
        raise VanityTaken("This slug is already taken on this domain") from None
    return jsonify(link_json(link, request.host)), 201


def _domain(body: dict[str, Any], user: User) -> str:
    """'' (every host) unless a configured domain, or the caller's verified custom domain, is asked for."""
    ident, name = body.get("domainId"), body.get("domain")
    if not ident and not name:
        return ""
    found = domains.find(runtime(), request.host, ident=ident if isinstance(ident, str) else None,
                         name=name if isinstance(name, str) else None, owner=user)
    if found is not None and found.custom:
        return found.hostname
    if found is None or not runtime().settings.allowed_domains:
        if found is not None:
            return ""  # the request's own host: links answer on every host anyway
        raise ValidationError("Unknown domain", field="domain")
    return found.hostname


@bp.get("/list")
@documented("List short links", query=H0pQuery, responses={200: H0pPage})
@require_user("links:read")
def list_links():
    user = g.user
    try:
        page = int(request.args.get("page", 1))
        limit = int(request.args.get("limit", 20))
    except ValueError:
        raise ValidationError("page and limit must be whole numbers", field="page") from None
    if page < 1 or not 1 <= limit <= 100:
        raise ValidationError("page must be ≥ 1 and limit 1-100", field="limit")
    rows, total = links.page_links(user, page, limit, reach=caller_reach())
    return jsonify({"data": [link_json(link, request.host) for link in rows],
                    "meta": {"total": total, "page": page, "limit": limit, "totalPages": -(-total // limit)}})


@bp.get("/<link_id>")
@documented("Get a short link", responses={200: H0pLink})
@require_user("links:read")
def get(link_id: str):
    return jsonify(link_json(_owned(link_id), request.host))


@bp.route("/<link_id>", methods=["PATCH", "PUT"])
@documented("Edit a short link (PUT: destination required)", body=H0pLinkInput, responses={200: H0pLink})
@require_user("links:write")
def update(link_id: str):
    link = _owned(link_id)
    fields = _fields(_body(), creating=request.method == "PUT")
    changes = links.LinkChanges(**{k: v for k, v in fields.items() if k in links.LinkChanges.__dataclass_fields__})
    try:
        link = links.update_link(runtime(), g.user, link.id, changes, host=request.host, names=NAMES,
                                 reach=caller_reach())
    except VanityTaken:
        raise VanityTaken("This slug is already taken on this domain") from None
    return jsonify(link_json(link, request.host))


@bp.delete("/<link_id>")
@documented("Delete a short link", responses={200: H0pLink})
@require_user("links:write")
def delete(link_id: str):
    link = _owned(link_id)
    data = link_json(link, request.host)
    links.delete_link(runtime(), g.user, link.id, reach=caller_reach())
    return jsonify(data)
