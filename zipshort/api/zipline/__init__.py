"""Zipline's API (v4, with the v3 endpoints old clients still call), mounted under /api."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from zipshort.auth import client_address, load_caller
from zipshort.errors import RateLimited, ValidationError
from zipshort.http import runtime
from zipshort.models import User
from zipshort.services.creationlimits import GeneralLimit

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
    """Zipline's RATELIMIT_* limit on uploads (see config.example.toml and services/creationlimits.py; link
    creation applies it in services/links.py).

    Raises:
        RateLimited: over ``max`` in ``window``; v3 callers get v3's text and X-Ratelimit-Remaining.
    """
    try:
        GeneralLimit(route, client_address(), request.method).hit(runtime(), user)
    except RateLimited as exc:
        if g.get("dialect") == "zipline-v3":
            raise exc.with_message(f"ratelimited - try again in {exc.retry_after} seconds") from None
        raise


from zipshort.api.zipline import (  # noqa: E402,F401  (routes)
    accounts,
    audit,
    domains,
    files,
    folders,
    health,
    invites,
    metrics,
    stats,
    uploads,
    urls,
    users,
    v3,
    webhooks,
)
