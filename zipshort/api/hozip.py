"""hozip's external link API: create a link, list links; errors as {detail, error_code}."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.auth import caller_reach, load_caller, require_user
from zipshort.errors import ValidationError, VanityTaken
from zipshort.http import runtime
from zipshort.inputs import whole_number
from zipshort.models import Link, utcnow
from zipshort.services import domains, links
from zipshort.services.creationlimits import PerKeyLimit
from zipshort.urls import link_url, public_url

bp = Blueprint("hozip", __name__, url_prefix="/api/v1/external")
bp.before_request(load_caller)

SHORT_CODE = re.compile(r"[A-Za-z0-9_-]{3,50}")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _invalid(message: str, field: str) -> ValidationError:
    return ValidationError(message, code="validation_error", field=field)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise _invalid("Request body must be a JSON object", "body")
    return data


def _timestamp(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _short_url(host: str, link: Link) -> str:
    return link_url(runtime().settings, link, host)


class HozipCreate(Open):
    long_url: WebUrl
    short_code: str | None = None
    group_id: str | None = None
    domain_id: str | None = None


class HozipCreated(Open):
    id: str
    short_code: str
    short_url: str
    group_id: str | None
    domain: str
    domain_id: str | None


class HozipLink(Open):
    id: str
    short_code: str
    long_url: str
    domain: str
    group_id: str | None
    is_active: bool
    created_at: str


class HozipPage(Open):
    offset: int
    limit: int
    total: int
    results: list[HozipLink]


class HozipQuery(Open):
    limit: int | None = None
    offset: int | None = None
    long_url: str | None = None
    match: str | None = None


NO_CREDENTIALS = "Authentication credentials were not provided."


@bp.post("/links/create-link")
@documented("Create a link", body=HozipCreate, responses={201: HozipCreated})
@require_user("links:write", unauthorized=NO_CREDENTIALS)
def create_link():
    user = g.user
    rt = runtime()
    body = _body()
    long_url = body.get("long_url")
    if not isinstance(long_url, str) or not long_url:
        raise _invalid("long_url is required.", "long_url")
    short_code = body.get("short_code")
    if short_code is not None:
        if not isinstance(short_code, str) or not SHORT_CODE.fullmatch(short_code):
            raise _invalid("short_code must be 3-50 letters, digits, '_' or '-'.", "short_code")
        short_code = short_code.lower()
    group_id = body.get("group_id")
    group_id = group_id.lower() if isinstance(group_id, str) and UUID_RE.fullmatch(group_id) else None
    domain_id = body.get("domain_id")
    domain = domains.choose(rt, request.host, ident=domain_id if isinstance(domain_id, str) else None, owner=user)
    try:
        link = links.create_link(rt, user, links.NewLink(destination=long_url, vanity=short_code, schemes=("https",),
                                                         folder_id=group_id, or_default_folder=True,
                                                         domain=domains.link_domain(domain)),
                                 host=request.host, limit=PerKeyLimit(g.api_key.id if g.api_key else None),
                                 reach=caller_reach(), origin=public_url(rt.settings))
    except VanityTaken:
        raise VanityTaken("This short_code is already taken on the target domain.", status=400) from None
    except ValidationError as exc:
        field = "long_url" if exc.field == "destination" else exc.field or "body"
        raise _invalid(exc.message.replace("Destination", "long_url"), field) from None
    if link.domain != domains.link_domain(domain):  # a domain-bound key's link went to its domain
        domain = domains.of_link(rt, request.host, link)
    return jsonify({"id": link.id, "short_code": link.slug, "short_url": _short_url(domain.hostname, link),
                    "group_id": link.folder_id, "domain": domain.hostname, "domain_id": domain.id}), 201


def _int_param(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = whole_number(raw)
    if value is None or value < low or (high is not None and value > high):
        bounds = f"{low}-{high}" if high is not None else f"at least {low}"
        raise _invalid(f"{name} must be an integer {bounds}.", name)
    return value


@bp.get("/links")
@documented("List links", query=HozipQuery, responses={200: HozipPage})
@require_user("links:read", unauthorized=NO_CREDENTIALS)
def list_links():
    user = g.user
    limit = _int_param("limit", 20, 1, 100)
    offset = _int_param("offset", 0, 0, None)
    long_url = request.args.get("long_url")
    match = request.args.get("match", "exact")
    if match not in ("exact", "startswith"):
        raise _invalid("match must be 'exact' or 'startswith'.", "match")
    if long_url is not None and (len(long_url) > 2048 or "\x00" in long_url):
        raise _invalid("long_url must be at most 2048 characters.", "long_url")
    rows, total = links.query_links(user, limit, offset, long_url or None, match, reach=caller_reach())
    host = domains.choose(runtime(), request.host).hostname
    now = utcnow()
    return jsonify({"offset": offset, "limit": limit, "total": total, "results": [{
        "id": link.id, "short_code": link.slug, "long_url": link.destination, "domain": link.domain or host,
        "group_id": link.folder_id, "is_active": links.is_live(link, now, user.disabled),
        "created_at": _timestamp(link.created_at),
    } for link in rows]})
