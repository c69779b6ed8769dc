"""Where a visitor is: a trusted proxy header (e.g. CF-IPCountry), an offline MaxMind or DB-IP ``.mmdb`` database
(country, and region and city from a city database), or else the country data embedded in ``iptocc`` (the five
Regional Internet Registries' allocations), so country rules work on a fresh install. Each app has one lookup, on
its ``Runtime``; databases are opened on the first look-up that needs them, and answers are cached (the same addresses
come back again and again, and parsing and classifying an address costs tens of microseconds)."""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

_COUNTRY = re.compile(r"[A-Z]{2}")
_NOT_COUNTRIES = frozenset({"XX", "T1"})  # Cloudflare: unknown, Tor
# ISO 3166-1's user-assigned codes name no country, except XK: Kosovo, as MaxMind and CLDR use it
_USER_ASSIGNED = re.compile(r"AA|Q[M-Z]|X[A-JL-Z]|ZZ")
# Python counts the documentation ranges as private; they are looked up (test databases hold them, real ones not).
_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                                                            "2001:db8::/32"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Place:
    """A visitor's place; None for what is not known."""

    country: str | None  # ISO 3166-1 alpha-2, upper case
    region: str | None  # first subdivision's English name (city databases only)
    city: str | None  # English name (city databases only)
    latitude: float | None = None  # city databases only: the location MaxMind gives (with an accuracy radius)
    longitude: float | None = None
    time_zone: str | None = None  # IANA name, city databases only


NOWHERE = Place(None, None, None)
# Longer keys are looked up without the cache, so odd input can neither fill it with big strings nor evict real
# visitors (the longest address text is 45 characters; a country header's value is two letters).
_MAX_ADDRESS, _MAX_HINT = 64, 16


@functools.lru_cache(maxsize=512)  # pure: the same code always has the same name
def country_name(code: str | None) -> str | None:
    """The English name of an ISO 3166-1 alpha-2 country code (CLDR's, through Babel: "Russia", "South Korea",
    as MaxMind's databases name them), or None for a code that names no country."""
    code = (code or "").upper()
    if not _COUNTRY.fullmatch(code) or _USER_ASSIGNED.fullmatch(code):
        return None
    from babel import Locale  # loaded on the first name asked for: the redirect never needs it

    name = Locale("en").territories.get(code)
    return name if isinstance(name, str) and name else None


def public_address(address: str) -> IPAddress | None:
    """The address worth looking up, or None for an invalid, private, loopback, link-local, multicast, reserved or
    unspecified one. An IPv4 address in IPv6 clothing (``::ffff:192.0.2.1``, from dual-stack sockets) is unwrapped."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return None
    if ip.is_private and not any(ip in network for network in _DOCUMENTATION):
        return None
    return ip


def header_country(value: str | None) -> str | None:
    """A proxy's country header counts only when it holds a real country code."""
    code = (value or "").strip().upper()
    return code if _COUNTRY.fullmatch(code) and code not in _NOT_COUNTRIES else None


def _english_name(record: Any) -> str | None:
    names = record.get("names") if isinstance(record, dict) else None
    name = names.get("en") if isinstance(names, dict) else None
    return name if isinstance(name, str) and name else None


def _mmdb_place(record: Any) -> Place:
    """A GeoIP2/GeoLite2/DB-IP Country or City record as a place."""
    if not isinstance(record, dict):
        return NOWHERE
    country = record.get("country") or record.get("registered_country") or {}
    code = country.get("iso_code") if isinstance(country, dict) else None
    subdivisions = record.get("subdivisions")
    region = _english_name(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else None
    location = record.get("location")
    latitude = longitude = zone = None
    if isinstance(location, dict):
        latitude, longitude = _coordinate(location.get("latitude"), 90), _coordinate(location.get("longitude"), 180)
        if latitude is None or longitude is None:
            latitude = longitude = None  # half a position is none
        found_zone = location.get("time_zone")
        zone = found_zone[:64] if isinstance(found_zone, str) and found_zone else None
    return Place(code.upper() if isinstance(code, str) else None, region, _english_name(record.get("city")),
                 latitude, longitude, zone)


def _coordinate(value: Any, limit: int) -> float | None:
    """A latitude (limit 90) or longitude (180) in degrees, or None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    degrees = float(value)
    return degrees if -limit <= degrees <= limit else None  # NaN fails both comparisons


class CountryLookup:
    """``lookup(headers, address)``: an ISO country code, or None when nothing knows (smart-link rules);
    ``lookup.place(header_value, address)``: country, region and city (visit analytics). Thread-safe, with a
    bounded LRU cache of the last ``max_entries`` places by (header value, address)."""

    def __init__(self, header: str, database: str, max_entries: int = 8192) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.header = header
        self.database = database
        self.max_entries = max_entries
        self._reader: Any = None
        self._embedded: Callable[[str], str | None] | None = None
        self._lock = threading.Lock()
        # functools.lru_cache is thread-safe and bounded; one cache per lookup, nothing at module level.
        self._cached = functools.lru_cache(maxsize=max_entries)(self._place)

    def cache_size(self) -> int:
        """How many places the cache holds now (never more than ``max_entries``)."""
        return self._cached.cache_info().currsize

    def _open(self) -> Any:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    import maxminddb

                    self._reader = maxminddb.open_database(self.database)
        return self._reader

    def _embedded_country(self, ip: IPAddress) -> str | None:
        if self._embedded is None:
            from iptocc import country_code  # data compiled into the wheel: no file to open, ~2 ms to import

            self._embedded = country_code
        code = self._embedded(str(ip))
        return code.upper() if isinstance(code, str) and _COUNTRY.fullmatch(code.upper()) else None

    def __call__(self, headers: Any, address: str) -> str | None:
        value = headers.get(self.header) if self.header else None
        if (code := header_country(value)) is not None:
            return code
        return self.place(None, address).country

    def place(self, header_value: str | None, address: str) -> Place:
        """The visitor's place. A valid value of the configured header gives the country (region and city are
        kept from a city database only when it agrees on the country); then the ``.mmdb`` database, then the
        embedded country data. Without a configured header, ``header_value`` is ignored."""
        hint = header_value if self.header else None
        if len(address) > _MAX_ADDRESS or (hint is not None and len(hint) > _MAX_HINT):
            return self._place(hint, address)
        return self._cached(hint, address)

    def _place(self, hint: str | None, address: str) -> Place:
        code = header_country(hint)
        if code is None:
            return self._locate(address)
        if self.database:
            found = self._locate(address)
            if found.country == code:
                return found
        return Place(code, None, None)

    def _locate(self, address: str) -> Place:
        ip = public_address(address)
        if ip is None:
            return NOWHERE
        if self.database:
            try:
                found = _mmdb_place(self._open().get(ip))
            except ValueError:  # an IPv6 address in an IPv4-only database
                found = NOWHERE
            if found.country is not None:
                return found
        return Place(self._embedded_country(ip), None, None)
