"""Shlink's health check (``/rest/health`` and ``/rest/v1|v2|v3/health``, no key) and Mercure, which zipshort
does not run (501 ``mercure-not-configured``, as Shlink answers without a hub)."""

from __future__ import annotations

from flask import Response, jsonify

from zipshort.api.contract import Open, documented
from zipshort.api.shlink.common import bp, problem, shlink_route
from zipshort.auth import public_route, require_user
from zipshort.database import reachable
from zipshort.extensions import db
from zipshort.http import runtime

LINKS = {"about": "https://shlink.io", "project": "https://github.com/shlinkio/shlink"}


class Health(Open):
    status: str
    version: str
    links: dict[str, str]


@bp.get("/health")
@documented("Health check", responses={200: Health}, content_types={200: "application/health+json"})
@shlink_route("/health", ["GET"])
@public_route("health check: a database round trip; a key, if sent, is ignored")
def health() -> Response:
    up = reachable(db.session)
    response = jsonify({"status": "pass" if up else "fail", "version": runtime().settings.shlink.reported_version,
                        "links": LINKS})
    response.status_code = 200 if up else 503
    response.mimetype = "application/health+json"
    return response


@shlink_route("/mercure-info", ["GET"])
@documented("Mercure (not run: always 501)", responses={}, errors=(501,))
@require_user("links:read")
def mercure_info() -> Response:
    raise problem(501, "mercure_not_configured", "This Shlink instance is not integrated with a mercure hub.")
