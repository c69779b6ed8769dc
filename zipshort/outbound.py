"""Requests this server sends to the outside world on a user's behalf.

DNS TXT look-ups (custom domain verification) go through the system resolver or the configured
nameservers, never to a server a user names. HTTP requests to URLs users give (webhooks, domain checks)
go through :func:`fetch`, which refuses every address that is not public unicast (SSRF: cloud metadata,
the database, Redis, the admin interfaces on the private network) unless the operator allows its network
(``outbound.allowed_networks``), on every redirect hop, and connects to the address it checked.
Nothing here imports Flask.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Sequence, Union
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from zipshort.config import parse_nameserver
from zipshort.errors import Unavailable, ValidationError, ZipshortError

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _resolver(nameservers: Sequence[str], timeout: float) -> dns.resolver.Resolver:
    """A fresh resolver (no cache: a record the user just created must be seen at once)."""
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(s)) for s in nameservers]
    else:
        try:
            resolver = dns.resolver.Resolver()
        except (dns.resolver.NoResolverConfiguration, OSError):
            raise Unavailable("This server has no DNS resolver configured; set domain_verification.nameservers",
                              code="dns_unavailable") from None
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def txt_values(name: str, nameservers: Sequence[str] = (), timeout: float = 5.0) -> list[str]:
    """Every TXT string at ``name`` (each record's strings joined, as DNS providers split long values).

    An absent name or record gives ``[]``.

    Raises:
        Unavailable: the resolver did not answer in ``timeout`` seconds, or failed (SERVFAIL, refused).
    """
    resolver = _resolver(nameservers, timeout)
    try:
        answer = resolver.resolve(dns.name.from_text(name), "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as exc:
        raise Unavailable(f"The DNS look-up of {name} failed ({exc.__class__.__name__}); try again later",
                          code="dns_unavailable") from None
    except (dns.exception.DNSException, UnicodeError):  # a name DNS cannot carry: nothing can be there
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


# --- HTTP, guarded against server-side request forgery ------------------------------------------------

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
REDIRECTS = (301, 302, 303, 307, 308)


class DestinationRefused(ValidationError):
    """A URL this server will not fetch: not http(s), credentials in it, or an address that is not public."""

    code = "destination_refused"


class FetchFailed(ZipshortError):
    """The destination could not be reached or answered badly (connection, TLS, timeout, too many redirects)."""

    status = 502
    code = "fetch_failed"


@dataclass(frozen=True)
class Fetched:
    """What a guarded fetch got back (the body cut at ``max_bytes``), and where from after redirects."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, NAT64, 6to4, Teredo), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo is not None else None


def address_allowed(ip: IPAddress, allowed_networks: Sequence[str] = ()) -> bool:
    """Whether this server may connect to ``ip``: a public unicast address, or one in ``allowed_networks``.

    Private, loopback, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast,
    reserved and unspecified addresses are refused, also when wrapped in IPv6 (``::ffff:10.0.0.1``).
    """
    if any(ip in ipaddress.ip_network(net, strict=False) for net in allowed_networks
           if ipaddress.ip_network(net, strict=False).version == ip.version):
        return True
    inner = embedded_ipv4(ip)
    if inner is not None:
        return address_allowed(inner, allowed_networks)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_unspecified or ip.is_private)


def resolve_public(host: str, port: int, allowed_networks: Sequence[str] = ()) -> str:
    """One address of ``host`` this server may connect to; refused when ANY of its addresses is not allowed.

    Refusing on any (not picking a good one) keeps a name with a public and a private address from being
    used to reach the private one; the caller connects to the address returned, never resolving again, so
    the answer cannot change between the check and the connection (DNS rebinding).

    Raises:
        DestinationRefused: a refused address. FetchFailed: the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"{host} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))  # IP sockaddrs: (host, port, …)
    for text in addresses:
        if not address_allowed(ipaddress.ip_address(text.split("%", 1)[0]), allowed_networks):
            raise DestinationRefused(f"{host} resolves to {text}, an address this server does not contact "
                                     "(private, loopback, link-local, multicast or reserved)")
    if not addresses:
        raise FetchFailed(f"{host} has no address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to a checked address, sending the name in Host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """A TLS connection to a checked address; the certificate is verified against the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _abort(conn: http.client.HTTPConnection, cut_off: threading.Event) -> None:
    """Cut a connection off at the fetch's deadline (the blocked read then fails or ends)."""
    cut_off.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL this server may fetch. Raises DestinationRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("Not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("Only http and https URLs with a host can be fetched")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("URLs with credentials in them are not fetched")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def fetch(url: str, *, allowed_networks: Sequence[str] = (), timeout: float = 5.0, max_redirects: int = 3,
          max_bytes: int = 65536, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> Fetched:
    """Request ``url`` from this server, following redirects, each hop checked by :func:`resolve_public`.

    A 303, and a 301/302 after POST, continue as GET without a body (as browsers do).

    ``timeout`` bounds the whole fetch, redirects included: a server that dribbles its headers or body a
    byte at a time is cut off when it runs out, not after each read.

    Raises:
        DestinationRefused: a hop's URL or address is refused. FetchFailed: unreachable, timed out, TLS
        failure, or more than ``max_redirects`` redirects.
    """
    deadline = time.monotonic() + timeout
    for _ in range(max_redirects + 1):
        scheme, host, port, path = _split(url)
        address = resolve_public(host, port, allowed_networks)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"Could not fetch {url}: timed out after {timeout:g} s")
        conn = (_PinnedHTTPS if scheme == "https" else _PinnedHTTP)(host, port, address, remaining)
        cut_off = threading.Event()
        watchdog = threading.Timer(remaining, _abort, args=(conn, cut_off))
        watchdog.start()
        try:
            conn.request(method, path, body=body, headers={"User-Agent": "zipshort", **(headers or {})})
            response = conn.getresponse()
            content = response.read(max_bytes)
            got = Fetched(url, response.status, {k.lower(): v for k, v in response.getheaders()}, content)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS, bad answer
            if cut_off.is_set():
                raise FetchFailed(f"Could not fetch {url}: timed out after {timeout:g} s") from None
            raise FetchFailed(f"Could not fetch {url}: {exc.__class__.__name__}: {exc}") from None
        finally:
            watchdog.cancel()
            conn.close()
        if cut_off.is_set():  # a cut-off answer can look complete (its headers or body end at the cut)
            raise FetchFailed(f"Could not fetch {url}: timed out after {timeout:g} s")
        if got.status not in REDIRECTS or "location" not in got.headers:
            return got
        url = urljoin(url, got.headers["location"])
        if got.status == 303 or (got.status in (301, 302) and method == "POST"):
            method, body = "GET", None
    if not max_redirects:
        raise FetchFailed(f"The answer was a redirect (HTTP {got.status}), which is not followed")
    raise FetchFailed(f"More than {max_redirects} redirects")


def check_url(url: str, allowed_networks: Sequence[str] = ()) -> None:
    """Refuse a URL :func:`fetch` would refuse, before anything is sent (a webhook endpoint when it is saved).

    Raises:
        DestinationRefused: not http(s), credentials in it, an address that is not allowed, or a host that
        does not resolve.
    """
    _, host, port, _ = _split(url)
    try:
        resolve_public(host, port, allowed_networks)
    except FetchFailed as exc:
        raise DestinationRefused(exc.message) from None
