"""GET /api/healthcheck: a database round trip."""

from __future__ import annotations

from flask import jsonify
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp
from zipshort.auth import public_route
from zipshort.database import reachable
from zipshort.extensions import db


class Pass(Open):
    """``{"pass": true}``, or false with 503 when the database does not answer."""

    pass_: bool = Field(alias="pass")


@bp.get("/healthcheck")
@documented("Health check", responses={200: Pass, 503: Pass})
@public_route("health check")
def healthcheck():
    if not reachable(db.session):
        return jsonify({"pass": False}), 503
    return jsonify({"pass": True})
