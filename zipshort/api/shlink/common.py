"""What every module of the Shlink dialect shares: the blueprint and its route decorator, the caller and its
reach, request parsing (JSON bodies whatever the Content-Type, bracketed query arrays, booleans, dates),
Shlink's problem errors, the pagination object, the ShortUrl object and the lookup of a short code.

Routes answer under ``/rest/v1``, ``/rest/v2`` and ``/rest/v3`` alike (Shlink runs the same handlers for all
three since 4.0): declare a view with :func:`shlink_route` on top of its ``require_user``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, Mapping

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open
from zipshort.auth import caller_reach, load_caller, load_key
from zipshort.dates import bounded
from zipshort.errors import NotFound, ValidationError, ZipshortError
from zipshort.http import runtime
from zipshort.inputs import check_storable, loads, whole_number
from zipshort.models import Link, User
from zipshort.services import linksearch
from zipshort.services.reach import Reach
from zipshort.urls import link_url

bp = Blueprint("shlink", __name__, url_prefix="/rest")
VERSIONS = ("v1", "v2", "v3")
UTC = dt.timezone.utc
CORS_METHODS = "GET,POST,PUT,PATCH,DELETE"
# Routes that find their caller themselves: the shortener reads ?apiKey=, health reads no key at all.
OWN_KEY_ENDPOINTS = ("shlink.shorten", "shlink.health")


def shlink_route(rule: str, methods: Iterable[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route ``rule`` (e.g. ``/short-urls``) under every API version; put it above the view's declaration."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        for version in VERSIONS:
            bp.add_url_rule(f"/{version}{rule}", endpoint=view.__name__, view_func=view, methods=list(methods))
        return view

    return decorator


@bp.before_request
def _before() -> Response | None:
    g.dialect = "shlink"
    if request.method == "OPTIONS":  # a preflight never needs a key (§1)
        response = Response(status=204)
        adapter = current_app.url_map.bind_to_environ(request.environ)
        allowed = sorted(set(adapter.allowed_methods()) - {"HEAD", "OPTIONS"})  # every rule of the path
        response.headers["Allow"] = ",".join(allowed) or CORS_METHODS
        if request.headers.get("Origin"):
            response.headers["Access-Control-Allow-Methods"] = ",".join(allowed) or CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "")
            response.headers["Access-Control-Max-Age"] = str(runtime().settings.shlink.cors_max_age)
        return response
    if request.endpoint not in OWN_KEY_ENDPOINTS:
        if any(request.headers.get(name, "x").strip() == "" for name in ("X-Api-Key", "Authorization")):
            load_key(None)  # an empty key header is a missing key (missing-authentication), as in Shlink
        else:
            load_caller()
        if g.api_key is None:
            g.user = None  # Shlink's callers are keys; a browser session is not one

    return None


@bp.after_request
def _cors(response: Response) -> Response:
    """CORS headers for a request with an ``Origin`` (``[shlink] cors_allow_origin``)."""
    origin = request.headers.get("Origin")
    if origin:
        allowed = runtime().settings.shlink.cors_allow_origin
        if "*" in allowed:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif "<origin>" in allowed or origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.vary.add("Origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- the caller ------------------------------------------------------------------------------------------

def caller() -> User:
    """The user behind the key (the route's ``require_user`` has checked it)."""
    user: User = g.user
    return user


def reach() -> Reach:
    """What the caller's key reaches among the user's links (Shlink's key roles; the same for every dialect)."""
    return caller_reach()


# --- errors ----------------------------------------------------------------------------------------------

def invalid(field: str | Iterable[str], message: str = "Provided data is not valid") -> ValidationError:
    """Shlink's 400 ``invalid-data`` naming the offending fields in ``invalidElements``."""
    fields = [field] if isinstance(field, str) else list(field)
    return ValidationError(message, code="invalid_data", field=fields[0] if fields else None,
                           extra={"invalidElements": fields})


def gather(checks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run every check (name → parser of one field) and return the parsed values; when some fail, one
    invalid-data naming every failing field (a check may name another field than its own).

    Raises:
        ValidationError: invalid-data with all the failing fields in ``invalidElements``.
    """
    values: dict[str, Any] = {}
    failed: list[str] = []
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            named = exc.extra.get("invalidElements") or [exc.field or name]
            failed += [field for field in named if field not in failed]
    if failed:
        raise invalid(failed)
    return values


def renamed(error: ValidationError, names: Mapping[str, str], default: str) -> ValidationError:
    """A door's validation error with the field as Shlink names it (``names``: zipshort's name → Shlink's)."""
    field = names.get(error.field or "", error.field or default)
    return invalid(field, error.message)


def problem(status: int, code: str, detail: str, **extra: Any) -> ZipshortError:
    """Any other Shlink problem (the type comes from ``code``, see errorhandlers)."""
    return ZipshortError(detail, code=code, status=status, extra=extra)


# --- parsing ---------------------------------------------------------------------------------------------

def body() -> dict[str, Any]:
    """The JSON body, whatever the Content-Type says; empty means ``{}`` (§1).

    Raises:
        ZipshortError: 400 malformed-request-body. ValidationError: JSON zipshort refuses (the field named).
    """
    data = request.get_data(cache=True)
    if not data.strip():
        return {}
    try:
        value = loads(data)
    except (ValueError, UnicodeDecodeError):
        raise problem(400, "malformed_request_body", "Provided request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise problem(400, "malformed_request_body", "The request body must be a JSON object")
    return value


def query_list(name: str) -> list[str]:
    """A query array: ``name[]=a&name[]=b`` (also indexed ``name[0]=a``, and a bare ``name``)."""
    values: list[str] = []
    for key, value in request.args.items(multi=True):
        if key == name or key == f"{name}[]" or (key.startswith(f"{name}[") and key.endswith("]")):
            values.append(_storable(value, name))
    return values


def _storable(value: str, field: str) -> str:
    """A query value the database can take (no NUL), else invalid-data naming ``field``."""
    try:
        return check_storable(value, field)
    except ValidationError:
        raise invalid(field) from None


def query_bool(name: str, default: bool = False) -> bool:
    """``true``/``false`` (also ``1``/``0``) in the query.

    Raises:
        ValidationError: any other value (invalid-data naming the parameter).
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(name)


def parse_date(value: object, field: str) -> dt.datetime | None:
    """A date in a body or query: ISO 8601 with an offset (``Y-m-d\\TH:i:sP``), or a plain ``Y-m-d`` (UTC
    midnight); None stays None.

    Raises:
        ValidationError: invalid-data naming ``field``.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not 8 <= len(value.strip()) <= 40:
        raise invalid(field)
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(field) from None
    try:
        return bounded(parsed, field)
    except ValidationError:
        raise invalid(field) from None


def page_params(default_per_page: int | None) -> tuple[int, int | None]:
    """``page`` (from 1) and ``itemsPerPage`` (None = all: ``-1``, or absent when ``default_per_page`` is None).

    Raises:
        ValidationError: invalid-data naming the parameter.
    """
    raw_page = request.args.get("page", "")
    page = 1
    if raw_page != "":
        number = whole_number(raw_page)
        if number is None or number < 1:
            raise invalid("page")
        page = number
    raw = request.args.get("itemsPerPage", "")
    if raw == "":
        return page, default_per_page
    if raw.startswith("-") and whole_number(raw[1:]) is not None:
        return page, None  # any negative number means every item
    per_page = whole_number(raw)
    if per_page is None or per_page < 1:
        raise invalid("itemsPerPage")
    return page, per_page


def paginate(total: int, page: int, per_page: int | None, in_page: int) -> dict[str, int]:
    """Shlink's pagination object (``per_page`` None: every item on one page)."""
    size = per_page if per_page is not None else max(total, 1)
    return {"currentPage": page, "pagesCount": max(1, -(-total // size)), "itemsPerPage": size,
            "itemsInCurrentPage": in_page, "totalItems": total}


# --- shapes ----------------------------------------------------------------------------------------------

def atom(value: dt.datetime | None) -> str | None:
    """A date as Shlink writes it: ``2025-03-04T10:11:12+00:00`` (UTC)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def visits_summary(total: int, bots: int) -> dict[str, int]:
    """``{total, nonBots, bots}``."""
    return {"total": total, "nonBots": total - bots, "bots": bots}


def default_host() -> str:
    """The default domain's authority: ``core.default_domain``, else the host the request came to."""
    return runtime().settings.core.default_domain or request.host


def short_url_json(link: Link, summary: tuple[int, int]) -> dict[str, Any]:
    """Shlink's ShortUrl object, keys in Shlink's order; ``summary`` is (total visits, bot visits)."""
    return {
        "shortUrl": link_url(runtime().settings, link, link.domain or default_host()),
        "shortCode": link.slug,
        "longUrl": link.destination,
        "dateCreated": atom(link.created_at),
        "tags": sorted(tag.name for tag in link.tags),
        "meta": {"validSince": atom(link.valid_since), "validUntil": atom(link.expires_at),
                 "maxVisits": link.max_views},
        "domain": link.domain or None,
        "title": link.title,
        "crawlable": bool(link.crawlable),
        "forwardQuery": bool(link.forward_query),
        "visitsSummary": visits_summary(*summary),
        "hasRedirectRules": bool(link.rules),
    }


def short_urls_json(rows: list[Link]) -> list[dict[str, Any]]:
    """ShortUrl objects for a page of links: their visit summaries in one query."""
    summaries = linksearch.visit_summaries([link.id for link in rows])
    return [short_url_json(link, summaries.get(link.id, (0, 0))) for link in rows]


def one_short_url_json(link: Link) -> dict[str, Any]:
    """The ShortUrl object of one link."""
    return short_urls_json([link])[0]


# --- lookups ---------------------------------------------------------------------------------------------

def link_domain(value: object) -> str:
    """``?domain=`` as a ``links.domain``: absent or a platform name → ``''`` (the default domain)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise invalid("domain")
    name = _storable(value, "domain").strip().lower()
    return "" if name in runtime().settings.allowed_domains or name == default_host().lower() else name


def find_short_url(code: str, domain: str | None = None) -> Link:
    """The caller's link with ``code`` on ``?domain=`` (or ``domain``), within the key's reach.

    Raises:
        ZipshortError: 404 short-url-not-found with ``shortCode`` (and ``domain`` when one was given).
    """
    asked = request.args.get("domain") if domain is None else domain
    link = linksearch.find_by_code(caller(), code, link_domain(asked), reach())
    if link is None:
        extra: dict[str, Any] = {"shortCode": code}
        detail = f'No URL found with short code "{code}"'
        if asked:
            extra["domain"] = asked
            detail += f' for domain "{asked}"'
        raise NotFound(detail, code="short_url_not_found", extra=extra)
    return link


def ok(data: Any, status: int = 200) -> Response:
    """A JSON answer."""
    response = jsonify(data)
    response.status_code = status
    return response


# --- the bodies, for the OpenAPI document (api/contract.py) ---------------------------------------------------

class ShlinkVisitsSummary(Open):
    """``visits_summary``."""

    total: int
    nonBots: int
    bots: int


class ShlinkShortUrlMeta(Open):
    validSince: str | None
    validUntil: str | None
    maxVisits: int | None


class ShlinkShortUrl(Open):
    """The ShortUrl object (``short_url_json``)."""

    shortUrl: str
    shortCode: str
    longUrl: str
    dateCreated: str
    tags: list[str]
    meta: ShlinkShortUrlMeta
    domain: str | None
    title: str | None
    crawlable: bool
    forwardQuery: bool
    visitsSummary: ShlinkVisitsSummary
    hasRedirectRules: bool


class ShlinkPagination(Open):
    """``paginate``."""

    currentPage: int
    pagesCount: int
    itemsPerPage: int
    itemsInCurrentPage: int
    totalItems: int


class ShlinkPageQuery(Open):
    """``page_params``: ``itemsPerPage`` -1 (any negative number) for every item."""

    page: int | None = None
    itemsPerPage: int | None = None


class ShlinkDateRangeQuery(ShlinkPageQuery):
    startDate: str | None = Field(None, description="ISO 8601 with an offset, or Y-m-d")
    endDate: str | None = Field(None, description="ISO 8601 with an offset, or Y-m-d")
