"""GET /api/healthcheck: a database round trip."""

from __future__ import annotations

from flask import jsonify

from zipshort.api.zipline import bp
from zipshort.auth import public_route
from zipshort.database import reachable
from zipshort.extensions import db


@bp.get("/healthcheck")
@public_route("health check")
def healthcheck():
    if not reachable(db.session):
        return jsonify({"pass": False}), 503
    return jsonify({"pass": True})
