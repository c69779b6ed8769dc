"""Every absolute URL zipshort hands out (short links, files, raw files, QR data, folders, thumbnails,
invites, dynamic links, client configs, previews, redirects to the content domain) is built here, with
one scheme rule:

1. ``core.return_https_urls`` on: ``https``;
2. otherwise the scheme the client used, as the request sees it. With ``core.trust_proxy`` on,
   ``create_app`` wraps the app in werkzeug's ``ProxyFix``, so that is the trusted proxy's
   ``X-Forwarded-Proto``; with it off, the header is ignored and it is the scheme of the connection.

Which host a URL names (the link's custom domain, ``files.content_domain``, a Zipline domain header,
``core.default_domain``, the request's Host) is the caller's choice, passed as ``host``; the request's
Host when none is given.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import request

from zipshort.codes import url_segment
from zipshort.config import Settings


def scheme(settings: Settings) -> str:
    """``https`` with ``core.return_https_urls``, else the request's scheme (after trusted proxy headers)."""
    return "https" if settings.core.return_https_urls else request.scheme


def public_url(settings: Settings, path: str = "", host: str | None = None) -> str:
    """``<scheme>://<host><path>``: ``path`` starts with ``/`` (or is empty for the origin) and is already quoted."""
    return f"{scheme(settings)}://{host or request.host}{path}"


def origin(settings: Settings) -> str:
    """This server's origin for pages and client configs: ``core.default_domain``, else the request's Host."""
    return public_url(settings, "", settings.core.default_domain or None)


def link_url(settings: Settings, link: Any, host: str | None = None) -> str:
    """A short link: ``<scheme>://<host><urls.route>/<vanity or code>``."""
    return public_url(settings, f"{settings.urls.route}/{link.slug}", host)


def file_url(settings: Settings, name: str, host: str | None = None) -> str:
    """A file: ``<scheme>://<files.content_domain or host><files.route>/<name>``."""
    return public_url(settings, f"{settings.files.route}/{url_segment(name)}", settings.files.content_domain or host)


def environ_scheme(environ: Mapping[str, Any]) -> str:
    """:func:`visited_scheme` of a WSGI environ (the redirect lane, before Flask makes a request of it)."""
    return str(environ.get("wsgi.url_scheme", "http"))


def visited_scheme() -> str:
    """The scheme the current request arrived with (after ProxyFix behind ``core.trust_proxy``): only to record
    the URL a visitor asked for (visit analytics), never to build one we hand out."""
    return request.scheme
