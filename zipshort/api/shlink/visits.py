"""Shlink's visits: the overview, the visits of a short URL, a tag, a domain, every short URL (non-orphan) and of
nobody (orphan), and deleting a short URL's or the orphan visits. services/visitqueries.py decides whose visits a
caller sees (their own links within the key's reach; orphan visits for unrestricted administrators holding the
``admin`` scope, none for anyone else, as Shlink's ``NO_ORPHAN_VISITS``); this module parses and shapes."""

from __future__ import annotations

from typing import Any, Callable

from flask import Response, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.shlink.common import (
    ShlinkDateRangeQuery,
    ShlinkPagination,
    ShlinkVisitsSummary,
    atom,
    default_host,
    find_short_url,
    gather,
    link_domain,
    ok,
    paginate,
    reach,
    shlink_route,
    visits_summary,
)
from zipshort.auth import actor, require_user
from zipshort.geoip import country_name
from zipshort.http import runtime
from zipshort.models import Visit
from zipshort.services import visitqueries
from zipshort.services.visitqueries import Page, Params, Reader, Summary

DEFAULT = "DEFAULT"  # Shlink's name for the default domain
ORPHANS_NOTE = "orphan visits: administrators with the admin scope and an unrestricted key; others see none"


class VisitLocation(Open):
    countryCode: str
    countryName: str
    regionName: str
    cityName: str
    latitude: float
    longitude: float
    timezone: str
    isEmpty: bool


class ShlinkVisit(Open):
    """The Visit object (``visit_json``); ``type`` on orphan visits only."""

    referer: str | None
    date: str
    userAgent: str | None
    visitLocation: VisitLocation | None
    potentialBot: bool
    visitedUrl: str | None
    redirectUrl: str | None
    type: str | None = None


class VisitPage(Open):
    data: list[ShlinkVisit]
    pagination: ShlinkPagination


class VisitsAnswer(Open):
    visits: VisitPage


class VisitsQuery(ShlinkDateRangeQuery):
    excludeBots: bool | None = Field(None, description="by presence, whatever its value")
    domain: str | None = None


class OrphanVisitsQuery(VisitsQuery):
    type: str | None = Field(None, description="base_url, invalid_short_url or regular_404")


class VisitsOverview(Open):
    nonOrphanVisits: ShlinkVisitsSummary
    orphanVisits: ShlinkVisitsSummary


class VisitsOverviewAnswer(Open):
    visits: VisitsOverview


class DeletedVisits(Open):
    deletedVisits: int


def _reader() -> Reader:
    return visitqueries.reader(actor(), reach())


def _params(orphan: bool = False) -> tuple[Params, str | None]:
    """The list parameters, and the orphan ``type`` when ``orphan``; every invalid one named at once."""
    args = request.args
    page, size, start, end = (args.get(n) for n in ("page", "itemsPerPage", "startDate", "endDate"))
    checks: dict[str, Callable[[], Any]] = {
        "page": lambda: visitqueries.parse_params(page=page),
        "itemsPerPage": lambda: visitqueries.parse_params(items_per_page=size),
        "startDate": lambda: visitqueries.parse_params(start_date=start),
        "endDate": lambda: visitqueries.parse_params(end_date=end)}
    if orphan:
        checks["type"] = lambda: visitqueries.parse_orphan_type(args.get("type"))
    kind = gather(checks).get("type")
    # excludeBots works by presence, whatever its value (reference §7.1)
    return visitqueries.parse_params(page=page, items_per_page=size, start_date=start, end_date=end,
                                     exclude_bots="excludeBots" in args), kind


def _domain(value: str | None) -> str | None:
    """A ``domain`` filter as a ``links.domain`` (None: no filter; ``DEFAULT`` or a platform host: ``''``)."""
    if value is None or value == "":
        return None
    return "" if value == DEFAULT else link_domain(value)


def _location(visit: Visit) -> dict[str, Any] | None:
    """Shlink's visitLocation: unknown texts are ``""`` and unknown coordinates 0, as Shlink stores them; null
    without a country."""
    if not visit.country:
        return None
    return {"countryCode": visit.country, "countryName": country_name(visit.country) or "",
            "regionName": visit.region or "", "cityName": visit.city or "",
            "latitude": visit.latitude if visit.latitude is not None else 0.0,
            "longitude": visit.longitude if visit.longitude is not None else 0.0,
            "timezone": visit.timezone or "", "isEmpty": False}


