"""Zipline v3's POST /api/shorten, with its headers, body and error texts."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.api.zipline import bp
from zipshort.api.zipline.schemas import parse_max_views, pick_domain
from zipshort.auth import caller_reach, check_caller, client_address, declares
from zipshort.errors import Forbidden, RateLimited, Unauthorized, ValidationError, VanityTaken
from zipshort.http import runtime
from zipshort.services import links
from zipshort.services.creationlimits import GeneralLimit
from zipshort.urls import link_url, public_url


def _v3_caller():
    if request.headers.get("Authorization") is None and request.headers.get("x-api-key") is None:
        raise Forbidden("no authorization", code="no_authorization")
    if g.user is None:
        raise Unauthorized("authorization incorect", code="invalid_token")
    return check_caller("links:write")


class ShortenV3(Open):
    """Headers: ``Max-Views``, ``Override-Domain``, ``Zws``, ``No-JSON``."""

    url: WebUrl
    vanity: str | None = None


class ShortenedV3(Open):
    url: str


@bp.post("/shorten")
@documented("Shorten a URL (Zipline v3)", body=ShortenV3, responses={200: ShortenedV3}, also=("text/plain",))
@declares("links:write", note="v3 error texts")
def shorten():
    g.dialect = "zipline-v3"
    user = _v3_caller()
    rt = runtime()
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict) or not body:
        raise ValidationError("no body", code="invalid_body")
    url = body.get("url")
    if not url or not isinstance(url, str):
        raise ValidationError("no url", code="invalid_url")
    vanity = body.get("vanity")
    if vanity is not None and not isinstance(vanity, str):
        raise ValidationError("vanity must be a string", code="invalid_vanity")
    if isinstance(vanity, str) and vanity and not vanity.strip():
        raise ValidationError("vanity is empty", code="invalid_vanity")
    max_views = parse_max_views(request.headers.get("Max-Views"), "invalid max views (invalid number)",
                                "invalid max views (max views < 0)")
    host = pick_domain(rt.settings, request.headers.get("Override-Domain"), request.host)
    spec = links.NewLink(destination=url, vanity=vanity or None, max_views=max_views,
                         invisible="Zws" in request.headers)
    try:
        link = links.create_link(rt, user, spec, host=request.host,
                                 limit=GeneralLimit("urls", client_address(), request.method), reach=caller_reach(),
                                 origin=public_url(rt.settings, "", host))
    except RateLimited as exc:
        raise exc.with_message(f"ratelimited - try again in {exc.retry_after} seconds") from None
    except VanityTaken as exc:
        raise exc.with_message("vanity already exists", 400) from None
    except ValidationError as exc:  # v3 calls the destination "url"
        raise exc.with_message(exc.message.replace("Destination", "url")) from None
    short = link_url(rt.settings, link, link.domain or host)
    if "No-JSON" in request.headers:
        return Response(short, mimetype="text/plain")
    return jsonify({"url": short})
