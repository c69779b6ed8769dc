"""hoko's link API: POST /api/links creates up to 10,000 links at once, all or nothing."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from zipshort.auth import caller_reach, load_caller, require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.services import bulk, domains
from zipshort.urls import link_url

bp = Blueprint("hoko", __name__, url_prefix="/api/links")
bp.before_request(load_caller)


@bp.post("")
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