def visit_json(visit: Visit) -> dict[str, Any]:
    """Shlink's Visit object, keys in Shlink's order; ``type`` on orphan visits only; never the address."""
    shaped: dict[str, Any] = {
        "referer": visit.referrer, "date": atom(visit.at), "userAgent": visit.user_agent,
        "visitLocation": _location(visit), "potentialBot": visit.bot, "visitedUrl": visit.url,
        "redirectUrl": visit.destination,
    }
    if visit.orphan_type is not None:
        shaped["type"] = visit.orphan_type
    return shaped


def _page(page: Page) -> Response:
    return ok({"visits": {"data": [visit_json(v) for v in page.visits],
                          "pagination": paginate(page.total, page.page, page.per_page, len(page.visits))}})


def _summary(counted: Summary) -> dict[str, int]:
    return visits_summary(counted.total, counted.bots)


@shlink_route("/visits", ["GET"])
@documented("Visits overview", responses={200: VisitsOverviewAnswer})
@require_user("stats:read", note=ORPHANS_NOTE)
def visits_overview() -> Response:
    linked, orphaned = visitqueries.overview(_reader())
    return ok({"visits": {"nonOrphanVisits": _summary(linked), "orphanVisits": _summary(orphaned)}})


@shlink_route("/short-urls/<code>/visits", ["GET"])
@documented("A short URL's visits", query=VisitsQuery, responses={200: VisitsAnswer})
@require_user("stats:read")
def short_url_visits(code: str) -> Response:
    params, _ = _params()
    return _page(visitqueries.link_visits(find_short_url(code), params))


@shlink_route("/tags/<tag>/visits", ["GET"])
@documented("A tag's visits", query=VisitsQuery, responses={200: VisitsAnswer})
@require_user("stats:read")
def tag_visits(tag: str) -> Response:
    params, _ = _params()
    return _page(visitqueries.tag_visits(_reader(), tag, _domain(request.args.get("domain")), params))


@shlink_route("/domains/<domain>/visits", ["GET"])
@documented("A domain's visits", query=VisitsQuery, responses={200: VisitsAnswer})
@require_user("stats:read")
def domain_visits(domain: str) -> Response:
    params, _ = _params()
    key = "" if domain == DEFAULT else link_domain(domain)
    return _page(visitqueries.domain_visits(_reader(), domain, key, params))


@shlink_route("/visits/non-orphan", ["GET"])
@documented("Every short URL's visits", query=VisitsQuery, responses={200: VisitsAnswer})
@require_user("stats:read")
def non_orphan_visits() -> Response:
    params, _ = _params()
    return _page(visitqueries.non_orphan_visits(_reader(), _domain(request.args.get("domain")), params))


@shlink_route("/visits/orphan", ["GET"])
@documented("Orphan visits", query=OrphanVisitsQuery, responses={200: VisitsAnswer})
@require_user("stats:read", note=ORPHANS_NOTE)
def orphan_visits() -> Response:
    params, kind = _params(orphan=True)
    domain = request.args.get("domain") or ""
    # a substring of the visited URL; DEFAULT: any of the default domain's names (Shlink: DEFAULT_DOMAIN)
    holds = (runtime().settings.allowed_domains or (default_host(),)) if domain == DEFAULT else (
        (domain,) if domain else ())
    return _page(visitqueries.orphan_visits(_reader(), kind, holds, params))


@shlink_route("/short-urls/<code>/visits", ["DELETE"])
@documented("Delete a short URL's visits", responses={200: DeletedVisits})
@require_user("links:write")
def delete_short_url_visits(code: str) -> Response:
    return ok({"deletedVisits": visitqueries.delete_link_visits(_reader(), find_short_url(code))})


@shlink_route("/visits/orphan", ["DELETE"])
@documented("Delete the orphan visits", responses={200: DeletedVisits})
@require_user("links:write", note="deletes for administrators with the admin scope and an unrestricted key; "
                                  "others delete none (0)")
def delete_orphan_visits() -> Response:
    return ok({"deletedVisits": visitqueries.delete_orphan_visits(_reader())})

