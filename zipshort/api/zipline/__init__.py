"""Zipline's API (v4, with the v3 endpoints old clients still call), mounted under /api."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from zipshort.auth import client_address, load_caller
from zipshort.errors import RateLimited, ValidationError
from zipshort.http import runtime
from zipshort.models import User

bp = Blueprint("zipline", __name__, url_prefix="/api")
bp.before_request(load_caller)


def json_body(required: bool = True) -> dict[str, Any]:
    """The request's JSON object body.

    Raises:
        ValidationError: not JSON, or not an object.
    """
    if not request.get_data(cache=True):
        if required:
            raise ValidationError("Request body must be a JSON object", code="invalid_body")
        return {}
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object", code="invalid_body")
    return data


def creation_limit(user: User | None, route: str) -> None:
    """Zipline's RATELIMIT_* limit on uploads and link creation (see config.example.toml).

    Raises:
        RateLimited: over ``max`` in ``window``; v3 callers get v3's text and X-Ratelimit-Remaining.
    """
    settings = runtime().settings.ratelimit
    if not settings.enabled or (user is not None and settings.admin_bypass and user.is_administrator):
        return
    address = client_address()
    if address in settings.allow_list:
        return
    try:
        runtime().limiter.hit(f"{max(1, settings.max)}/{max(1, settings.window)} second", "creation",
                              user.id if user is not None else address, route, request.method)
    except RateLimited as exc:
        if g.get("dialect") == "zipline-v3":
            raise RateLimited(f"ratelimited - try again in {exc.retry_after} seconds",
                              retry_after=exc.retry_after) from None
        raise RateLimited(f"Rate limit exceeded, retry in {exc.retry_after} seconds",
                          retry_after=exc.retry_after) from None


from zipshort.api.zipline import (  # noqa: E402,F401  (routes)
    accounts,
    domains,
    files,
    folders,
    health,
    invites,
    uploads,
    urls,
    users,
    v3,
)
