"""hoko's link API: POST /api/links creates up to 10,000 links at once, all or nothing."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.auth import caller_reach, load_caller, require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.services import bulk, domains
from zipshort.urls import link_url

bp = Blueprint("hoko", __name__, url_prefix="/api/links")
bp.before_request(load_caller)


class HokoLinkInput(Open):
    """One link of the array (services/bulk.py validates the whole request before creating any)."""

    url: WebUrl
    collectionId: str
    title: str | None = None
    description: str | None = None
    image: str | None = None
    utm: dict[str, Any] | None = None
    externalId: str | None = None
    tenantId: str | None = None
    partnerId: str | None = None


class HokoLink(Open):
    id: str
    url: str
    shortUrl: str
    title: str | None
    description: str | None
    collectionId: str | None
    createdAt: str


@bp.post("")
@documented("Create up to 10,000 links, all or nothing", body=list[HokoLinkInput], responses={201: list[HokoLink]})
@require_user("links:write")
def create_links():
    user = g.user
    items = request.get_json(silent=True, force=True)
    if items is None:
        raise ValidationError("The body must be a JSON array of links", code="invalid_body")
    rt = runtime()
    links = bulk.create_links(rt, user, items, host=request.host, reach=caller_reach())
    host = domains.choose(rt, request.host).hostname
    return jsonify([{
        "id": link.id, "url": link.destination, "shortUrl": link_url(rt.settings, link, link.domain or host),
        "title": link.title, "description": link.description, "collectionId": link.folder_id,
        "createdAt": link.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    } for link in links]), 201
