"""What a User-Agent string says about a visitor: browser, OS, device class and whether it is a bot.

Families come from ua-parser (the maintained uap-core regexes, ``ua-parser-builtins``); bots from crawlerdetect
(the Python port of the PHP CrawlerDetect that Shlink uses for ``potentialBot``) or ua-parser's ``Spider``
device. The device class is a rule of thumb on top of those families. Parsing one new string costs about a
millisecond (ua-parser's pure-Python resolver and crawlerdetect's one large pattern), so results are cached: the
same few hundred agents make almost every visit. ``ua-parser-rs``, when installed, makes ua-parser's part ~30x
faster without any change here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

MAX_LENGTH = 512  # longer strings are cut here before parsing (and before they become a cache key)
UNKNOWN = "unknown"
DEVICES = ("desktop", "mobile", "tablet", "bot", "other")

# ua-parser device families (and brands) that are tablets or phones whatever the rest of the string says.
_TABLET_DEVICES = frozenset({"iPad", "Kindle", "Kindle Fire", "Generic Tablet", "BlackBerry Playbook", "Galaxy Tab",
                             "Xoom", "Surface"})
_TABLET_BRANDS = frozenset({"Generic_Android_Tablet"})
_MOBILE_DEVICES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "iOS-Device"})
_MOBILE_OS = frozenset({"iOS", "Windows Phone", "Windows Mobile", "Windows CE", "BlackBerry OS", "Symbian OS",
                        "Symbian^3", "Bada", "KaiOS", "Firefox OS", "Maemo", "MeeGo", "Sailfish", "webOS"})
_MOBILE_BROWSERS = frozenset({"Opera Mini", "Opera Mobile"})
_DESKTOP_OS = frozenset({"Windows", "Mac OS X", "macOS", "Chrome OS", "Linux", "Ubuntu", "Debian", "Fedora",
                         "Red Hat", "SUSE", "openSUSE", "Mint", "Arch Linux", "Gentoo", "Slackware", "Mandriva",
                         "FreeBSD", "OpenBSD", "NetBSD", "Solaris", "Kubuntu", "Xubuntu", "Lubuntu", "CentOS"})
# Televisions, consoles and set-top boxes often send a desktop or Android browser's string plus one of these.
_OTHER_MARKERS = ("smart-tv", "smarttv", "googletv", "android tv", "appletv", "crkey", "roku", "hbbtv", "netcast",
                  "web0s", "bravia", "aftb", "aftm", "xbox", "playstation", "nintendo", "tizen")


@dataclass(frozen=True, slots=True)
class Agent:
    """One User-Agent string, classified."""

    browser: str  # family: "Chrome", "Firefox", "Mobile Safari", "Googlebot", "curl"…; "unknown"
    browser_version: str  # major version, "" when unknown
    os: str  # family: "Windows", "Mac OS X", "iOS", "Android", "Ubuntu"…; "unknown"
    device: str  # one of DEVICES
    bot: bool  # a potential bot (crawlerdetect, or ua-parser's Spider device)


def _family(value: object | None) -> str:
    family = getattr(value, "family", None)
    return family if isinstance(family, str) and family and family != "Other" else UNKNOWN


def _device(ua: str, browser: str, os: str, device_family: str, brand: str) -> str:
    """desktop, mobile, tablet or other for a string that is not a bot."""
    lowered = ua.lower()
    if any(marker in lowered for marker in _OTHER_MARKERS) or device_family.startswith(("PlayStation", "Nintendo")):
        return "other"
    if device_family in _TABLET_DEVICES or brand in _TABLET_BRANDS or "Silk" in ua or "Kindle" in ua:
        return "tablet"
    if device_family in _MOBILE_DEVICES or os in _MOBILE_OS or browser in _MOBILE_BROWSERS:
        return "mobile"
    if os == "Android":
        # Android phones' browsers say "Mobile" (Chrome: "Mobile Safari", Firefox: "Mobile;"); tablets do not.
        return "mobile" if "Mobile" in ua else "tablet"
    if os in _DESKTOP_OS or "Windows NT" in ua or ("X11" in ua and "Linux" in ua):
        return "desktop"
    if "J2ME" in ua or "MIDP" in ua:
        return "mobile"
    return "other"


class AgentParser:
    """``parser(user_agent)`` → ``Agent``; thread-safe, with a bounded LRU cache of the last ``max_entries``
    strings (truncated to ``MAX_LENGTH`` characters first)."""

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        from crawlerdetect import CrawlerDetect

        self.max_entries = max_entries
        # is_crawler's answer depends only on its argument; the detector's ``matches`` attribute, which parallel
        # calls overwrite, is never read here
        self._crawlers = CrawlerDetect()
        # functools.lru_cache is thread-safe and bounded; one cache per parser, nothing at module level.
        self._cached = functools.lru_cache(maxsize=max_entries)(self._parse)

    def __call__(self, user_agent: str) -> Agent:
        return self._cached((user_agent or "")[:MAX_LENGTH])

    def cache_size(self) -> int:
        """How many strings the cache holds now (never more than ``max_entries``)."""
        return self._cached.cache_info().currsize

    def _parse(self, ua: str) -> Agent:
        import ua_parser

        if not ua.strip():
            return Agent(UNKNOWN, "", UNKNOWN, "other", False)
        result = ua_parser.parse(ua)
        browser, os = _family(result.user_agent), _family(result.os)
        version = (result.user_agent.major or "") if result.user_agent else ""
        device_family = result.device.family if result.device else ""
        brand = (result.device.brand or "") if result.device else ""
        bot = device_family == "Spider" or bool(self._crawlers.is_crawler(ua))
        device = "bot" if bot else _device(ua, browser, os, device_family, brand)
        return Agent(browser, version, os, device, bot)
