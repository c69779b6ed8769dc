"""What a visit to a "smart" link does: rules (language, OS, country), UTM, e-mail/phone targets,
cloaking (the destination in a frame page), deep links into mobile apps and link-preview tags for bots.

Deep linking (h0p's ``enableDeepLinking``): an Android visitor is sent to an ``intent://`` address for
the destination, so Android opens the app that handles the site (the known app's package for well-known
sites) and Chrome falls back to the web page (``S.browser_fallback_url``) when it is not installed.
iOS opens apps through universal links, which a plain https redirect already is, so iOS visitors
get the destination itself; a rule for ``osTypes: ["ios"]`` says where else they should go (an App
Store page, say).

Plain links never come here: the redirect's fast path handles them. A link is smart when its
row says so (``Link.smart``, kept by services/links.py on every write).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit

from sqlalchemy import bindparam, select

from zipshort.destinations import forward_query
from zipshort.events import Visitor as Seen
from zipshort.extensions import db
from zipshort.geoip import NOWHERE
from zipshort.models import File, Link, utcnow
from zipshort.runtime import Runtime
from zipshort.services.conditions import DESKTOP, MOBILE
from zipshort.services.linkfields import merge_utm, target_of
from zipshort.useragents import Agent

# Link-preview fetchers (chat apps, social networks, search engines): they get the meta tags page.
PREVIEW_BOTS = re.compile(r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|discordbot|linkedinbot|"
                          r"telegrambot|whatsapp|pinterest|redditbot|googlebot|bingbot|applebot|skypeuripreview|"
                          r"iframely|embedly|vkshare|mastodon|bluesky|cardyb|signal|mattermost|zulip", re.IGNORECASE)


# Sites whose Android app takes their https links; the package lets Android skip the chooser.
ANDROID_APPS = {
    "youtube.com": "com.google.android.youtube", "youtu.be": "com.google.android.youtube",
    "instagram.com": "com.instagram.android", "twitter.com": "com.twitter.android", "x.com": "com.twitter.android",
    "facebook.com": "com.facebook.katana", "open.spotify.com": "com.spotify.music",
    "tiktok.com": "com.zhiliaoapp.musically", "linkedin.com": "com.linkedin.android",
    "reddit.com": "com.reddit.frontpage", "amazon.com": "com.amazon.mShop.android.shopping",
    "wa.me": "com.whatsapp", "t.me": "org.telegram.messenger", "maps.google.com": "com.google.android.apps.maps",
    "play.google.com": "com.android.vending",
}


def android_app_link(url: str) -> str:
    """An ``intent://`` address that opens ``url`` in the app handling it, else in the browser."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    bare = host.removeprefix("www.").removeprefix("m.")
    package = ANDROID_APPS.get(host) or ANDROID_APPS.get(bare)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    extras = f"package={package};" if package else ""
    return (f"intent://{parts.netloc}{path}{query}#Intent;scheme={parts.scheme};{extras}"
            f"S.browser_fallback_url={quote(url, safe='')};end")


_PLATFORMS = {"ios": "ios", "ipados": "ios", "android": "android", "windows": "windows", "mac os x": "macos",
              "macos": "macos", "chrome os": "chromeos", "chromeos": "chromeos", "linux": "linux", "ubuntu": "linux",
              "fedora": "linux", "debian": "linux"}
# ua-parser's browser families (lower-case) → Shlink's browser names; the first matching prefix decides.
_BROWSERS = (("edge", "edge"), ("chrome", "chrome"), ("chromium", "chrome"), ("firefox", "firefox"),
             ("mobile safari", "safari"), ("safari", "safari"), ("opera", "opera"), ("android", "android_browser"))
# What each kind of criterion needs to know about the visitor (``visitor_of`` gathers only that).
_NEEDS = {"countries": "place", "languages": "languages", "osTypes": "agent", "device": "agent", "browser": "agent",
          "language": "languages", "query-param": "query", "any-value-query-param": "query",
          "valueless-query-param": "query", "geolocation-country-code": "place", "geolocation-city-name": "place"}


def platform_of(os_family: str) -> str:
    """A ua-parser OS family as an osType (``other`` for what is none of them)."""
    family = (os_family or "").lower()
    return _PLATFORMS.get(family, "linux" if "linux" in family else "other")


def browser_of(agent: Agent | None) -> str | None:
    """The visitor's browser as Shlink names it (None for any other)."""
    family = agent.browser.lower() if agent is not None else ""
    return next((name for prefix, name in _BROWSERS if family.startswith(prefix)), None)


