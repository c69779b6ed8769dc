"""The audit log page for administrators (``/dashboard/admin/audit``): filters and pages over services/audit.py."""

from __future__ import annotations

from flask import g, render_template, request

from zipshort.dates import parse_datetime
from zipshort.errors import ValidationError
from zipshort.inputs import whole_number
from zipshort.services import audit
from zipshort.web import bp
from zipshort.web.common import page

PER_PAGE = 50


def _query() -> audit.AuditQuery:
    args = request.args
    number = whole_number(args.get("page", "1"))
    if number is None:
        raise ValidationError("page must be a positive integer", field="page")
    return audit.AuditQuery(
        actor=args.get("actor") or None, target=args.get("target") or None, action=args.get("action") or None,
        result=args.get("result") or None, since=parse_datetime(args.get("since") or None, "since"),
        until=parse_datetime(args.get("until") or None, "until"), page=number, per_page=PER_PAGE)


@bp.get("/dashboard/admin/audit")
@page(admin=True)
def admin_audit():
    query = _query()
    rows, total = audit.list_entries(g.user, query)
    params = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin_audit.html", rows=rows, total=total, page=query.page,
                           pages=max(1, -(-total // PER_PAGE)), params=params, actions=audit.ACTIONS,
                           results=audit.RESULTS)
