"""The request hooks every request runs: its id, and — when asked for — its access log line and HTTP metrics.

One ``before_request`` hook opens the request's id scope (a trusted proxy's ``X-Request-ID`` or one made on
demand) and one ``after_request`` hook echoes the id; with ``logging.access`` or ``metrics.enabled`` the same
two hooks also note the start time and, at the end, count the request (``zipshort_http_requests_total``, its
duration, the redirect outcome) and write one line on the ``zipshort.access`` logger. With both off they are
exactly the two hooks the redirect always paid for (ARCHITECTURE.md, "The redirect").

The access line holds the method, the URL rule (never the path's values), the status, the duration, the body's
size, the user id when the request had one, the query's keys (never its values) and the error code of a
refused request; never a header, a cookie, a form field or a password. Its request id comes from the log
handler's filter (``eventlog.RequestIdFilter``), as on every line: when the access log is on, every request
gets an id at its start, redirects included (so their visit events carry it too), echoed in ``X-Request-ID``.

A view or error handler that knows why a request failed says so in ``g.error_code`` (``note_error``); the
hook turns it into the access line's ``error=`` and, on the link route, into the redirect outcome.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import sqlalchemy as sa
from flask import Flask, Response, g, request

from zipshort.config import Settings
from zipshort.events import begin_request, current_request_id, given_request_id, request_id
from zipshort.telemetry import UNMATCHED, Telemetry

log = logging.getLogger("zipshort.access")

LINK_ENDPOINT = "public.follow_link"  # the redirect: GET <urls.route>/<code>
START = "zipshort.start"  # environ key: perf_counter() at the request's first hook
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: label "other"
# The link route's error codes as redirect outcomes; no code is a followed link. Anything else (a 5xx) is none.
OUTCOMES = {None: "redirected", "password_required": "password", "not_found": "not_found", "gone": "gone"}
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")  # spaces, controls, non-ASCII: a query name shows as ASCII on one line


def note_error(code: str) -> None:
    """Say why this request was refused (shown as ``error=`` in its access line; the redirect outcome)."""
    g.error_code = code


def register(app: Flask, settings: Settings, telemetry: Telemetry | None) -> None:
    """Install the request's two hooks on ``app``."""
    trust = bool(settings.core.trust_proxy)
    access = settings.logging.access
    observing = access or telemetry is not None

    def client() -> str | None:  # called only when an audited event is made, in the request's context
        return request.remote_addr  # behind core.trust_proxy, ProxyFix has put the forwarded address here

    @app.before_request
    def _begin_request_scope() -> None:
        # A fresh id scope per request; the worker thread's next request replaces it. ``client`` is the same
        # function every time: reading the address costs nothing until an audited event asks for it.
        begin_request(given_request_id(request.headers.get("X-Request-ID")) if trust else None, client)
        if access:
            request_id()  # made now: the access line needs one anyway, and the visit's event then carries it too
        if observing:
            request.environ[START] = time.perf_counter()

    if not observing:
        @app.after_request
        def _echo_request_id(response: Response) -> Response:
            rid = current_request_id() or (None if 300 <= response.status_code < 400 else request_id())
            if rid:
                response.headers["X-Request-ID"] = rid
            return response

        return

    @app.after_request
    def _finish_request(response: Response) -> Response:
        seconds = time.perf_counter() - request.environ.get(START, time.perf_counter())
        rule = request.url_rule
        status = response.status_code
        error = g.get("error_code")
        outcome = None
        if request.endpoint == LINK_ENDPOINT and request.method == "GET" and status < 500:
            outcome = OUTCOMES.get(error)
        rid = record_answer(telemetry, access, UNMATCHED if rule is None else rule.rule, request.method, status,
                            seconds, lambda: _body_size(response), request.query_string, _user_id, error, outcome)
        if rid is None:
            rid = current_request_id() or (None if 300 <= status < 400 else request_id())
        if rid:
            response.headers["X-Request-ID"] = rid
        return response


def record_answer(telemetry: Telemetry | None, access: bool, route: str, method: str, status: int, seconds: float,
                  size: Callable[[], int | None], query: bytes, user_id: Callable[[], str | None] = lambda: None,
                  error: str | None = None, outcome: str | None = None) -> str | None:
    """Count one answered request and write its access line: the after hook's work, callable by whatever answers
    a request below Flask's dispatch (a WSGI layer in front of it) so its requests are counted and logged alike.

    ``route``: the URL rule (``UNMATCHED`` for none); ``size`` and ``user_id`` are asked only for the line;
    ``outcome``: the redirect outcome of a GET of the link route (one of ``REDIRECT_OUTCOMES``), else None.
    Returns the request id to echo when a line was written (made if need be), else None.
    """
    method = method if method in METHODS else "other"
    if telemetry is not None:
        telemetry.observe_request(route, method, status, seconds)
        if outcome is not None:
            telemetry.redirect(outcome)
    if not (access and log.isEnabledFor(logging.INFO)):
        return None
    rid = request_id()
    try:
        _log_line(method, route, status, seconds, size(), user_id(), query_keys(query) if query else [], error)
    except Exception:  # the answer is ready; a line that cannot be made must not turn it into a 500
        log.exception("access: no line for %s %s", method, route)
    return rid


def _body_size(response: Response) -> int | None:
    """The body's size: its Content-Length, or a body in memory (0 for a bare redirect); None for a stream."""
    size = response.content_length
    if size is None and isinstance(response.response, (list, tuple)):
        size = sum(len(part) for part in response.response)
    return size


def _log_line(method: str, route: str, status: int, seconds: float, size: int | None, user_id: str | None,
              keys: list[str], error: str | None) -> None:
    tail = (f" query={','.join(keys)}" if keys else "") + (f" error={error}" if error else "")
    log.info("%s %s %d %.2fms %s user=%s%s", method, route, status, seconds * 1000,
             "-" if size is None else f"{size}B", user_id or "-", tail,
             extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 3),
                    "bytes": size, "user_id": user_id, "query_keys": keys, "error": error})


def query_keys(query: bytes) -> list[str]:
    """The names in a query string, as received (not through the checked ``request.args``, which refuses a NUL):
    unquoted, without characters that could forge a log line, at most 40 characters each, 20 names."""
    names = {unquote_plus(part.split("=", 1)[0]) for part in query.decode("latin-1").split("&") if part}
    return sorted({_UNPRINTABLE.sub("?", name)[:40] for name in names if name})[:20]


def _user_id() -> str | None:
    """The id of the user this request acted as, if it was loaded (never loads one: no query)."""
    user: Any = g.get("user")
    if user is None:
        user = g.get("_login_user")  # Flask-Login's, when the request looked at its session
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = sa.inspect(user, raiseerr=False)
    identity = getattr(state, "identity", None)  # the identity map's key: no refresh of an expired row
    return str(identity[0]) if identity else None