def needs(rules: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """What evaluating ``rules`` needs: ``agent``, ``place``, ``languages``, ``query`` (plain rules need nothing)."""
    wanted = {_NEEDS[key] for rule in rules for key in ("countries", "languages", "osTypes") if rule.get(key)}
    wanted |= {_NEEDS[c["type"]] for rule in rules for c in rule.get("conditions") or [] if c["type"] in _NEEDS}
    return frozenset(wanted)


@functools.lru_cache(maxsize=2048)
def preferred_languages(accept_language: str) -> tuple[str, ...]:
    """The languages of an ``Accept-Language`` header accepted with q ≥ 0.9 (Shlink's rule), best first,
    lower-case, ``_`` read as ``-``; ``*`` is no language."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header(accept_language[:512].replace("_", "-"), LanguageAccept)
    return tuple(tag.lower() for tag, quality in parsed if quality >= 0.9 and tag != "*")[:10]


def language_matches(wanted: str, languages: tuple[str, ...]) -> bool:
    """Whether a preferred language is ``wanted``: the language equal and, when ``wanted`` has a region (or more
    subtags), those equal too; ``en`` matches ``en-GB``, ``en-US`` does not match ``en``."""
    parts = wanted.lower().replace("_", "-").split("-")
    return any(language.split("-")[:len(parts)] == parts for language in languages)


@functools.lru_cache(maxsize=1024)
def query_of(query: bytes) -> Mapping[str, str]:
    """A query string's parameters by name (the last value of a repeated name wins, as in PHP)."""
    return MappingProxyType(dict(parse_qsl(query[:8192].decode("utf-8", "replace"), keep_blank_values=True)))


def ip_matches(pattern: str, address: str) -> bool:
    """Whether an IPv4 ``address`` (an IPv4-mapped IPv6 one counts as IPv4) is in ``pattern``: one address, a
    CIDR block or an octet pattern with ``*``. Other addresses never match."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            return False
        ip = ip.ipv4_mapped
    if "/" in pattern:
        return ip in ipaddress.ip_network(pattern, strict=False)
    return all(want in ("*", str(int(have))) for want, have in zip(pattern.split("."), str(ip).split("."), strict=True))


def _as_utc(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc)


def condition_matches(condition: dict[str, Any], visitor: Visitor, os: str) -> bool:
    """One stored condition (services/conditions.py) for this visitor, whose OS as an osType is ``os``."""
    kind, key, value = condition["type"], condition.get("matchKey"), condition.get("matchValue") or ""
    if kind == "device":
        return value == os or (value == "mobile" and os in MOBILE) or (value == "desktop" and os in DESKTOP)
    if kind == "browser":
        return browser_of(visitor.agent) == value
    if kind == "language":
        return language_matches(value, visitor.languages)
    if kind in ("query-param", "any-value-query-param", "valueless-query-param"):
        have = query_of(visitor.query).get(key or "")
        if have is None:
            return False
        return have == value if kind == "query-param" else kind == "any-value-query-param" or have in ("", "0")
    if kind == "ip-address":
        return ip_matches(value, visitor.address)
    if kind == "geolocation-country-code":
        return (visitor.country or "").upper() == value.upper()
    if kind == "geolocation-city-name":
        return bool(visitor.city) and (visitor.city or "").casefold() == value.casefold()
    now = visitor.now or utcnow()
    if kind == "before-date":
        return now < _as_utc(value)
    if kind == "after-date":
        return now > _as_utc(value)
    return False  # a type this version does not know never matches


@dataclass(frozen=True)
class Visitor:
    """What the request tells about the visitor, as far as the link's rules need it (``visitor_of``)."""

    user_agent: str = ""
    languages: tuple[str, ...] = ()  # the languages accepted with q ≥ 0.9, best first, lower-case, '-' separated
    country: str | None = None  # ISO 3166 alpha-2, upper-case
    city: str | None = None  # English name, from a city database
    address: str = ""  # the client's address (the proxy's forwarded one only under core.trust_proxy)
    query: bytes = b""  # the raw query string (parsed by ``query_of`` only when a condition reads it)
    now: dt.datetime | None = None  # when the visit happens (None: now)
    agent: Agent | None = None  # the parsed User-Agent (None: only the OS is read from ``user_agent``)


@dataclass(frozen=True)
class Decision:
    """How to answer: ``redirect`` (302 to location), ``frame`` (cloaked) or ``preview`` (meta tags for bots)."""

    kind: str
    location: str
    title: str | None = None
    description: str | None = None
    image: str | None = None


@functools.lru_cache(maxsize=4096)
def os_type(user_agent: str) -> str:
    """The visitor's OS as a rule's osType (ua-parser's maintained regexes)."""
    from ua_parser import parse_os

    result = parse_os(user_agent or "")
    return platform_of(result.family if result else "Other")


def platform(visitor: Visitor) -> str:
    """The visitor's OS as an osType: from the parsed agent when there is one."""
    return platform_of(visitor.agent.os) if visitor.agent is not None else os_type(visitor.user_agent)


def is_preview_bot(user_agent: str) -> bool:
    """Whether the request comes from a link-preview fetcher."""
    return bool(user_agent) and PREVIEW_BOTS.search(user_agent) is not None


def rule_matches(rule: Mapping[str, Any], visitor: Visitor) -> bool:
    """Every list the rule sets has a value that matches, and every condition matches; a rule without criteria
    never matches."""
    countries, languages, os_types = rule.get("countries") or [], rule.get("languages") or [], rule.get("osTypes") or []
    conditions = rule.get("conditions") or []
    if not (countries or languages or os_types or conditions):
        return False
    if countries and (visitor.country or "") not in countries:
        return False
    if languages and not any(language_matches(lang, visitor.languages) for lang in languages):
        return False
    if os_types and platform(visitor) not in os_types:
        return False
    return all(condition_matches(condition, visitor, platform(visitor)) for condition in conditions)


def visitor_of(rt: Runtime, wanted: frozenset[str], seen: Seen, now: dt.datetime | None = None) -> Visitor:
    """The visitor as the rules need it (``wanted``: ``needs(rules)``, kept in ``SmartLink.needs``): the User-Agent
    parsed (cached, ``rt.agents``), the place looked up (``rt.country``) and the languages read only when some rule
    asks for them (the raw query string is parsed, cached, only by a query condition)."""
    place = rt.country.place(seen.country_hint, seen.address) if "place" in wanted else NOWHERE
    accept = seen.accept_language or ",".join(seen.languages)
    return Visitor(user_agent=seen.user_agent,
                   languages=preferred_languages(accept) if "languages" in wanted else (),
                   country=place.country, city=place.city, address=seen.address,
                   query=seen.query, now=now or utcnow(),
                   agent=rt.agents(seen.user_agent) if "agent" in wanted else None)


@dataclass(frozen=True)
class SmartLink:
    """What :func:`decide` reads of a smart link: a snapshot of its row, rules in priority order and the preview
    image resolved, so the link cache can keep it (``counters.CachedLink.smart``) and a visit loads nothing."""

    destination_type: str
    destination: str
    rules: tuple[Mapping[str, Any], ...] = ()
    utm: Mapping[str, str] | None = None
    forward_query: bool = False
    title: str | None = None
    description: str | None = None
    image: str | None = None  # a URL or a path on this server (``preview_image``), None when none or gone
    deep_linking: bool = False
    cloaking: bool = False
    needs: frozenset[str] = frozenset()  # what ``visitor_of`` must find out for the rules


def decide(link: SmartLink, visitor: Visitor) -> Decision:
    """Where this visit goes and how (first matching rule by priority, else the main destination)."""
    kind, value = link.destination_type, link.destination
    for rule in link.rules:
        if rule_matches(rule, visitor):
            kind, value = rule["destination"]["type"], rule["destination"]["value"]
            break
    location = target_of(kind, value)
    if kind == "link":
        location = merge_utm(location, dict(link.utm) if link.utm else None)
        if link.forward_query:
            location = forward_query(location, visitor.query)
    if (link.title or link.description or link.image) and is_preview_bot(visitor.user_agent):
        return Decision("preview", location, link.title, link.description, link.image)
    if link.deep_linking and kind == "link" and os_type(visitor.user_agent) == "android":
        return Decision("redirect", android_app_link(location))
    if link.cloaking and kind == "link":
        return Decision("frame", location, link.title)
    return Decision("redirect", location)


def preview_image(image: str | None) -> str | None:
    """The preview image as a URL or a path on this server: ``file:<id>`` (an image the owner uploaded, h0p's
    ``metaTags.imageId``) becomes ``/raw/<name>``; None when that file is gone."""
    if not image or not image.startswith("file:"):
        return image
    name = db.session.scalar(db.select(File.name).where(File.id == image[5:]))
    return f"/raw/{quote(name)}" if name else None


_SNAPSHOT = select(Link.destination_type, Link.destination, Link.rules, Link.utm, Link.forward_query, Link.title,
                   Link.description, Link.image, Link.deep_linking, Link.cloaking
                   ).where(Link.id == bindparam("id"))


def load(link_id: str) -> SmartLink:
    """The snapshot of a smart link a visit needs (read after the counting statement; one row, no relationships)."""
    try:
        row = db.session.execute(_SNAPSHOT, {"id": link_id}).first()
        if row is None:
            raise LookupError(link_id)
        image = preview_image(row.image)
    finally:
        db.session.rollback()  # end the read transaction at once
    rules = tuple(sorted(row.rules or [], key=lambda r: r.get("priority", 0)))
    return SmartLink(row.destination_type, row.destination, rules, row.utm, bool(row.forward_query), row.title,
                     row.description, image, bool(row.deep_linking), bool(row.cloaking), needs(rules))
