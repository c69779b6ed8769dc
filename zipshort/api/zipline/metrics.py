"""GET /api/stats: Zipline's instance metrics, the snapshots taken every features.metrics_interval_seconds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp
from zipshort.api.zipline.schemas import iso
from zipshort.auth import actor, require_user
from zipshort.dates import parse_datetime
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.models import utcnow
from zipshort.services import metrics


def _date(name: str) -> dt.datetime | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value, name)
    except ValidationError:
        raise ValidationError(f"{name}: Invalid date", code="invalid_date", field=name) from None


def _flag(name: str) -> bool:
    value = request.args.get(name, "false")
    if value not in ("true", "false"):
        raise ValidationError(f"{name}: must be true or false", code="invalid_query", field=name)
    return value == "true"


class MetricSnapshot(Open):
    """``snapshot_json``: Zipline's MetricData in ``data``."""

    id: str
    createdAt: str | None
    data: dict[str, Any]


class SnapshotQuery(Open):
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    all: str | None = Field(None, description="true: every snapshot")


def snapshot_json(item: metrics.Snapshot) -> dict[str, Any]:
    """Zipline v4's Metric object."""
    return {"id": item.id, "createdAt": iso(item.created_at), "updatedAt": iso(item.updated_at), "data": item.data}


@bp.get("/stats")
@documented("Instance metrics snapshots", query=SnapshotQuery, responses={200: list[MetricSnapshot]})
@require_user("stats:read", note="403 when features.metrics_enabled is off; under features.metrics_admin_only, "
                                 "administrators with the admin scope only")
def instance_stats():
    now = utcnow()
    start, end = _date("from"), _date("to")
    if _flag("all"):
        start = end = None
    else:
        start = start or now - metrics.DEFAULT_WINDOW
        end = end or now
    found = metrics.snapshots(runtime(), actor(), start, end, now=now)
    return jsonify([snapshot_json(item) for item in found])
