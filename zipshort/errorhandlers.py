"""The one place errors are rendered: per dialect for programs, as a page for people."""

from __future__ import annotations

import logging
from typing import Any, Mapping

import sqlalchemy.exc
from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from zipshort.access import LINK_ENDPOINT, note_error
from zipshort.errors import Gone, NotFound, ZipshortError
from zipshort.http import original_path, redirect_answer, runtime, visit_facts
from zipshort.services import analytics, domains

log = logging.getLogger("zipshort.errors")

def dialect() -> str:
    """The error dialect of this request: set by the view (``g.dialect``), else by path."""
    chosen = g.get("dialect")
    if chosen:
        return chosen
    return dialect_of(request.path, runtime().settings.shlink.enabled)


def dialect_of(path: str, shlink: bool = True) -> str:
    """The error dialect of a path (``shlink``: whether the Shlink API is on); api/openapi.py documents it."""
    if (path == "/rest" or path.startswith("/rest/")) and shlink:
        return "shlink"
    if path.startswith("/api/v1/external/"):
        return "hozip"
    if path == "/short-link" or path.startswith("/short-link/"):
        return "h0p"
    if path == "/api/links" or path.startswith("/api/links/"):
        return "hoko"
    if path.startswith("/api/shorten"):
        return "zipline-v3"
    if path == "/api" or path.startswith("/api/"):
        return "zipline"
    return "html"


_HTTP_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               409: "Conflict", 410: "Gone", 413: "Payload Too Large", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable", 507: "Insufficient Storage"}
# hozip (Django REST framework style): {detail, error_code}; its documented codes where they exist.
_HOZIP_CODES = {"vanity_taken": "short_code_exists", "invalid_token": "authentication_failed",
                "not_logged_in": "not_authenticated", "rate_limited": "throttled"}


SHLINK_ERROR = "https://shlink.io/api/error/"
# Shlink's problem types (https://shlink.io/api/error/<suffix>) and titles, by zipshort's error code; a code
# not named here is typed by its status (_SHLINK_BY_STATUS), else by itself with dashes.
_SHLINK_TYPES = {
    "invalid_data": ("invalid-data", "Invalid data"),
    "malformed_request_body": ("malformed-request-body", "Malformed request body"),
    "vanity_taken": ("non-unique-slug", "Invalid custom slug"),
    "non_unique_slug": ("non-unique-slug", "Invalid custom slug"),
    "url_not_found": ("short-url-not-found", "Short URL not found"),
    "short_url_not_found": ("short-url-not-found", "Short URL not found"),
    "invalid_short_url_deletion": ("invalid-short-url-deletion", "Cannot delete short URL"),
    "tag_not_found": ("tag-not-found", "Tag not found"),
    "tag_conflict": ("tag-conflict", "Tag conflict"),
    "forbidden_tag_operation": ("forbidden-tag-operation", "Forbidden tag operation"),
    "domain_not_found": ("domain-not-found", "Domain not found"),
    "mercure_not_configured": ("mercure-not-configured", "Mercure integration not configured"),
    "not_logged_in": ("missing-authentication", "Invalid authorization"),
    "missing_authentication": ("missing-authentication", "Invalid authorization"),
    "invalid_token": ("invalid-api-key", "Invalid API key"),
    "not_found": ("not-found", "Not Found"),
    "internal_error": ("internal-server-error", "Internal Server Error"),
}
_SHLINK_BY_STATUS = {400: "invalid_data", 401: "invalid_token", 404: "not_found", 500: "internal_error"}


def _problem(status: int, message: str, code: str, extra: Mapping[str, Any], field: str | None) -> Response:
    """Shlink's RFC 7807 problem: type, title, detail, status and the error's extension members."""
    if code not in _SHLINK_TYPES and status in _SHLINK_BY_STATUS and status != 404:
        code = _SHLINK_BY_STATUS[status]
    suffix, title = _SHLINK_TYPES.get(code) or (code.replace("_", "-"), _HTTP_NAMES.get(status, "Error"))
    body: dict[str, Any] = {"type": SHLINK_ERROR + suffix, "title": title, "detail": message, "status": status}
    if suffix == "invalid-data":
        body["invalidElements"] = [field] if field else []
    elif suffix == "missing-authentication" and "param" not in extra:
        body["expectedHeaders"] = ["X-Api-Key"]
    body.update(extra)
    response = jsonify(body)
    response.mimetype = "application/problem+json"
    return response


