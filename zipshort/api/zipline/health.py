"""GET /api/healthcheck: a database round trip."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import text

from zipshort.api.zipline import bp
from zipshort.auth import public_route
from zipshort.extensions import db


@bp.get("/healthcheck")
@public_route("health check")
def healthcheck():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # any database failure means unhealthy
        db.session.rollback()
        return jsonify({"pass": False}), 503
    return jsonify({"pass": True})
