"""Zipline v4 URL API: /api/user/urls (create, list, get, edit, delete) and the password check."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import (
    UrlCreate,
    UrlEdit,
    UrlId,
    UrlSearch,
    ZiplineUrl,
    parse_max_views,
    pick_domain,
    url_json,
)
from zipshort.auth import caller_reach, client_address, public_route, require_user
from zipshort.dates import parse_datetime
from zipshort.errors import Forbidden, NotFound, ValidationError, VanityTaken
from zipshort.http import runtime
from zipshort.services import links, redirects
from zipshort.services.creationlimits import GeneralLimit
from zipshort.urls import link_url, public_url


class Password(Open):
    password: str


class Success(Open):
    success: bool


def _string_or_none(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string", field=key)
    return value


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be a boolean", field=key)
    return value


# zipshort's fields beyond Zipline's (the same ones h0p and hoko set), camel-cased like the rest.
_EXTRA_KEYS = {"title": "title", "description": "description", "image": "image", "tags": "tags", "utm": "utm",
               "rules": "rules", "qrOptions": "qr_options"}
NAMES = links.FieldNames(qr_options="qrOptions")


def _extras(body: dict[str, Any]) -> dict[str, Any]:
    """zipshort's link fields beyond Zipline's, for the service to validate. Keys left out are left alone on an
    edit; null clears."""
    out: dict[str, Any] = {attr: body[key] for key, attr in _EXTRA_KEYS.items() if key in body}
    if "folderId" in body:
        out["folder_id"] = _string_or_none(body, "folderId")
    for key, attr in (("cloaking", "cloaking"), ("deepLinking", "deep_linking"), ("forwardQuery", "forward_query"),
                      ("crawlable", "crawlable")):
        if key in body:
            out[attr] = _bool(body, key, False)
    if "validSince" in body:  # null: live from creation
        out["valid_since"] = parse_datetime(body["validSince"], "validSince")
    return out


def _host_for(link) -> str:
    return link.domain or runtime().settings.core.default_domain or request.host


@bp.post("/user/urls")
@documented("Shorten a URL", body=UrlCreate, responses={200: ZiplineUrl}, also=("text/plain",))
@require_user(scope="links:write")
def create_url():
    rt = runtime()
    body = json_body(required=False)
    max_views = parse_max_views(request.headers.get("x-zipline-max-views"), "Max views must be a number",
                                "Max views must be greater than 0")
    destination = body.get("destination")
    if destination is None or destination == "":
        raise ValidationError("Destination is required", code="invalid_url", field="destination")
    spec = links.NewLink(
        destination=destination,
        vanity=_string_or_none(body, "vanity"),
        enabled=_bool(body, "enabled", True),
        max_views=max_views,
        password=request.headers.get("x-zipline-password") or None,
        expires_at=parse_datetime(body.get("expiresAt"), "expiresAt"),
        domain=(_string_or_none(body, "domain") or "").lower(),
        **_extras(body),
    )
    asked_host = None if spec.domain else pick_domain(rt.settings, request.headers.get("x-zipline-domain"),
                                                      request.host)
    origin = public_url(rt.settings, "", asked_host or pick_domain(rt.settings, None, request.host))
    try:
        link = links.create_link(rt, g.user, spec, host=request.host, names=NAMES,
                                 limit=GeneralLimit("urls", client_address(), request.method), reach=caller_reach(),
                                 origin=origin)
    except VanityTaken as exc:
        raise exc.with_message("Vanity already taken", 400) from None
    host = link.domain or asked_host or pick_domain(rt.settings, None, request.host)  # a domain key moves it
    url = link_url(rt.settings, link, host)
    if "x-zipline-no-json" in request.headers:
        return Response(url, mimetype="text/plain")
    return jsonify(url_json(link, url))


@bp.get("/user/urls")
@documented("List your URLs", query=UrlSearch, responses={200: list[ZiplineUrl]})
@require_user(scope="links:read")
def list_urls():
    field = request.args.get("searchField")
    query = request.args.get("searchQuery")
    result = links.list_links(g.user, field if (field or query) else None, query, reach=caller_reach())
    settings = runtime().settings
    return jsonify([url_json(link, link_url(settings, link, _host_for(link))) for link in result])


@bp.delete("/user/urls")
@documented("Delete a URL (v3 style: the id in the body)", body=UrlId, responses={200: ZiplineUrl})
@require_user(scope="links:write")
def delete_url_v3():
    """v3 style: the id in the body."""
    link_id = json_body().get("id")
    if not isinstance(link_id, str):
        raise ValidationError("id is required", field="id")
    return delete_url(link_id)


@bp.get("/user/urls/<link_id>")
@documented("Get a URL", responses={200: ZiplineUrl})
@require_user(scope="links:read")
def get_url(link_id: str):
    link = links.get_owned_link(g.user, link_id, reach=caller_reach())
    return jsonify(url_json(link, link_url(runtime().settings, link, _host_for(link))))


def _changes(body: dict[str, Any]) -> links.LinkChanges:
    values: dict[str, Any] = {}
    if "destination" in body:
        values["destination"] = body["destination"]
    if "vanity" in body:
        values["vanity"] = _string_or_none(body, "vanity")
    if "enabled" in body:
        values["enabled"] = _bool(body, "enabled", True)
    if "maxViews" in body:
        max_views = body["maxViews"]
        if max_views is not None and (isinstance(max_views, bool) or not isinstance(max_views, int)):
            raise ValidationError("maxViews must be a number", code="invalid_max_views", field="maxViews")
        if max_views is not None and max_views < 0:
            raise ValidationError("maxViews must be >= 0", code="invalid_max_views", field="maxViews")
        values["max_views"] = max_views
    if "password" in body:
        password = body["password"]
        if password is not None and not isinstance(password, str):
            raise ValidationError("password must be a string", field="password")
        values["password"] = password or None
    if "expiresAt" in body:
        values["expires_at"] = parse_datetime(body["expiresAt"], "expiresAt")
    return links.LinkChanges(**values, **_extras(body))


@bp.patch("/user/urls/<link_id>")
@documented("Edit a URL", body=UrlEdit, responses={200: ZiplineUrl})
@require_user(scope="links:write")
def update_url(link_id: str):
    changes = _changes(json_body())
    try:
        link = links.update_link(runtime(), g.user, link_id, changes, host=request.host, names=NAMES,
                                 reach=caller_reach())
    except VanityTaken as exc:
        raise exc.with_message("vanity already exists", 400) from None
    return jsonify(url_json(link, link_url(runtime().settings, link, _host_for(link))))


@bp.delete("/user/urls/<link_id>")
@documented("Delete a URL", responses={200: ZiplineUrl})
@require_user(scope="links:write")
def delete_url(link_id: str):
    link = links.delete_link(runtime(), g.user, link_id, reach=caller_reach())
    return jsonify(url_json(link, link_url(runtime().settings, link, _host_for(link))))


@bp.post("/user/urls/<ident>/password")
@documented("Check a URL's password", body=Password, responses={200: Success})
@public_route("checks a link's password; rate limited per address")
def check_url_password(ident: str):
    """Zipline's password check (id, code or vanity). No cookie is set: zipshort never stores passwords there."""
    body = json_body()
    try:
        link = redirects.find_protected_link(ident)
    except NotFound:
        raise NotFound("URL not found", code="url_not_found") from None
    assert link.password_hash is not None  # find_protected_link returns only links with a password
    try:
        redirects.check_password(runtime(), link.id, link.password_hash, body.get("password"), client_address())
    except Forbidden as exc:
        raise exc.with_message("Incorrect password") from None
    return jsonify({"success": True})
