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

import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from zipshort.destinations import forward_query
from zipshort.extensions import db
from zipshort.models import File, Link
from zipshort.services.linkfields import merge_utm, target_of

# Link-preview fetchers (chat apps, social networks, search engines): they get the meta tags page.
PREVIEW_BOTS = re.compile(r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|discordbot|linkedinbot|"
                          r"telegrambot|whatsapp|pinterest|redditbot|googlebot|bingbot|applebot|skypeuripreview|"
                          r"iframely|embedly|vkshare|mastodon|bluesky|cardyb|signal|mattermost|zulip", re.IGNORECASE)
_OS_FAMILIES = {"ios": "ios", "android": "android", "windows": "windows", "mac os x": "macos", "macos": "macos",
                "chrome os": "chromeos", "chromeos": "chromeos", "linux": "linux", "ubuntu": "linux",
                "fedora": "linux", "debian": "linux", "ipados": "ios"}


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


@dataclass(frozen=True)
class Visitor:
    """What the request tells about the visitor."""

    user_agent: str = ""
    languages: tuple[str, ...] = ()  # Accept-Language, best first, lower-case
    country: str | None = None  # ISO 3166 alpha-2, upper-case
    query: bytes = b""  # the raw query string, merged into the destination of a link with forward_query


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
    family = (result.family if result else "Other").lower()
    return _OS_FAMILIES.get(family, "linux" if "linux" in family else "other")


def is_preview_bot(user_agent: str) -> bool:
    """Whether the request comes from a link-preview fetcher."""
    return bool(user_agent) and PREVIEW_BOTS.search(user_agent) is not None


def rule_matches(rule: dict[str, Any], visitor: Visitor) -> bool:
    """Every criterion the rule sets must match; a rule without criteria never matches."""
    countries, languages, os_types = rule.get("countries") or [], rule.get("languages") or [], rule.get("osTypes") or []
    if not (countries or languages or os_types):
        return False
    if countries and (visitor.country or "") not in countries:
        return False
    if languages:
        primary = visitor.languages[0] if visitor.languages else ""
        if not any(primary == lang or primary.startswith(lang + "-") for lang in languages):
            return False
    if os_types and os_type(visitor.user_agent) not in os_types:
        return False
    return True


def decide(link: Link, visitor: Visitor) -> Decision:
    """Where this visit goes and how (first matching rule by priority, else the main destination)."""
    kind, value = link.destination_type, link.destination
    for rule in sorted(link.rules or [], key=lambda r: r.get("priority", 0)):
        if rule_matches(rule, visitor):
            kind, value = rule["destination"]["type"], rule["destination"]["value"]
            break
    location = target_of(kind, value)
    if kind == "link":
        location = merge_utm(location, link.utm)
        if link.forward_query:
            location = forward_query(location, visitor.query)
    if (link.title or link.description or link.image) and is_preview_bot(visitor.user_agent):
        return Decision("preview", location, link.title, link.description, preview_image(link.image))
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


def load(link_id: str) -> Link:
    """The link row a smart visit needs (read after the counting statement)."""
    link = db.session.get(Link, link_id)
    db.session.rollback()  # end the read transaction; the row's attributes stay loaded
    if link is None:
        raise LookupError(link_id)
    return link
