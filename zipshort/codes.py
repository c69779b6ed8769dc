"""Short codes: random generation, vanity rules and reserved words."""

from __future__ import annotations

import re
from urllib.parse import quote

from zipshort.errors import ValidationError
from zipshort.security import random_string

VANITY_CHARS = "letters A–Z and a–z, digits, '-', '_' and '.' (not first or last, never '..')"
_VANITY_RE = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?")

# Words that could collide with a route, a file or a well-known path if a route were mounted at the root.
RESERVED = frozenset({
    "api", "static", "login", "logout", "register", "auth", "dashboard", "setup", "invite", "folder",
    "view", "u", "r", "raw", "go", "s", "admin", "health", "healthcheck", "metrics", "robots.txt",
    "favicon.ico", "sitemap.xml", ".well-known", "manifest.json", "short-link", "dl", "qr",
})


# Zipline v3's "Zws" codes: zero-width characters only (ZERO WIDTH SPACE, WORD JOINER, ZERO WIDTH NON-JOINER
# and JOINER), so the link looks like the bare route. Four symbols need more places than letters do.
ZWS_ALPHABET = "\u200b\u2060\u200c\u200d"
ZWS_MIN_LENGTH = 16  # 4**16 ≈ 4.3 billion codes

_POSSIBLE_CODE = re.compile(r"[A-Za-z0-9._\-\u200b\u2060\u200c\u200d]{1,255}")


def could_be_code(value: str) -> bool:
    """Whether ``value`` is shaped like any code zipshort issues (cheap filter before a lookup)."""
    return _POSSIBLE_CODE.fullmatch(value) is not None


def random_code(length: int, alphabet: str) -> str:
    """A random code of ``length`` characters from ``alphabet``."""
    return random_string(length, alphabet)


def url_segment(name: str) -> str:
    """A name as it goes into a returned URL, percent-encoded except its zero-width characters, which stay raw
    so the URL looks like the bare route (as Zipline v3 returns it; browsers encode them when following it)."""
    return "".join(ch if ch in ZWS_ALPHABET else quote(ch) for ch in name)


def invisible_code(length: int) -> str:
    """A random code of zero-width characters (at least ``ZWS_MIN_LENGTH`` of them)."""
    return random_string(max(length, ZWS_MIN_LENGTH), ZWS_ALPHABET)


def normalise_vanity(value: str, max_length: int, reserved: frozenset[str] = frozenset()) -> str:
    """Validate a vanity code and return it unchanged (case is kept; uniqueness ignores it).

    Raises:
        ValidationError: empty, too long, outside the character set, or reserved.
    """
    if not value:
        raise ValidationError("Vanity must not be empty", code="invalid_vanity", field="vanity")
    if len(value) > max_length:
        raise ValidationError(f"Vanity must be at most {max_length} characters", code="invalid_vanity",
                              field="vanity")
    if not _VANITY_RE.fullmatch(value) or ".." in value:
        raise ValidationError(f"Vanity may only contain {VANITY_CHARS}", code="invalid_vanity", field="vanity")
    if value.lower() in RESERVED or value.lower() in reserved:
        raise ValidationError(f"Vanity '{value}' is reserved", code="invalid_vanity", field="vanity")
    return value
