"""Zipline's template variables (``{file.name}``, ``{user.username::upper}``, …): one parser and renderer.

Used by Discord notifications, the embed tags and the content of ``/view`` pages. The syntax is Zipline's
(``src/lib/parser``)::

    {<type>.<prop>[::<modifier>][::<locale>,<time zone>]}
    {<type>.<prop>::<modifier>["<if true>"||"<if false>"]}

Types: ``file``, ``url``, ``user``, ``link``, ``metricsUser``, ``metricsZipline``, ``debug`` (``json``,
``jsonf``). A type the caller has no value for renders ``{unknown_type}``; an absent or blocked property
(``password``, ``avatar``, ``passkeys``, ``oauthProviders``, ``tags``) ``{unknown_property}``; a modifier that
does not fit the value ``{unknown_<kind>_modifier(<mod>)}``. A literal ``\\n`` becomes a newline.

Differences from Zipline, on purpose: a value put in is never parsed again (a file named ``{debug.json}``
stays that name), a comparison's tails are quoted strings without ``"`` inside them, and the output is cut at
``limit`` characters. Nothing is evaluated; the output is plain text, which HTML pages escape (Jinja) when
they show it. Pure: no I/O, nothing from zipshort.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

TYPES = ("file", "url", "user", "debug", "link", "metricsUser", "metricsZipline")
BLOCKED = frozenset({"password", "avatar", "passkeys", "oauthProviders", "tags"})
UTC: dt.tzinfo = dt.timezone.utc
LIMIT = 8192  # characters a rendering may produce
MAX_DEPTH = 4  # comparison tails are templates too; this bounds their nesting

_PATTERN = re.compile(
    r"\{(?P<type>" + "|".join(TYPES) + r")\.(?P<prop>\w+)(?:::(?P<mod>\w+))?"
    r"(?:::(?P<tzlocale>[^\s{}]+)|\[(?P<yes>\"[^\"]*\")\|\|(?P<no>\"[^\"]*\")\])?\}",
    re.IGNORECASE | re.ASCII)

Values = Mapping[str, Any]
"""What a template may name: type → a mapping of properties (or a callable giving one, asked only when used)."""

_JS_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_JS_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render(template: str | None, values: Values, *, limit: int = LIMIT, strict: bool = False) -> str:
    """``template`` with every variable replaced from ``values``, at most ``limit`` characters.

    Never raises: should rendering fail, the template is returned as written (``strict``: raise instead,
    for tests that prove it does not happen).
    """
    if not template:
        return ""
    try:
        out = _render(template.replace("\\n", "\n"), _Lookup(values), limit, 0)
    except Exception:  # a template never breaks the page or the notification that uses it
        if strict:
            raise
        out = template
    return out[:limit]


class _Lookup:
    """The values, with callables resolved once on first use and ``debug`` made from the others."""

    def __init__(self, values: Values) -> None:
        self._values = values
        self._resolved: dict[str, Mapping[str, Any] | None] = {}

    def get(self, kind: str) -> Mapping[str, Any] | None:
        if kind not in self._resolved:
            self._resolved[kind] = self._debug() if kind == "debug" else self._value(kind)
        return self._resolved[kind]

    def _value(self, kind: str) -> Mapping[str, Any] | None:
        value = self._values.get(kind)
        if callable(value):
            value = value()
        return value if isinstance(value, Mapping) else None

    def _debug(self) -> Mapping[str, Any]:
        data = {kind: _redacted(self.get(kind)) for kind in ("file", "url", "user", "link", "metricsUser",
                                                              "metricsZipline")}
        return {"json": json.dumps(data, default=_json_default, separators=(",", ":")),
                "jsonf": json.dumps(data, default=_json_default, indent=2)}


def _redacted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: "***" if k in ("password", "avatar") else
                "passkey registration redacted" if k in ("reg", "passkeys") else
                "oauth providers redacted" if k == "oauthProviders" else _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _iso(value)
    return str(value)


def _render(text: str, lookup: _Lookup, limit: int, depth: int) -> str:
    parts: list[str] = []
    size = 0
    last = 0
    for match in _PATTERN.finditer(text):
        piece = text[last:match.start()] + _replacement(match, lookup, limit, depth)
        parts.append(piece)
        size += len(piece)
        last = match.end()
        if size > limit:
            return "".join(parts)
    parts.append(text[last:])
    return "".join(parts)


def _replacement(match: re.Match[str], lookup: _Lookup, limit: int, depth: int) -> str:
    kind, prop, mod = match["type"], match["prop"], match["mod"]
    source = lookup.get(kind) if kind in TYPES else None  # the type is matched ignoring case, looked up exactly
    if source is None:
        return "{unknown_type}"
    if prop in BLOCKED:
        return "{unknown_property}"
    if prop not in source:
        return "{unknown_property}"
    value = source[prop]
    if prop in ("name", "originalName"):  # Zipline makes these strings first ("null" when absent)
        value, mod = _plain(value), mod or "string"
    if not mod:
        return _plain(value)
    yes = match["yes"][1:-1] if match["yes"] is not None else None
    no = match["no"][1:-1] if match["no"] is not None else None

    def branch(chosen: str) -> str:  # a comparison's tail is a template itself (bounded nesting)
        if depth >= MAX_DEPTH:
            return chosen
        return _render(chosen, lookup, limit, depth + 1) or chosen

    return _modify(mod, value, match["tzlocale"], yes, no, branch)


def _plain(value: Any) -> str:
    """A value as JavaScript would put it in a string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return _js_string(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, (list, tuple)):
        return ",".join(_plain(v) for v in value)
    return str(value)


