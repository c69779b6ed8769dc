"""HTTP plumbing: ``runtime()``, the one way a face reaches the app's Runtime; the request class (file
parts spooled straight into storage; JSON, query and form fields checked once by ``zipshort.inputs``),
and the trusted-hosts list that also admits users' verified custom domains."""

from __future__ import annotations

from typing import IO, Any, Callable, Iterator
from urllib.parse import quote

from flask import Flask, Request, Response, current_app, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import BaseConverter
from werkzeug.urls import iri_to_uri

import zipshort.inputs as inputs
from zipshort.config import Settings
from zipshort.events import Visitor
from zipshort.runtime import Runtime
from zipshort.urls import environ_scheme

SPOOL_KEY = "zipshort.spool"
RUNTIME_KEY = "zipshort"  # where create_app keeps the Runtime among the app's extensions


def runtime(app: Flask | None = None) -> Runtime:
    """The app's Runtime (settings, hasher, limiter, storage, events): THE way every face and entry point
    reaches it (``tests/unit/test_runtime_access.py``). ``app`` defaults to the current one."""
    return (app if app is not None else current_app).extensions[RUNTIME_KEY]


def visit_facts() -> Visitor:
    """What this request says about who is visiting, as received (analytics and link rules parse it later).

    The address is the socket's, or the forwarded one only behind ``core.trust_proxy`` (ProxyFix has applied it).
    """
    return environ_facts(request.environ, request.host, runtime().settings.urls.country_header)


def environ_facts(environ: dict[str, Any], host: str, country_header: str = "") -> Visitor:
    """:func:`visit_facts` read straight from a WSGI environ (this runs on every counted visit); ``host`` is the
    request's checked Host. Paths are decoded as Werkzeug decodes them."""
    get = environ.get
    return Visitor(
        address=get("REMOTE_ADDR") or "",
        user_agent=get("HTTP_USER_AGENT", "")[:512],
        referrer=get("HTTP_REFERER", "")[:1024],
        do_not_track=get("HTTP_DNT") == "1" or get("HTTP_SEC_GPC") == "1",
        scheme=environ_scheme(environ), host=host,
        root_path=(get("SCRIPT_NAME") or "").encode("latin-1").decode(errors="replace").rstrip("/"),
        path="/" + (get("PATH_INFO") or "").encode("latin-1").decode(errors="replace").lstrip("/"),
        query=get("QUERY_STRING", "").encode("latin-1"),
        country_hint=get("HTTP_" + country_header.upper().replace("-", "_")) if country_header else None,
        accept_language=get("HTTP_ACCEPT_LANGUAGE", "")[:512],
    )


PERMANENT_REDIRECTS = (301, 308)


def redirect_answer(settings: Settings, location: str, no_store: bool = False, varies: bool = False) -> Response:
    """A bare redirect to ``location`` with ``urls.redirect_status`` (Shlink's REDIRECT_STATUS_CODE): Location
    only, no body (headers: :func:`redirect_headers`)."""
    return Response(status=settings.urls.redirect_status,
                    headers=redirect_headers(settings, location, no_store, varies))


# Every HTML page's policy (added by the app's after-request hook; the redirect lane's password page sends it too)
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")


def redirect_headers(settings: Settings, location: str, no_store: bool = False,
                     varies: bool = False) -> list[tuple[str, str]]:
    """The headers of a redirect to ``location``: Location, and the caching rule. A permanent redirect (301, 308)
    carries ``Cache-Control: <redirect_cache_visibility>,max-age=<redirect_cache_seconds>`` as Shlink's does,
    unless the answer must reach zipshort every time: ``no_store`` (a limited or protected link: ``no-store``
    whatever the status) or ``varies`` (the visitor decides where it goes: ``no-store`` on a permanent status,
    nothing on a temporary one)."""
    urls = settings.urls
    headers = [("Location", location if location.isascii() else iri_to_uri(location))]
    if no_store or (varies and urls.redirect_status in PERMANENT_REDIRECTS):
        headers.append(("Cache-Control", "no-store"))
    elif urls.redirect_status in PERMANENT_REDIRECTS:
        headers.append(("Cache-Control", f"{urls.redirect_cache_visibility},max-age={urls.redirect_cache_seconds}"))
    return headers


def original_path() -> str:
    """The request's path as the visitor sent it (percent-encoded), for the ``{ORIGINAL_PATH}`` placeholder."""
    return quote(request.path, safe="/:@!$&'()*+,;=-._~")


class CheckedFields(ImmutableMultiDict):
    """Query and form fields; a NUL in a name or value (``%00``) is refused with a 400 naming the field,
    the same on SQLite and PostgreSQL (which cannot store it). Werkzeug already keeps invalid UTF-8
    percent-encoded, so no lone surrogate gets this far."""

    def __init__(self, mapping: Any = None) -> None:
        super().__init__(mapping)
        for key, value in self.items(multi=True):
            inputs.check_storable(key, "a field name")
            if isinstance(value, str):
                inputs.check_storable(value, key)


class SegmentConverter(BaseConverter):
    """The default URL converter (``<name>``), except that a segment holding NUL (``%00``) matches no route:
    a 404 in the caller's dialect, instead of an id no database can even look up."""

    regex = "[^/\\x00]+"


class ZipshortRequest(Request):
    """Flask's request; when a view set ``environ[SPOOL_KEY]``, file parts are written through it.

    Werkzeug would otherwise spool every file part to its own temp file, which the upload then
    copies into storage: one write of the whole file more than needed. JSON bodies are parsed by
    ``zipshort.inputs`` (nesting, surrogates, NUL, numbers), query and form fields are CheckedFields.
    """

    parameter_storage_class = CheckedFields

    @property
    def json_module(self) -> Any:
        """Request bodies always parse through ``zipshort.inputs``."""
        return inputs

    @json_module.setter
    def json_module(self, value: Any) -> None:
        """Ignored: Flask assigns ``app.json`` to every request, which would skip the checks."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        factory: Callable[[], Any] | None = self.environ.get(SPOOL_KEY)
        if factory is not None:
            return factory()
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)


class TrustedHosts(list):
    """``core.trusted_hosts`` plus every verified custom domain (Flask's TRUSTED_HOSTS only iterates it).

    The configured names come first, so requests to them never look further. A custom domain is trusted
    once its owner proved control of the name (services/domains.py), never on a mere claim: anyone may add
    any hostname, so admitting unproven ones would make the setting admit every Host a user types.
    """

    def __init__(self, configured: list[str], custom: Callable[[Any], frozenset[str]], app: Any) -> None:
        super().__init__(configured)
        self.custom = custom
        self.app = app
        self.engine: Any = None

    def __iter__(self) -> Iterator[str]:
        yield from list.__iter__(self)
        if self.engine is None:  # Flask checks the host before it pushes the app context
            from zipshort.extensions import db

            with self.app.app_context():
                self.engine = db.engine
        yield from self.custom(self.engine)
