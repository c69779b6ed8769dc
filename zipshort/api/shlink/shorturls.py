"""Shlink's short URLs: list (filters, order, pages), create (``findIfExists``, slugs, prefixes, code length),
the single-step ``shorten``, get, edit, delete (with ``[shlink] delete_threshold``)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, g, request
from pydantic import Field

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.api.shlink.common import (
    ShlinkDateRangeQuery,
    ShlinkPagination,
    ShlinkShortUrl,
    body,
    caller,
    default_host,
    find_short_url,
    gather,
    invalid,
    link_domain,
    ok,
    one_short_url_json,
    page_params,
    paginate,
    parse_date,
    problem,
    query_bool,
    query_list,
    reach,
    renamed,
    shlink_route,
    short_urls_json,
)
from zipshort.auth import check_caller, declares, load_caller, load_key, require_user
from zipshort.codes import random_code
from zipshort.errors import ValidationError, VanityTaken
from zipshort.http import runtime
from zipshort.models import Link
from zipshort.services import domains, links, linksearch
from zipshort.urls import link_url, public_url

UNSET = links.UNSET
# The door's field names → Shlink's.
FIELDS = {"destination": "longUrl", "vanity": "customSlug", "maxViews": "maxVisits", "expiresAt": "validUntil",
          "validSince": "validSince", "title": "title", "tags": "tags", "domain": "domain", "hostname": "domain"}
NAMES = links.FieldNames(title="title", tags="tags")
GEN_DELIMS = frozenset(":?#[]@")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
MIN_CODE_LENGTH, MAX_CODE_LENGTH = 4, 64
MAX_TITLE = 255
CODE_ATTEMPTS = 5


# --- the bodies, for the OpenAPI document ------------------------------------------------------------------


class ShortUrlCreate(Open):
    """POST /short-urls (``_create``)."""

    longUrl: WebUrl
    customSlug: str | None = None
    pathPrefix: str | None = None
    shortCodeLength: int | None = Field(None, ge=MIN_CODE_LENGTH, le=MAX_CODE_LENGTH)
    tags: list[str] | None = None
    findIfExists: bool | None = None
    crawlable: bool | None = None
    forwardQuery: bool | None = None
    validSince: str | None = None
    validUntil: str | None = None
    maxVisits: int | None = None
    title: str | None = None
    domain: str | None = None


class ShortUrlEdit(Open):
    """PATCH /short-urls/{shortCode} (``_changes``): absent = unchanged, null clears."""

    longUrl: str | None = None
    validSince: str | None = None
    validUntil: str | None = None
    maxVisits: int | None = None
    title: str | None = None
    tags: list[str] | None = None
    crawlable: bool | None = None
    forwardQuery: bool | None = None


class ShortUrlList(ShlinkDateRangeQuery):
    """GET /short-urls' query."""

    searchTerm: str | None = None
    tags: list[str] | None = Field(None, alias="tags[]")
    tagsMode: str | None = Field(None, description="any or all")
    excludeTags: list[str] | None = Field(None, alias="excludeTags[]")
    excludeTagsMode: str | None = Field(None, description="any or all")
    orderBy: str | None = Field(None, description="field-ASC or field-DESC")
    excludeMaxVisitsReached: bool | None = None
    excludePastValidUntil: bool | None = None
    domain: str | None = Field(None, description="DEFAULT for the default domain")
    apiKeyName: str | None = None


class ShortUrlPage(Open):
    data: list[ShlinkShortUrl]
    pagination: ShlinkPagination


class ShortUrlListAnswer(Open):
    shortUrls: ShortUrlPage


class ShortenQuery(Open):
    longUrl: WebUrl
    format: str | None = Field(None, description="json or txt")


class DomainQuery(Open):
    domain: str | None = None


# --- parsing ---------------------------------------------------------------------------------------------

def normalise_tags(value: object, field: str = "tags") -> list[str]:
    """Shlink's tag names: trimmed, lower-cased, spaces as ``-``, without repeats (first kept)."""
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise invalid(field)
    names = [tag.strip().lower().replace(" ", "-") for tag in value]
    return list(dict.fromkeys(name for name in names if name))


