"""Destination validation: an allowlist of schemes, a host, no whitespace or control characters."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from zipshort.errors import ValidationError

_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_HOST = re.compile(r"(?:[A-Za-z0-9\-._~%!$&'()*+,;=]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def validate_web_url(value: object, max_length: int, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return ``value`` if it is an absolute URL with an allowed scheme and a host.

    Raises:
        ValidationError: not a string, too long, whitespace/control characters, another scheme, no host.
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
    host = parts.netloc.rsplit("@", 1)[-1]
    if not parts.hostname or not _HOST.fullmatch(host) or "\\" in value.split("?", 1)[0]:
        raise ValidationError("Destination must have a valid host", code="invalid_url", field="destination")
    return value