def render_error(status: int, message: str, code: str, retry_after: int | None = None,
                 index: int | None = None, extra: Mapping[str, Any] | None = None,
                 field: str | None = None) -> Response:
    """Render one error in the caller's dialect (``extra`` and ``field``: Shlink's extension members)."""
    note_error(code)  # the access line's error=
    kind = dialect()
    if kind == "shlink":
        response = _problem(status, message, code, extra or {}, field)
    elif kind == "hozip":
        error_code = _HOZIP_CODES.get(code) or ("validation_error" if status == 400 else code)
        response = jsonify({"detail": message, "error_code": error_code})
    elif kind == "h0p":  # NestJS style
        response = jsonify({"statusCode": status, "message": message, "error": _HTTP_NAMES.get(status, "Error"),
                            "code": code})
    elif kind == "hoko":
        body: dict = {"error": message, "code": code}
        if index is not None:
            body["index"] = index
        response = jsonify(body)
    elif kind == "zipline":
        response = jsonify({"error": message, "statusCode": status, "code": code})
    elif kind == "zipline-v3":
        response = jsonify({"error": message, "code": status})
    else:
        response = Response(render_template("error.html", status=status, message=message), mimetype="text/html")
    response.status_code = status
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
        if kind == "zipline-v3" and status == 429:  # v3 named the seconds to wait so
            response.headers["X-Ratelimit-Remaining"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response




def _orphan_kind(status: int, error: Exception) -> str | None:
    """The orphan visit a public GET or HEAD that found nothing is: an unknown or dead code under the link route
    (``invalid_short_url``, as Shlink counts a disabled, not yet valid, expired or used-up link) or any other
    page's 404 (``regular_404``); None for anything else."""
    if request.method not in ("GET", "HEAD") or dialect() != "html":
        return None
    if request.endpoint == LINK_ENDPOINT and isinstance(error, (NotFound, Gone)):
        return "invalid_short_url"
    if status == 404:
        return "regular_404"
    return None


def _special_redirect(kind: str | None) -> Response | None:
    """Record the orphan visit (not for HEAD) and answer with the special redirect of its kind when one is set
    (services/domains.py: the Host's own, else the platform's, else the server's); None: render the error.
    Only public routes and unmatched paths redirect: a 404 inside the dashboard stays a page."""
    if kind is None:
        return None
    rt = runtime()
    target = None
    if request.endpoint is None or request.blueprint == "public":
        try:
            target = domains.special_redirect(rt, kind, request.host, original_path())
        except sqlalchemy.exc.SQLAlchemyError as exc:  # the database is away: the visitor still gets the page
            log.warning("special redirects unavailable on %s %s: %s", request.method, request.path, exc)
    if request.method == "GET":
        analytics.orphan_visit(rt, kind, visit_facts, target)
    return redirect_answer(rt.settings, target) if target else None


def _handle_zipshort(error: ZipshortError) -> Response:
    note_error(error.code)
    redirected = _special_redirect(_orphan_kind(error.status, error))
    if redirected is not None:
        return redirected
    return render_error(error.status, error.message, error.code, error.retry_after, getattr(error, "index", None),
                        error.extra, error.field)


def _handle_http(error: HTTPException) -> Response:
    status = error.code or 500
    redirected = _special_redirect(_orphan_kind(status, error))
    if redirected is not None:
        return redirected
    if isinstance(error, MethodNotAllowed):
        response = _method_not_allowed(error)
    elif dialect() == "shlink" and status == 404:  # Shlink's words for an unknown REST route
        response = render_error(404, f"Cannot {request.method} {request.url}!", "not_found")
    elif dialect() == "zipline" and status == 404:
        response = jsonify({"message": f"Route {request.method}:{request.path} not found", "error": "Not Found",
                            "statusCode": 404})
        response.status_code = 404
    elif isinstance(error, RequestEntityTooLarge):
        response = render_error(413, "Request body too large", "too_large")
    else:
        response = render_error(status, error.description or error.name, error.name.lower().replace(" ", "_"))
    return response


def _method_not_allowed(error: MethodNotAllowed) -> Response:
    """405 with the methods the route has, in ``Allow`` and in the message (Zipline keeps its route shape)."""
    allowed = sorted(set(error.valid_methods or ()) - {"OPTIONS"})
    message = f"Method {request.method} is not allowed on {request.path}" + (
        f" (allowed: {', '.join(allowed)})" if allowed else "")
    if dialect() == "zipline":
        response = jsonify({"message": message, "error": "Method Not Allowed", "statusCode": 405})
        response.status_code = 405
    else:
        response = render_error(405, message, "method_not_allowed")
    if error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, sqlalchemy.exc.DataError):
        # A value the database cannot store (NUL in text, out-of-range number) that validation missed: a gap
        # to close in zipshort.inputs or the field's validator (tests/api/test_fuzz.py fails on this answer).
        log.error("database refused a value on %s %s: %s", request.method, request.path, error.orig)
        return render_error(400, "Invalid value", "invalid_value")
    if isinstance(error, sqlalchemy.exc.OperationalError):
        # Lost or locked database: SQLAlchemy has already replaced a dropped pool; the client may retry.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
        return render_error(503, "Database unavailable, try again", "unavailable", retry_after=1)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(500, "Internal Server Error", "internal_error")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(ZipshortError, _handle_zipshort)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
