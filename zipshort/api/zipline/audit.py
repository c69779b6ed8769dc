"""The audit log for administrators: ``GET /api/server/audit`` (paged, filtered; services/audit.py)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from zipshort.api.zipline import bp
from zipshort.api.zipline.files import int_arg
from zipshort.api.zipline.schemas import iso
from zipshort.auth import require_user
from zipshort.dates import parse_datetime
from zipshort.models import AuditEntry
from zipshort.services import audit


def entry_json(row: AuditEntry) -> dict[str, Any]:
    """An audit entry as JSON (camelCase, as Zipline's objects)."""
    return {"id": row.id, "at": iso(row.at), "action": row.action, "result": row.result, "reason": row.reason,
            "actor": {"id": row.actor_id, "username": row.actor_name},
            "account": row.account_id,
            "target": {"type": row.target_type, "id": row.target_id, "name": row.target_name},
            "address": row.address, "requestId": row.request_id, "details": row.details or {}}


def query_from_args() -> audit.AuditQuery:
    """The filters and page of a request's query string (also the admin page's)."""
    args = request.args
    return audit.AuditQuery(
        actor=args.get("actor") or None, target=args.get("target") or None, action=args.get("action") or None,
        result=args.get("result") or None, since=parse_datetime(args.get("since") or None, "since"),
        until=parse_datetime(args.get("until") or None, "until"), page=int_arg("page", 1),
        per_page=int_arg("perpage", 50))


@bp.get("/server/audit")
@require_user(admin=True, note="a SUPERADMIN sees every entry, an ADMIN those of the accounts they manage")
def list_audit():
    query = query_from_args()
    rows, total = audit.list_entries(g.user, query)
    return jsonify({"page": [entry_json(r) for r in rows], "total": total,
                    "pages": max(1, -(-total // query.per_page))})
