"""Zipline v4 response shapes (every key Zipline returns) and request field parsing."""

from __future__ import annotations

import random
import re

from zipshort.config import Settings
from zipshort.errors import ValidationError
from zipshort.services.ziplineobjects import iso, quota_json, url_json, user_json

__all__ = ["iso", "parse_max_views", "pick_domain", "quota_json", "url_json", "user_json"]


def pick_domain(settings: Settings, header: str | None, request_host: str) -> str:
    """The host for returned URLs: a random allowed entry of ``header``, else the default domain, else Host.

    Raises:
        ValidationError: a requested domain is not in DOMAINS / core.default_domain.
    """
    if header is not None and header.strip():
        wanted = [d.strip().lower() for d in header.split(",") if d.strip()]
        allowed = settings.allowed_domains
        bad = [d for d in wanted if d not in allowed]
        if bad or not wanted:
            raise ValidationError(f"Domain {bad[0] if bad else header!r} is not in the allowed domains",
                                  code="invalid_domain", field="domain")
        return random.choice(wanted)
    return settings.core.default_domain or request_host


def parse_max_views(raw: str | None, nan: str, negative: str) -> int | None:
    """A max-views header: absent or 0 = no limit; digits only; Zipline's two error texts."""
    if raw is None:
        return None
    text = raw.strip()
    if re.fullmatch(r"-\d+", text):
        raise ValidationError(negative, code="invalid_max_views", field="maxViews")
    if not re.fullmatch(r"\+?\d{1,10}", text):
        raise ValidationError(nan, code="invalid_max_views", field="maxViews")
    value = int(text)
    if value > 1_000_000_000:
        raise ValidationError("Max views must be at most 1000000000", code="invalid_max_views", field="maxViews")
    return value or None


