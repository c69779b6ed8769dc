"""The audit log for administrators: ``GET /api/server/audit`` (paged, filtered; services/audit.py)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp
from zipshort.api.zipline.files import int_arg
from zipshort.api.zipline.schemas import iso
from zipshort.auth import require_user
from zipshort.dates import parse_datetime
from zipshort.models import AuditEntry
from zipshort.services import audit


class AuditActor(Open):
    id: str | None
    username: str | None


class AuditTarget(Open):
    type: str | None
    id: str | None
    name: str | None


class AuditEntryJson(Open):
    """``entry_json``."""

    id: str
    at: str | None
    action: str
    result: str
    reason: str | None
    actor: AuditActor
    account: str | None
    target: AuditTarget
    address: str | None
    requestId: str | None
    details: dict[str, Any]


class AuditPage(Open):
    page: list[AuditEntryJson]
    total: int
    pages: int


class AuditQueryArgs(Open):
    actor: str | None = None
    target: str | None = None
    action: str | None = None
    result: str | None = None
    since: str | None = None
    until: str | None = None
    page: int | None = None
    perpage: int | None = None


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
@documented("The audit log, newest first (filters and pages)", query=AuditQueryArgs, responses={200: AuditPage})
@require_user(admin=True, note="a SUPERADMIN sees every entry, an ADMIN those of the accounts they manage")
def list_audit():
    query = query_from_args()
    rows, total = audit.list_entries(g.user, query)
    return jsonify({"page": [entry_json(r) for r in rows], "total": total,
                    "pages": max(1, -(-total // query.per_page))})
