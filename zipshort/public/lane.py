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
connection, as Flask's view would do). Everything else — HEAD, another miss, a password, a smart link's page (a
preview for bots, a cloaking frame), an unknown code, a non-ASCII code, any other path — goes on to Flask
unchanged and uncounted, which answers it and fills the cache.

It sits inside ProxyFix (``core.trust_proxy``), so the address, scheme and Host it reads are the forwarded ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from werkzeug.exceptions import SecurityError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_host

from zipshort.access import record_answer
from zipshort.events import begin_request, given_request_id, request_id
from zipshort.extensions import db
from zipshort.http import environ_facts, redirect_headers, runtime
from zipshort.services.redirects import follow_cached

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# What the app's after-request hooks add to every redirect (zipshort/__init__.py: _security_headers).
_FIXED = [("Content-Type", "text/html; charset=utf-8"), ("X-Content-Type-Options", "nosniff"),
          ("Content-Length", "0")]


class RedirectLane:
    """WSGI middleware in front of Flask's ``wsgi_app``: cached redirects here, every other request to Flask."""

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
        return self.inner(environ, start_response)

    def _redirect(self, environ: dict[str, Any], start_response: StartResponse, code: str) -> list[bytes] | None:
        if not code or "/" in code or not code.isascii() or code in self.taken:
            return None
        try:
            host = get_host(environ, self.trusted_hosts)
        except SecurityError:
            return None  # Flask answers 400
        if not host:
            return None
        start = time.perf_counter() if self.observing else 0.0
        given = given_request_id(environ.get("HTTP_X_REQUEST_ID")) if self.trust_request_id else None
        begin_request(given)
        if self.access:
            request_id()  # made now, as Flask's hook does: the visit's event and the access line share it
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        followed = follow_cached(self.rt, code, host, facts=partial(environ_facts, environ, host, self.country_header),
                                 query=query, engine=self.engine)
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
