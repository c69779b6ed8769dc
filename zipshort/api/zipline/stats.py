"""Visit analytics for Zipline callers: stats of a link, a file, a user, the server; raw visits, CSV, forgetting.

The services (services/visitstats.py, services/visitlog.py) decide; this module parses the query string and
shapes the answer. See docs/analytics.md ("Reading it").
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request, stream_with_context
from pydantic import ConfigDict, Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp
from zipshort.auth import caller_reach, require_user
from zipshort.services import visitlog, visitstats


class Counted(Open):
    value: str | None
    count: int


class Bucket(Open):
    start: str
    count: int
    unique: int


class VisitStats(Open):
    """``visitstats.stats``: the range, totals, every bucket and the top lists (docs/analytics.md)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    interval: str
    tz: str
    total: int
    unique: int
    bots: int
    series: list[Bucket]


class StatsQuery(Open):
    from_: str | None = Field(None, alias="from", description="ISO date or time, or a duration like 7d")
    to: str | None = None
    interval: str | None = Field(None, description="hour, day, week or month")
    bots: str | None = Field(None, description="include, exclude or only")
    tz: str | None = Field(None, description="an IANA time zone")


class VisitsQuery(Open):
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    bots: str | None = None
    tz: str | None = None
    page: int | None = None
    perpage: int | None = None
    format: str | None = Field(None, description="csv for every visit as CSV")


class VisitRows(Open):
    page: int
    perpage: int
    total: int
    visits: list[dict[str, Any]]


class Deleted(Open):
    deleted: int


def _query() -> visitstats.StatsQuery:
    args = request.args
    return visitstats.parse_query(start=args.get("from"), end=args.get("to"), interval=args.get("interval"),
                                  bots=args.get("bots"), tz=args.get("tz"))


@bp.get("/user/urls/<link_id>/stats")
@documented("A URL's visit stats", query=StatsQuery, responses={200: VisitStats})
@require_user(scope="stats:read")
def url_stats(link_id: str):
    return jsonify(visitstats.link_stats(g.user, link_id, _query(), caller_reach()))


@bp.get("/user/files/<ident>/stats")
@documented("A file's visit stats", query=StatsQuery, responses={200: VisitStats})
@require_user(scope="stats:read")
def file_stats(ident: str):
    return jsonify(visitstats.file_stats(g.user, ident, _query()))


@bp.get("/user/stats/visits")
@documented("Visit stats of all your links and files", query=StatsQuery, responses={200: VisitStats})
@require_user(scope="stats:read")
def user_visit_stats():
    return jsonify(visitstats.user_stats(g.user, _query()))


@bp.get("/server/stats/visits")
@documented("The server's visit stats (with orphan visits)", query=StatsQuery, responses={200: VisitStats})
@require_user(scope="stats:read", admin=True)
def server_visit_stats():
    return jsonify(visitstats.server_stats(_query()))


def _wants_csv() -> bool:
    if request.args.get("format", "").lower() == "csv":
        return True
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/csv"]) == "text/csv" and accept["text/csv"] > 0


def _visits(kind: str, ident: str):
    args = request.args
    base = visitlog.parse_filter(start=args.get("from"), end=args.get("to"), bots=args.get("bots"),
                                 tz=args.get("tz"))
    page, per_page = (1, 1) if _wants_csv() else visitlog.parse_page(args.get("page"), args.get("perpage"))
    which = visitlog.target_filter(g.user, kind, ident, base, caller_reach())
    if _wants_csv():
        target = which.link_id or which.file_id
        return Response(stream_with_context(visitlog.csv_lines(which)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="visits-{kind}-{target}.csv"',
                                 "Cache-Control": "no-store"})
    rows, total = visitlog.page_visits(which, page, per_page)
    return jsonify({"page": page, "perpage": per_page, "total": total, "visits": rows})


@bp.get("/user/urls/<link_id>/visits")
@documented("A URL's raw visits (JSON pages or CSV)", query=VisitsQuery, responses={200: VisitRows},
            also=("text/csv",))
@require_user(scope="stats:read")
def url_visits(link_id: str):
    return _visits("link", link_id)


@bp.get("/user/files/<ident>/visits")
@documented("A file's raw visits (JSON pages or CSV)", query=VisitsQuery, responses={200: VisitRows},
            also=("text/csv",))
@require_user(scope="stats:read")
def file_visits(ident: str):
    return _visits("file", ident)


@bp.delete("/user/urls/<link_id>/visits")
@documented("Forget a URL's visits", responses={200: Deleted})
@require_user(scope="links:write")
def forget_url_visits(link_id: str):
    return jsonify({"deleted": visitlog.forget_visits(g.user, "link", link_id, caller_reach())})


@bp.delete("/user/files/<ident>/visits")
@documented("Forget a file's visits", responses={200: Deleted})
@require_user(scope="files:write")
def forget_file_visits(ident: str):
    return jsonify({"deleted": visitlog.forget_visits(g.user, "file", ident)})