def _slug_part(value: object, field: str, allow_empty: bool) -> str:
    """A custom slug or path prefix by §5.8: trimmed, spaces and ``/`` as ``-``; RFC 3986 gen-delims refused."""
    if not isinstance(value, str):
        raise invalid(field)
    text = value.strip().replace(" ", "-").replace("/", "-")
    if (not text and not allow_empty) or GEN_DELIMS & set(text):
        raise invalid(field)
    return text


def _flag(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(name)
    return value


def _max_visits(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid("maxVisits")
    return value


def _title(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("title")
    return value.strip()[:MAX_TITLE] or None


def _long_url(value: object) -> str:
    """A long URL must carry a scheme (the door then allows http and https only)."""
    if not isinstance(value, str) or not SCHEME.match(value.strip()):
        raise invalid("longUrl")
    return value.strip()


def _domain(value: object) -> str | None:
    """A body's ``domain`` as a ``links.domain`` (None when not given)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid("domain")
    try:
        name = domains.normalise_hostname(value)
    except ValidationError:
        raise invalid("domain") from None
    return link_domain(name)


# --- errors from the door --------------------------------------------------------------------------------

def _slug_taken(slug: str, domain: str) -> ValidationError:
    detail = f'Provided slug "{slug}" is already in use' + (f' for domain "{domain}"' if domain else "") + "."
    extra: dict[str, Any] = {"customSlug": slug}
    if domain:
        extra["domain"] = domain
    return ValidationError(detail, code="non_unique_slug", extra=extra)


# --- routes ----------------------------------------------------------------------------------------------

def _order() -> tuple[str, bool] | None:
    raw = request.args.get("orderBy", "")
    if raw == "":
        return "dateCreated", True
    field, _, direction = raw.partition("-")
    if field not in linksearch.ORDER_FIELDS or direction.upper() not in ("", "ASC", "DESC"):
        return None
    return field, direction.upper() == "DESC"


def _mode(name: str) -> bool | None:
    raw = request.args.get(name, "any") or "any"
    return None if raw not in ("any", "all") else raw == "all"


@shlink_route("/short-urls", ["GET"])
@documented("List short URLs", query=ShortUrlList, responses={200: ShortUrlListAnswer})
@require_user("links:read")
def list_short_urls() -> Response:
    bad: list[str] = []
    order = _order()
    tags_all, exclude_all = _mode("tagsMode"), _mode("excludeTagsMode")
    for name, value in (("orderBy", order), ("tagsMode", tags_all), ("excludeTagsMode", exclude_all)):
        if value is None:
            bad.append(name)
    dates = {}
    for name in ("startDate", "endDate"):
        try:
            dates[name] = parse_date(request.args.get(name) or None, name)
        except ValidationError:
            bad.append(name)
    try:
        page, per_page = page_params(10)
    except ValidationError as exc:
        bad.append(exc.field or "page")
    if bad:
        raise invalid(sorted(bad))
    assert order is not None
    domain_arg = request.args.get("domain") or None
    search = linksearch.LinkSearch(
        search_term=(request.args.get("searchTerm") or "").strip() or None,
        tags=tuple(normalise_tags(query_list("tags"))), tags_all=bool(tags_all),
        exclude_tags=tuple(normalise_tags(query_list("excludeTags"))), exclude_tags_all=bool(exclude_all),
        start=dates["startDate"], end=dates["endDate"],
        exclude_max_visits_reached=query_bool("excludeMaxVisitsReached"),
        exclude_past_valid_until=query_bool("excludePastValidUntil"),
        domain=None if domain_arg is None else ("" if domain_arg == "DEFAULT" else domain_arg.strip().lower()),
        default_host=default_host(), api_key_name=request.args.get("apiKeyName") or None,
        order=order[0], descending=order[1], page=page, per_page=per_page)
    for text in (search.search_term, search.api_key_name, domain_arg):
        if text is not None and (len(text) > 2048 or "\x00" in text):
            raise invalid("searchTerm")
    rows, total = linksearch.search_links(caller(), reach(), search)
    return ok({"shortUrls": {"data": short_urls_json(rows), "pagination": paginate(total, page, per_page, len(rows))}})


def _code_length(value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not MIN_CODE_LENGTH <= value <= MAX_CODE_LENGTH):
        raise invalid("shortCodeLength")
    return value


def _optional(data: dict[str, Any], name: str, parse: Any) -> Any:
    return None if data.get(name) is None else parse(data[name])


def _create(data: dict[str, Any]) -> Link:
    """Create (or, with ``findIfExists``, find) a link from a create body; the caller is checked."""
    rt = runtime()
    user, key_reach = caller(), reach()
    given = gather({
        "longUrl": lambda: _long_url(data.get("longUrl")),
        "customSlug": lambda: _optional(data, "customSlug", lambda v: _slug_part(v, "customSlug", False)),
        "pathPrefix": lambda: _optional(data, "pathPrefix", lambda v: _slug_part(v, "pathPrefix", True)) or "",
        "shortCodeLength": lambda: _code_length(data.get("shortCodeLength")),
        "tags": lambda: _optional(data, "tags", normalise_tags),
        "findIfExists": lambda: _flag(data, "findIfExists"),
        "crawlable": lambda: _flag(data, "crawlable"),
        "forwardQuery": lambda: _flag(data, "forwardQuery"),
        "validSince": lambda: parse_date(data.get("validSince"), "validSince"),
        "validUntil": lambda: parse_date(data.get("validUntil"), "validUntil"),
        "maxVisits": lambda: _max_visits(data.get("maxVisits")),
        "title": lambda: _title(data.get("title")),
        "domain": lambda: _domain(data.get("domain")),
    })
    long_url, slug, prefix, length = (given[k] for k in ("longUrl", "customSlug", "pathPrefix", "shortCodeLength"))
    tags, valid_since, valid_until = given["tags"], given["validSince"], given["validUntil"]
    max_visits, title, asked_domain = given["maxVisits"], given["title"], given["domain"]
    flags = {name: given[name] for name in ("findIfExists", "crawlable", "forwardQuery")}
    domain = key_reach.creation_domain(asked_domain or "")  # what the door will use (for the error message)
    generated = slug is None and (prefix or length is not None)

    def reuse() -> Link | None:
        return linksearch.find_matching(user, key_reach, long_url, slug=None if slug is None else prefix + slug,
                                        domain=asked_domain, max_views=max_visits, valid_since=valid_since,
                                        expires_at=valid_until, tags=tags)

    for attempt in range(CODE_ATTEMPTS if generated else 1):
        vanity = prefix + (slug if slug is not None else random_code(length or rt.settings.urls.length,
                                                                     rt.settings.urls.alphabet)) \
            if (slug is not None or generated) else None
        spec = links.NewLink(destination=long_url, vanity=vanity, max_views=max_visits, domain=asked_domain or "",
                             expires_at=valid_until, title=title, tags=tags, valid_since=valid_since,
                             forward_query=flags["forwardQuery"] is not False, crawlable=bool(flags["crawlable"]),
                             past_expiry=True)
        try:
            return links.create_link(rt, user, spec, host=request.host, names=NAMES,
                                     reuse=reuse if flags["findIfExists"] else None, reach=key_reach,
                                     origin=public_url(rt.settings))
        except VanityTaken:
            if not generated or attempt == CODE_ATTEMPTS - 1:
                raise _slug_taken(vanity or "", domain) from None
        except ValidationError as exc:
            raise renamed(exc, FIELDS, "longUrl") from None
    raise AssertionError("unreachable")  # pragma: no cover


@shlink_route("/short-urls", ["POST"])
@documented("Create a short URL", body=ShortUrlCreate, responses={200: ShlinkShortUrl})
@require_user("links:write")
def create_short_url() -> Response:
    return ok(one_short_url_json(_create(body())))


@shlink_route("/short-urls/shorten", ["GET"])
@documented("Shorten in one step", query=ShortenQuery, responses={200: ShlinkShortUrl}, also=("text/plain",))
@declares("links:write", note="the key as `?apiKey=` (with `[shlink] key_in_query`), else in a header")
def shorten() -> Response:
    """The single-step shortener: the one route that takes its key in the URL (Shlink's clients put it there)."""
    key = request.args.get("apiKey") if runtime().settings.shlink.key_in_query else None
    if key is not None:
        load_key(key)
    else:
        load_caller()
        if g.api_key is None and not g.bad_key:
            raise problem(401, "missing_authentication", "Expected authentication to be provided in "
                          '"apiKey" query param', param="apiKey")
    check_caller("links:write")
    link = _create({"longUrl": request.args.get("longUrl")})
    wanted = (request.args.get("format") or "").lower()
    if not wanted:
        accept = request.headers.get("Accept", "").split(",")[0].split(";")[0].strip().lower()
        wanted = "txt" if accept == "text/plain" else "json"
    if wanted == "txt":
        return Response(link_url(runtime().settings, link, link.domain or default_host()), mimetype="text/plain")
    return ok(one_short_url_json(link))


@shlink_route("/short-urls/<code>", ["GET"])
@documented("Get a short URL", query=DomainQuery, responses={200: ShlinkShortUrl})
@require_user("links:read")
def get_short_url(code: str) -> Response:
    return ok(one_short_url_json(find_short_url(code)))


def _changes(data: dict[str, Any]) -> links.LinkChanges:
    """A PATCH body as a partial edit: absent = unchanged; null clears the dates, the limit and the title."""
    checks: dict[str, Any] = {}
    if data.get("longUrl") is not None:
        checks["destination"] = lambda: _long_url(data["longUrl"])
    for name, attr in (("validSince", "valid_since"), ("validUntil", "expires_at")):
        if name in data:
            checks[attr] = lambda name=name: parse_date(data[name], name)
    if "maxVisits" in data:
        checks["max_views"] = lambda: _max_visits(data["maxVisits"])
    if "title" in data:
        checks["title"] = lambda: _title(data["title"])
    if data.get("tags") is not None:
        checks["tags"] = lambda: normalise_tags(data["tags"])
    for name, attr in (("crawlable", "crawlable"), ("forwardQuery", "forward_query")):
        checks[attr] = lambda name=name: _flag(data, name)
    changes = {attr: value for attr, value in gather(checks).items()
               if value is not None or attr not in ("crawlable", "forward_query")}
    return links.LinkChanges(**changes, past_expiry=True)


@shlink_route("/short-urls/<code>", ["PATCH"])
@documented("Edit a short URL", query=DomainQuery, body=ShortUrlEdit, responses={200: ShlinkShortUrl})
@require_user("links:write")
def edit_short_url(code: str) -> Response:
    changes = _changes(body())  # validated before the lookup, as Shlink does
    link = find_short_url(code)
    try:
        link = links.update_link(runtime(), caller(), link.id, changes, host=request.host, names=NAMES,
                                 reach=reach())
    except ValidationError as exc:
        raise renamed(exc, FIELDS, "longUrl") from None
    return ok(one_short_url_json(link))


@shlink_route("/short-urls/<code>", ["DELETE"])
@documented("Delete a short URL", query=DomainQuery, responses={204: None})
@require_user("links:write")
def delete_short_url(code: str) -> Response:
    link = find_short_url(code)
    threshold = runtime().settings.shlink.delete_threshold
    if threshold and linksearch.visits_of(link) >= threshold:
        asked = request.args.get("domain")
        extra: dict[str, Any] = {"shortCode": code, "threshold": threshold}
        if asked:
            extra["domain"] = asked
        raise problem(422, "invalid_short_url_deletion", f'Impossible to delete short URL with short code "{code}"'
                      + (f' for domain "{asked}"' if asked else "")
                      + f', since it has more than "{threshold}" visits.', **extra)
    links.delete_link(runtime(), caller(), link.id, reach=reach())
    return Response(status=204)
