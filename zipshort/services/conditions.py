"""The conditions a link rule may hold besides h0p's lists: Shlink's eleven condition types, validated into the
stored form ``{"type", "matchKey", "matchValue"}`` (pure: no database, no request).

A rule's ``conditions`` are ANDed; services/smart.py evaluates them (``condition_matches``). Errors name the
rules' field (``field``) and, in ``extra["element"]``, the leaf that is wrong (``conditions``, ``type``,
``matchKey``, ``matchValue``), which is what Shlink's ``invalidElements`` lists.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from zipshort.dates import parse_datetime
from zipshort.errors import ValidationError
from zipshort.inputs import check_text

DEVICES = ("android", "ios", "mobile", "windows", "macos", "linux", "chromeos", "desktop")
PLATFORMS = ("ios", "android", "windows", "macos", "linux", "chromeos", "other")  # h0p's osTypes
MOBILE, DESKTOP = frozenset({"ios", "android"}), frozenset({"windows", "macos", "linux", "chromeos"})
BROWSERS = ("chrome", "firefox", "edge", "safari", "opera", "android_browser")
QUERY_TYPES = ("query-param", "any-value-query-param", "valueless-query-param")
CONDITION_TYPES = ("device", "language", *QUERY_TYPES, "ip-address", "geolocation-country-code",
                   "geolocation-city-name", "before-date", "after-date", "browser")
MAX_CONDITIONS = 20
MAX_VALUE = 255
_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_OCTET = re.compile(r"25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]|\*")


def _refuse(message: str, field: str, element: str) -> ValidationError:
    return ValidationError(message, field=field, extra={"element": element})


def valid_ip_pattern(value: str) -> bool:
    """Shlink's three IPv4 forms: one address (``1.2.3.4``), a CIDR block (``1.2.3.0/24``) or a wildcard
    pattern (``1.2.*.*``, ``1.2.*.4``)."""
    if "/" in value:
        try:
            return isinstance(ipaddress.ip_network(value, strict=False), ipaddress.IPv4Network) and \
                value.split("/")[1].isdigit()
        except ValueError:
            return False
    octets = value.split(".")
    return len(octets) == 4 and all(_OCTET.fullmatch(octet) for octet in octets)


def _text(value: object, where: str, field: str, element: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
        raise _refuse(f"{where}.{element} must be non-empty text of at most {MAX_VALUE} characters", field, element)
    try:
        return check_text(value, f"{where}.{element}")
    except ValidationError as exc:
        raise _refuse(exc.message, field, element) from None


def _value(kind: str, value: object, where: str, field: str) -> str | None:
    """The stored matchValue of a condition of ``kind`` (None for the query types that take none)."""
    if kind in ("any-value-query-param", "valueless-query-param"):
        return None
    text = _text(value, where, field, "matchValue")
    if kind == "device" and text not in (*DEVICES, "other"):
        raise _refuse(f"{where}.matchValue must be one of {', '.join(DEVICES)}", field, "matchValue")
    if kind == "browser" and text not in BROWSERS:
        raise _refuse(f"{where}.matchValue must be one of {', '.join(BROWSERS)}", field, "matchValue")
    if kind == "language" and not _LANGUAGE.fullmatch(text):
        raise _refuse(f"{where}.matchValue must be a language tag such as en or en-US", field, "matchValue")
    if kind == "ip-address" and not valid_ip_pattern(text):
        raise _refuse(f"{where}.matchValue must be an IPv4 address, CIDR block or pattern such as 1.2.*.*",
                      field, "matchValue")
    if kind == "geolocation-country-code" and not _COUNTRY.fullmatch(text):
        raise _refuse(f"{where}.matchValue must be an upper-case ISO 3166-1 alpha-2 code", field, "matchValue")
    if kind in ("before-date", "after-date"):
        try:
            when = parse_datetime(text, f"{where}.matchValue")
        except ValidationError as exc:
            raise _refuse(exc.message, field, "matchValue") from None
        assert when is not None
        return when.isoformat(timespec="seconds")  # Shlink's ATOM form, in UTC
    return text


def validate_condition(data: object, where: str, field: str) -> dict[str, Any]:
    """One condition in its stored form; ``matchKey`` is kept only by the query types, which need it.

    Raises:
        ValidationError: not an object, an unknown type, a missing key or an invalid value for the type.
    """
    if not isinstance(data, dict):
        raise _refuse(f"{where} must be an object {{type, matchKey, matchValue}}", field, "conditions")
    kind = data.get("type")
    if kind not in CONDITION_TYPES:
        raise _refuse(f"{where}.type must be one of {', '.join(CONDITION_TYPES)}", field, "type")
    key = _text(data.get("matchKey"), where, field, "matchKey") if kind in QUERY_TYPES else None
    return {"type": kind, "matchKey": key, "matchValue": _value(kind, data.get("matchValue"), where, field)}


def validate_conditions(data: object, where: str, field: str) -> list[dict[str, Any]]:
    """A rule's conditions (ANDed), at most ``MAX_CONDITIONS``; None means none."""
    if data is None:
        return []
    if not isinstance(data, list) or len(data) > MAX_CONDITIONS:
        raise _refuse(f"{where}.conditions must be a list of at most {MAX_CONDITIONS} conditions", field,
                      "conditions")
    return [validate_condition(item, f"{where}.conditions[{i}]", field) for i, item in enumerate(data)]
