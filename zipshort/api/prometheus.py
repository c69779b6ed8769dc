"""GET /metrics: Prometheus's scrape of this server (docs/operations.md#metrics).

Registered always and answering 404 unless ``metrics.enabled``; errors are rendered as the Zipline API's JSON.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from zipshort.auth import client_address, public_route
from zipshort.http import runtime
from zipshort.services import monitoring

bp = Blueprint("prometheus", __name__)


@bp.get("/metrics")
@public_route("metrics.token as a bearer token and/or a client in metrics.allow; 404 unless metrics.enabled")
def metrics():
    g.dialect = "zipline"
    body, content_type = monitoring.scrape(runtime(), request.headers.get("Authorization"), client_address(),
                                           request.headers.get("Accept"))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