def _modify(mod: str, value: Any, tzlocale: str | None, yes: str | None, no: str | None,
            branch: Callable[[str], str]) -> str:
    mod = mod.lower()
    if isinstance(value, dt.datetime):
        return _date(mod, value, tzlocale)
    if isinstance(value, bool):
        return _boolean(mod, value, yes, no, branch)
    if isinstance(value, str):
        return _string(mod, value, yes, no, branch)
    if isinstance(value, (int, float)):
        return _numeric(mod, value, yes, no, branch)
    if no is not None and (mod.startswith(("greater", "equal", "lesser")) or mod in ("istrue", "isfalse")):
        return branch(no)  # a missing value compares false
    return f"{{unknown_modifier({mod})}}"


# --- dates ---------------------------------------------------------------------------------------------

def _zone_and_locale(tzlocale: str | None) -> tuple[str, dt.tzinfo]:
    locale, zone = "en_US", UTC
    if not tzlocale:
        return locale, zone
    wanted_locale, _, wanted_zone = (part.strip() for part in tzlocale.partition(","))
    if wanted_locale:
        try:
            from babel import Locale

            Locale.parse(wanted_locale.replace("-", "_"))
            locale = wanted_locale.replace("-", "_")
        except (ValueError, TypeError, LookupError):
            pass
    if wanted_zone:
        zone = _zone(wanted_zone) or zone
    return locale, zone


def _zone(name: str) -> dt.tzinfo | None:
    lowered = name.lower()
    if lowered in ("utc", "etc/utc"):
        return dt.timezone.utc
    found = _zone_names().get(lowered)
    return zoneinfo.ZoneInfo(found) if found else None


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """Every IANA zone by its lower-cased name (Zipline matches zones ignoring case)."""
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def _date(mod: str, value: dt.datetime, tzlocale: str | None) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    locale, zone = _zone_and_locale(tzlocale)
    try:
        local = value.astimezone(zone)
    except (OverflowError, ValueError):  # past the calendar's ends in that zone: UTC
        zone, local = UTC, value.astimezone(UTC)
    if mod in ("locale", "time", "date"):  # toLocaleString, toLocaleTimeString, toLocaleDateString
        from babel.dates import format_skeleton, format_time

        day = format_skeleton("yMd", local, tzinfo=zone, locale=locale)
        time = format_time(local, "medium", tzinfo=zone, locale=locale)
        return {"locale": f"{day}, {time}", "time": time, "date": day}[mod]
    simple: dict[str, Callable[[], str]] = {
        "unix": lambda: str(int(value.timestamp())),
        "iso": lambda: _iso(value),
        "utc": lambda: _js_utc(value),
        "year": lambda: str(local.year),
        "month": lambda: str(local.month),
        "day": lambda: str(local.day),
        "hour": lambda: str(local.hour),
        "minute": lambda: str(local.minute),
        "second": lambda: str(local.second),
        "string": lambda: _js_string(value),
        "ampm": lambda: "am" if local.hour < 12 else "pm",
    }
    if mod in simple:
        return simple[mod]()
    return f"{{unknown_date_modifier({mod})}}"


