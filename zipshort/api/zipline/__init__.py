"""Zipline's API (v4, with the v3 endpoints old clients still call), mounted under /api."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from zipshort.auth import load_caller
from zipshort.errors import ValidationError

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
