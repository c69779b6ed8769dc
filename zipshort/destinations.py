"""Destination validation: an allowlist of schemes, a host, no user-info, whitespace or control characters;
the pure half of the redirect-loop check (which URLs point at one of this server's link routes); and the
merge of a visitor's query string into a destination (Shlink's ``forwardQuery``, ``forward_query``)."""

from __future__ import annotations

import ipaddress
import posixpath
import re
import socket
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from sqlalchemy import exists, select

from zipshort.config import Settings
from zipshort.errors import ValidationError
from zipshort.extensions import db
from zipshort.models import CustomDomain

_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_HOST = re.compile(r"(?:[A-Za-z0-9\-._~%!$&'()*+,;=]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


def _query_pairs(query: bytes) -> list[tuple[bytes, bytes | None]]:
    """A query string as (name, value) pairs, decoded as PHP's parsers do (``+`` is a space); a name without
    ``=`` has no value (None); empty parts are skipped."""
    pairs: list[tuple[bytes, bytes | None]] = []
    for part in query.split(b"&"):
        if part:
            name, equals, value = part.partition(b"=")
            pairs.append((unquote_to_bytes(name.replace(b"+", b" ")),
                          unquote_to_bytes(value.replace(b"+", b" ")) if equals else None))
    return pairs


def _encoded(value: bytes) -> str:
    """RFC 3986 encoding (PHP's rawurlencode): everything but letters, digits and ``-._~`` percent-encoded."""
    return quote(value, safe="")


def forward_query(destination: str, visitor_query: bytes) -> str:
    """``destination`` with the visitor's query string merged in, exactly as Shlink builds its Location.

    The destination's own parameters come first, in their order, then the visitor's new names in theirs; a
    name in both takes the visitor's value(s) at the destination's place (the visitor wins). Names are kept
    verbatim (no PHP ``_`` mangling), a repeated name keeps every value, and the merged query is re-encoded
    RFC 3986 style (``?foo bar=1`` becomes ``?foo%20bar=1``). The destination's fragment stays last. Without
    a visitor query the destination is returned unchanged.
    """
    if not visitor_query:
        return destination
    base, hashed, fragment = destination.partition("#")
    path, _, own_query = base.partition("?")
    merged: dict[bytes, list[bytes | None]] = {}
    for name, value in _query_pairs(own_query.encode()):
        merged.setdefault(name, []).append(value)
    visitor: dict[bytes, list[bytes | None]] = {}
    for name, value in _query_pairs(visitor_query):
        visitor.setdefault(name, []).append(value)
    merged.update(visitor)  # an existing name keeps its place with the visitor's values; new names go last
    query = "&".join(_encoded(name) if value is None else f"{_encoded(name)}={_encoded(value)}"
                     for name, values in merged.items() for value in values)
    return path + (f"?{query}" if query else "") + (f"#{fragment}" if hashed else "")


def validate_web_url(value: object, max_length: int, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return ``value`` if it is an absolute URL with an allowed scheme and a host.

    Raises:
        ValidationError: not a string, too long, whitespace/control characters, another scheme, no host,
        or user-info (``https://user:pass@host``: credentials in a link, and a way to disguise its host).
    """
    if not isinstance(value, str) or not value:
        raise ValidationError("Destination is required", code="invalid_url", field="destination")
    if len(value) > max_length:
        raise ValidationError(f"Destination must be at most {max_length} characters", code="invalid_url",
                              field="destination")
    if _CONTROL.search(value):
        raise ValidationError("Destination must not contain spaces or control characters", code="invalid_url",
                              field="destination")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationError("Destination is not a valid URL", code="invalid_url", field="destination") from None
    if parts.scheme.lower() not in schemes:
        allowed = " or ".join(s + "://" for s in schemes)
        raise ValidationError(f"Destination must start with {allowed}", code="invalid_url", field="destination")
    if "@" in parts.netloc:
        raise ValidationError("Destination must not contain a user name or password (user@host)",
                              code="invalid_url", field="destination")
    if not parts.hostname or not _HOST.fullmatch(parts.netloc) or "\\" in value.split("?", 1)[0]:
        raise ValidationError("Destination must have a valid host", code="invalid_url", field="destination")
    return value


def canonical_host(host: str) -> str:
    """A host name as a browser resolves it: lower case, no trailing dot, IDNA, IP addresses in one spelling."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):  # 2130706433, 0x7f.1, 127.1: browsers read these as IPv4 too
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def request_path(path: str) -> str:
    """The path a server routes for ``path``: percent-decoded, repeated slashes merged, dot segments resolved."""
    merged = re.sub(r"/{2,}", "/", unquote(path) or "/")
    resolved = posixpath.normpath(merged)
    return resolved + "/" if merged.endswith("/") and resolved != "/" else resolved


def link_route_host(url: str, routes: tuple[str, ...]) -> str | None:
    """The canonical host of a web URL whose path lies under one of ``routes`` (e.g. ``/go/…``), else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = request_path(parts.path)
    if not parts.hostname or not any(path.startswith(route.rstrip("/") + "/") for route in routes):
        return None
    return canonical_host(parts.hostname)


def host_of(entry: str) -> str:
    """The canonical host of a configured name or a Host header (``name``, ``name:port``, ``[v6]:port``)."""
    try:
        hostname = urlsplit("//" + entry.strip()).hostname
    except ValueError:
        hostname = None
    return canonical_host(hostname or entry)


DYNAMIC_ROUTE = "/dl"  # hozip's Dynamic Links redirect too (public/__init__.py mounts them here)
LOOP_MESSAGE = "must not be a short link of this server (a link to a link can loop)"


class OwnHosts:
    """This server's names, to refuse destinations that point back at its own short links.

    A link to one of our links (``<urls.route>/…`` or a Dynamic Link ``/dl/…``) on any name this
    server answers to redirects to itself or into a chain that can loop, spending views on every
    turn. File routes (``/u``, ``/raw``, ``/view``, ``/r``) never redirect to a link, so links to
    hosted files stay allowed. The names: core.default_domain and DOMAINS, core.trusted_hosts,
    files.content_domain, the Host the request came in on, and every verified custom domain (looked
    up only for a URL whose path is a link route, so ordinary destinations cost no query).
    """

    def __init__(self, settings: Settings, request_host: str = "") -> None:
        names = (*settings.allowed_domains, *settings.core.trusted_hosts, settings.files.content_domain, request_host)
        self.routes = (settings.urls.route, DYNAMIC_ROUTE)
        self.names = {host_of(n) for n in names if n and not n.startswith(".")}
        self.suffixes = tuple(canonical_host(n) for n in settings.core.trusted_hosts if n.startswith("."))
        self._custom: dict[str, bool] = {}

    def points_home(self, url: str) -> bool:
        """Whether ``url`` is one of this server's short links."""
        host = link_route_host(url, self.routes)
        if host is None:
            return False
        if host in self.names or any(host == s or host.endswith("." + s) for s in self.suffixes):
            return True
        if host not in self._custom:
            self._custom[host] = bool(db.session.scalar(select(exists().where(
                CustomDomain.hostname == host, CustomDomain.verified_at.is_not(None)))))
        return self._custom[host]

    def refuse(self, kind: str, destination: str, label: str = "Destination", field: str = "destination") -> None:
        """Raise when a web destination is one of this server's short links.

        Raises:
            ValidationError: "<label> must not be a short link of this server …", for ``field``.
        """
        if kind == "link" and self.points_home(destination):
            raise ValidationError(f"{label} {LOOP_MESSAGE}", code="invalid_url", field=field)

    def refuse_rules(self, rules: list[dict[str, Any]] | None) -> None:
        """:meth:`refuse` for each validated rule's destination (named by its priority, as rules are sorted)."""
        for rule in rules or []:
            try:
                self.refuse(rule["destination"]["type"], rule["destination"]["value"],
                            f"rules: the destination of the rule with priority {rule['priority']}", "rules")
            except ValidationError as exc:  # the leaf at fault, for dialects that list it (Shlink's longUrl)
                raise ValidationError(exc.message, code=exc.code, field=exc.field,
                                      extra={"element": "destination"}) from None