def _iso(value: dt.datetime) -> str:
    value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _js_utc(value: dt.datetime) -> str:
    """Date.prototype.toUTCString: ``Thu, 02 Jan 2025 15:04:05 GMT``."""
    u = value.astimezone(dt.timezone.utc)
    return f"{_JS_DAYS[u.weekday()]}, {u.day:02d} {_JS_MONTHS[u.month - 1]} {u.year} {u:%H:%M:%S} GMT"


def _js_string(value: dt.datetime) -> str:
    """Date.prototype.toString on a server running in UTC."""
    u = value.astimezone(dt.timezone.utc)
    return (f"{_JS_DAYS[u.weekday()]} {_JS_MONTHS[u.month - 1]} {u.day:02d} {u.year} {u:%H:%M:%S} "
            "GMT+0000 (Coordinated Universal Time)")


# --- strings, numbers, booleans -------------------------------------------------------------------------

_COMPARE_STRING: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("equal", lambda v, c: v == c), ("startswith", lambda v, c: v.startswith(c)),
    ("endswith", lambda v, c: v.endswith(c)), ("includes", lambda v, c: c in v))


def _string(mod: str, value: str, yes: str | None, no: str | None, branch: Callable[[str], str]) -> str:
    simple: dict[str, Callable[[], str]] = {
        "upper": value.upper,
        "lower": value.lower,
        "title": lambda: value[:1].upper() + value[1:],
        "length": lambda: str(len(value.encode("utf-16-le")) // 2),  # JavaScript counts UTF-16 units
        "reverse": lambda: value[::-1],
        "base64": lambda: base64.b64encode(value.encode("latin-1", "replace")).decode(),
        "hex": lambda: "".join(f"{ord(c):x}" for c in value),
        "string": lambda: value,
    }
    if mod in simple:
        return simple[mod]()
    for prefix, test in _COMPARE_STRING:
        if mod.startswith(prefix):
            check = mod[len(prefix):]
            if yes is None or no is None or not check:
                break
            return branch(yes if test(value.lower(), check) else no)
    return f"{{unknown_str_modifier({mod})}}"


_COMPARE_NUMBER: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
    ("greaterequal", lambda v, c: v >= c), ("greater", lambda v, c: v > c), ("equal", lambda v, c: v == c),
    ("lesserequal", lambda v, c: v <= c), ("lesser", lambda v, c: v < c))


def _numeric(mod: str, value: float, yes: str | None, no: str | None, branch: Callable[[str], str]) -> str:
    whole = int(value) if float(value).is_integer() else None
    simple: dict[str, Callable[[], str]] = {
        "comma": lambda: _comma(value),
        "bytes": lambda: human_bytes(value),
        "string": lambda: _number(value),
    }
    if whole is not None:
        simple.update(hex=lambda: _base(whole, "x"), octal=lambda: _base(whole, "o"),
                      binary=lambda: _base(whole, "b"))
    if mod in simple:
        return simple[mod]()
    for prefix, test in _COMPARE_NUMBER:
        if mod.startswith(prefix):
            if yes is None or no is None:
                break
            try:
                check = float(mod[len(prefix):]) if mod[len(prefix):] else 0.0  # Number("") is 0
            except ValueError:
                break
            return branch(yes if test(value, check) else no)
    return f"{{unknown_int_modifier({mod})}}"


def _base(value: int, code: str) -> str:
    return ("-" if value < 0 else "") + format(abs(value), code)


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _comma(value: float) -> str:
    """Number.prototype.toLocaleString() in en-US: grouped thousands, at most three decimals."""
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def human_bytes(value: float) -> str:
    """The npm ``bytes`` package with a space: 1024-based, two decimals at most (``1.5 MB``, ``512 B``)."""
    size = abs(value)
    for unit, power in (("PB", 5), ("TB", 4), ("GB", 3), ("MB", 2), ("KB", 1)):
        if size >= 1024 ** power:
            number = f"{value / 1024 ** power:.2f}".rstrip("0").rstrip(".")
            return f"{number} {unit}"
    return f"{_number(value)} B"


def _boolean(mod: str, value: bool, yes: str | None, no: str | None, branch: Callable[[str], str]) -> str:
    words = {"yesno": ("Yes", "No"), "onoff": ("On", "Off"), "truefalse": ("True", "False"),
             "string": ("true", "false")}
    if mod in words:
        return words[mod][0 if value else 1]
    if mod in ("istrue", "isfalse") and yes is not None and no is not None:
        return branch(yes if value == (mod == "istrue") else no)
    return f"{{unknown_bool_modifier({mod})}}"
