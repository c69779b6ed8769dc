"""Shlink's tags: the names, their stats, rename and delete (never for a key limited to its own links or one
domain: 403 ``forbidden-tag-operation``)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.shlink.common import (
    ShlinkPageQuery,
    ShlinkPagination,
    ShlinkVisitsSummary,
    body,
    caller,
    invalid,
    ok,
    page_params,
    paginate,
    problem,
    query_list,
    reach,
    shlink_route,
    visits_summary,
)
from zipshort.auth import require_user
from zipshort.errors import Conflict, NotFound, ValidationError
from zipshort.services import tags

STATS_ORDER = ("tag", "shortUrlsCount", "visits", "nonBotVisits")


class TagsQuery(ShlinkPageQuery):
    searchTerm: str | None = None
    orderBy: str | None = Field(None, description="tag, shortUrlsCount, visits or nonBotVisits, -ASC or -DESC")


class TagNames(Open):
    data: list[str]
    pagination: ShlinkPagination


class TagNamesAnswer(Open):
    tags: TagNames


class TagStat(Open):
    tag: str
    shortUrlsCount: int
    visitsSummary: ShlinkVisitsSummary


class TagStatsPage(Open):
    data: list[TagStat]
    pagination: ShlinkPagination


class TagStatsAnswer(Open):
    tags: TagStatsPage


class TagRename(Open):
    oldName: str
    newName: str


class TagsToDelete(Open):
    tags: list[str] | None = Field(None, alias="tags[]")


def _stats() -> tuple[list[tags.TagStats], int, int | None]:
    """The caller's tags within reach, searched, ordered and paged by the query; and the page asked for."""
    page, per_page = page_params(None)
    rows = tags.tag_stats(caller(), reach())
    term = (request.args.get("searchTerm") or "").lower()
    if term:
        rows = [row for row in rows if term in row.name.lower()]
    field, _, direction = (request.args.get("orderBy") or "tag").partition("-")
    field = field if field in STATS_ORDER else "tag"
    descending = direction.upper() == "DESC"
    rows.sort(key=lambda row: row.name)  # ties by name ascending
    if field != "tag" or descending:
        rows.sort(key=lambda row: _sort_key(row, field), reverse=descending)
    return rows, page, per_page


def _sort_key(row: tags.TagStats, field: str) -> Any:
    return {"tag": row.name, "shortUrlsCount": row.links, "visits": row.visits,
            "nonBotVisits": row.visits - row.bots}[field]


def _page(rows: list[Any], page: int, per_page: int | None) -> list[Any]:
    return rows if per_page is None else rows[(page - 1) * per_page:page * per_page]


@shlink_route("/tags", ["GET"])
@documented("List tags", query=TagsQuery, responses={200: TagNamesAnswer})
@require_user("links:read")
def list_tags() -> Response:
    rows, page, per_page = _stats()
    shown = _page(rows, page, per_page)
    return ok({"tags": {"data": [row.name for row in shown],
                        "pagination": paginate(len(rows), page, per_page, len(shown))}})


@shlink_route("/tags/stats", ["GET"])
@documented("Tags with their stats", query=TagsQuery, responses={200: TagStatsAnswer})
@require_user("links:read")
def tag_stats() -> Response:
    rows, page, per_page = _stats()
    shown = _page(rows, page, per_page)
    return ok({"tags": {"data": [{"tag": row.name, "shortUrlsCount": row.links,
                                  "visitsSummary": visits_summary(row.visits, row.bots)} for row in shown],
                        "pagination": paginate(len(rows), page, per_page, len(shown))}})


def _unrestricted(verb: str) -> None:
    if reach().restricted:
        raise problem(403, "forbidden_tag_operation", f"You are not allowed to {verb} tags")


@shlink_route("/tags", ["PUT"])
@documented("Rename a tag", body=TagRename, responses={204: None})
@require_user("links:write")
def rename_tag() -> Response:
    data = body()
    old, new = data.get("oldName"), data.get("newName")
    if not isinstance(old, str) or not isinstance(new, str):
        raise invalid(["oldName", "newName"])
    _unrestricted("rename")
    try:
        tags.rename_tag(caller(), old, new)
    except ValidationError:
        raise invalid("newName") from None
    except NotFound:
        raise problem(404, "tag_not_found", f'Tag with name "{old}" could not be found', tag=old) from None
    except Conflict:
        raise problem(409, "tag_conflict", f"You cannot rename tag {old} to {new}, because it already exists",
                      oldName=old, newName=new) from None
    return Response(status=204)


@shlink_route("/tags", ["DELETE"])
@documented("Delete tags", query=TagsToDelete, responses={204: None})
@require_user("links:write")
def delete_tags() -> Response:
    _unrestricted("delete")
    tags.delete_tags_named(caller(), query_list("tags"))
    return Response(status=204)
