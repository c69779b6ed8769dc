"""The redirect lane: ``GET <urls.route>/<code>`` of a link the cache holds, answered below Flask's dispatch.

The heartbeat of a shortener is a redirect of a link that was followed a moment ago. For those the answer is
already known (``counters.LinkCache``): the view is batched or taken from this process's lease and the visit
published, all without SQL. Flask's dispatch around it (request and app contexts, URL matching, hooks, a
``Response`` object) would cost more than the work itself, so this WSGI layer answers such requests directly,
through the same service door (``services.redirects.follow_cached``), the same Host check (Flask's
``TRUSTED_HOSTS`` with Werkzeug's ``get_host``), the same visitor facts (``http.environ_facts``) and the same
headers (``http.redirect_headers`` plus what the app's hooks add to a redirect: ``X-Content-Type-Options`` and a
trusted proxy's ``X-Request-ID``). A smart link's redirect is answered here too, decided from the cached snapshot
(rules, UTM, deep links), and so is a cache miss of an unlimited link without rules (one read on a reader
connection, as Flask's view would do). A link the cache holds as protected gets its password page here, as the
view would answer it (``public.pages``: the pre-rendered page, its form cookie, the headers the app's hooks add to
an HTML page and the request id they echo). Everything else — HEAD, another miss, a smart link's page (a preview
for bots, a cloaking frame), an unknown code, a non-ASCII code, any other path — goes on to Flask unchanged and
uncounted, which answers it and fills the cache.

It sits inside ProxyFix (``core.trust_proxy``), so the address, scheme and Host it reads are the forwarded ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from werkzeug.exceptions import SecurityError
from werkzeug.http import HTTP_STATUS_CODES, parse_cookie
from werkzeug.wsgi import get_host

from zipshort.access import record_answer
from zipshort.errors import PasswordRequired
from zipshort.events import begin_request, given_request_id, request_id
from zipshort.extensions import db
from zipshort.http import CSP, environ_facts, redirect_headers, runtime
from zipshort.public.pages import FORM_COOKIE, password_pages
from zipshort.services.downloads import protected_file
from zipshort.services.redirects import follow_cached

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# What the app's after-request hooks add to every redirect (zipshort/__init__.py: _security_headers).
_FIXED = [("Content-Type", "text/html; charset=utf-8"), ("X-Content-Type-Options", "nosniff"),
          ("Content-Length", "0")]
# What public/pages.py's password_page sets and the app's hooks add to an HTML page, but the length and cookie.
_PAGE = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"), ("Vary", "Cookie"),
         ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"),
         ("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY")]


class RedirectLane:
    """WSGI middleware in front of Flask's ``wsgi_app``: cached redirects and password pages here, every other
    request to Flask."""

    def __init__(self, flask_app: Any, inner: WSGIApp) -> None:
        rt = runtime(flask_app)
        self.inner = inner
        self.rt = rt
        with flask_app.app_context():
            self.engine = db.engine  # a miss of a plain link is read here too (services/redirects.py: follow_cached)
        self.settings = rt.settings
        self.prefix = self.settings.urls.route.rstrip("/") + "/"
        status = self.settings.urls.redirect_status
        self.status = f"{status} {HTTP_STATUS_CODES[status].upper()}"  # as Werkzeug writes it
        self.trusted_hosts = flask_app.config.get("TRUSTED_HOSTS")
        self.trust_request_id = bool(self.settings.core.trust_proxy)
        self.country_header = self.settings.urls.country_header
        # With metrics or the access log on, a lane answer is counted and logged as Flask's hooks would (access.py)
        self.telemetry = rt.telemetry
        self.access = self.settings.logging.access
        self.observing = self.access or rt.telemetry is not None
        self.route = self.prefix + "<code>"  # the URL rule's label, as Flask names the route
        self.pages = password_pages(flask_app)
        files = self.settings.files
        # (path prefix, URL rule) of the file routes whose password page is answered here (public/__init__.py)
        self.file_routes = [(prefix + "/", prefix + "/<name>") for prefix in (files.route.rstrip("/"), "/raw")]
        self.content_domain = files.content_domain  # elsewhere Flask redirects file routes there
        # One-segment paths under the route that Flask routes elsewhere (with the route at "/": /login, /api …):
        # a code spelled like one of them is never answered here.
        self.taken = frozenset(rule.rule[len(self.prefix):] for rule in flask_app.url_map.iter_rules()
                               if rule.rule.startswith(self.prefix) and "/" not in rule.rule[len(self.prefix):]
                               and "<" not in rule.rule)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            path: str = environ.get("PATH_INFO") or ""
            if path.startswith(self.prefix):
                answer = self._redirect(environ, start_response, path[len(self.prefix):])
                if answer is not None:
                    return answer
            for prefix, route in self.file_routes:
                if path.startswith(prefix):
                    answer = self._file_page(environ, start_response, path[len(prefix):], route)
                    if answer is not None:
                        return answer
        return self.inner(environ, start_response)

    def _host(self, environ: dict[str, Any]) -> str | None:
        try:
            return get_host(environ, self.trusted_hosts) or None
        except SecurityError:
            return None  # Flask answers 400

    def _begin(self, environ: dict[str, Any]) -> tuple[float, str | None]:
        """Open the request's id scope as Flask's hook does; (start time, the trusted proxy's request id)."""
        start = time.perf_counter() if self.observing else 0.0
        given = given_request_id(environ.get("HTTP_X_REQUEST_ID")) if self.trust_request_id else None
        begin_request(given)
        if self.access:
            request_id()  # made now, as Flask's hook does: the visit's event and the access line share it
        return start, given

    def _redirect(self, environ: dict[str, Any], start_response: StartResponse, code: str) -> list[bytes] | None:
        if not code or "/" in code or not code.isascii() or code in self.taken:
            return None
        host = self._host(environ)
        if host is None:
            return None
        start, given = self._begin(environ)
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        try:
            followed = follow_cached(self.rt, code, host,
                                     facts=partial(environ_facts, environ, host, self.country_header), query=query,
                                     engine=self.engine)
        except PasswordRequired:
            return self._password_page(environ, start_response, start, query, "link", self.route, "password")
        if followed is None:
            return None
        smart = followed.decision
        headers = redirect_headers(self.settings, followed.destination if smart is None else smart.location,
                                   no_store=followed.limited, varies=smart is not None)
        headers.extend(_FIXED)
        echo = given
        if self.observing:
            echo = record_answer(self.telemetry, self.access, self.route, "GET", self.settings.urls.redirect_status,
                                 time.perf_counter() - start, lambda: 0, query, outcome="redirected") or given
        if echo:
            headers.append(("X-Request-ID", echo))
        start_response(self.status, headers)
        return [b""]

    def _file_page(self, environ: dict[str, Any], start_response: StartResponse, name: str,
                   route: str) -> list[bytes] | None:
        """The password page of a file the cache holds as protected (``downloads.protected_file``), else None."""
        if not name or "/" in name or not name.isascii() or name.startswith(".thumbnail."):
            return None
        host = self._host(environ)
        if host is None or (self.content_domain and host.lower() != self.content_domain):
            return None
        try:
            protected_file(self.rt, name)
        except PasswordRequired:
            start, _ = self._begin(environ)
            return self._password_page(environ, start_response, start,
                                       environ.get("QUERY_STRING", "").encode("latin-1"), "file", route, None)
        return None

    def _password_page(self, environ: dict[str, Any], start_response: StartResponse, start: float, query: bytes,
                       what: str, route: str, outcome: str | None) -> list[bytes]:
        """A protected link's or file's password page (``public.pages.password_page``'s answer, and its hooks')."""
        cookies = environ.get("HTTP_COOKIE")
        nonce = parse_cookie(cookies).get(FORM_COOKIE) if cookies and FORM_COOKIE in cookies else None
        body, cookie = self.pages.render(what, nonce)
        headers = [("Content-Length", str(len(body))), *_PAGE]
        if cookie:
            headers.append(("Set-Cookie", cookie))
        echo = None
        if self.observing:
            echo = record_answer(self.telemetry, self.access, route, "GET", 200, time.perf_counter() - start,
                                 lambda: len(body), query, error="password_required", outcome=outcome)
        rid = echo or request_id()  # the app's hook makes one for every answer but a redirect
        if rid:
            headers.append(("X-Request-ID", rid))
        start_response("200 OK", headers)
        return [body]
