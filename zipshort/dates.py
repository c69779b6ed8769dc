"""The one supported date range, and the parsers every expiry field of every dialect goes through.

Python's datetime ends at 9999-12-31, and converting ``9999-12-31T23:59:59-14:00`` to UTC, or adding
``999999999999y`` to now, overflows it: a 500 on both databases. So an expiry must fall between
1970-01-01 and 9999-01-01 (UTC, exclusive); the year of margin keeps every offset and every later
addition (grace periods, retention) inside datetime. Nothing here imports Flask.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from zipshort.errors import ValidationError

UTC = dt.timezone.utc
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=UTC)
LATEST = dt.datetime(9999, 1, 1, tzinfo=UTC)  # exclusive
RANGE_TEXT = "between 1970-01-01 and 9998-12-31 (UTC)"
MAX_TEXT_LENGTH = 64  # longer than any ISO 8601 date-time or duration a client sends

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|"
                       r"hours?|d|days?|w|weeks?|y|yrs?|years?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31557600}


def bounded(when: dt.datetime, field: str, label: str | None = None) -> dt.datetime:
    """``when`` in UTC (naive means UTC) if it lies in the supported range.

    Raises:
        ValidationError: outside the range; the message starts with ``label`` (default: the field's name).
    """
    try:
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is past datetime's end once in UTC
        when = LATEST
    if not EARLIEST <= when < LATEST:
        raise ValidationError(f"{label or field} must be {RANGE_TEXT}", code="invalid_expiry", field=field)
    return when


def _iso(text: str, field: str, message: str, label: str | None = None) -> dt.datetime:
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationError(message, code="invalid_expiry", field=field)
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(message, code="invalid_expiry", field=field) from None
    return bounded(parsed, field, label)


def parse_datetime(value: object, field: str) -> dt.datetime | None:
    """An ISO 8601 date-time (``Z`` or an offset; naive means UTC) in the supported range, or None for None.

    Raises:
        ValidationError: not a string, not ISO 8601, or out of range, naming ``field``.
    """
    if value is None:
        return None
    message = f"{field} must be an ISO 8601 date-time"
    if not isinstance(value, str):
        raise ValidationError(message, code="invalid_expiry", field=field)
    return _iso(value, field, message)


def parse_expiry(value: str, now: dt.datetime, field: str = "expiresAt") -> dt.datetime | None:
    """Zipline's deletes-at grammar: ``never`` (None), a duration from ``now`` (``1d``, ``30m``, ``2 hours``)
    or ``date=<ISO 8601>``. The messages are Zipline's (callers put the field or header name before them).

    Raises:
        ValidationError: unreadable, not in the future, or past the supported range.
    """
    text = value.strip()
    if text.lower() == "never":
        return None
    if text.lower().startswith("date="):
        when = _iso(text[5:], field, "Invalid expiry date", "Expiry")
    else:
        match = _DURATION.match(text) if len(text) <= MAX_TEXT_LENGTH else None
        if not match:
            raise ValidationError("Invalid expiry date", code="invalid_expiry", field=field)
        unit = match.group(2).lower()
        seconds = float(match.group(1)) * _UNIT_SECONDS["ms" if unit.startswith(("ms", "milli")) else unit[0]]
        if not math.isfinite(seconds) or seconds >= (LATEST - now).total_seconds():
            raise ValidationError(f"Expiry must be {RANGE_TEXT}", code="invalid_expiry", field=field)
        when = now + dt.timedelta(seconds=seconds)
    if when <= now:
        raise ValidationError("Expiry must be in the future", code="invalid_expiry", field=field)
    return when
