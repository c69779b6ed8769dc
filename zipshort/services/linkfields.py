"""Validation of what the other dialects add to a link: destination types, UTM, rules, QR options, meta.

Everything here is pure (no database): it turns caller input into the stored form or raises a
ValidationError naming the field. The dialects translate their field names before calling.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from zipshort.destinations import validate_web_url
from zipshort.errors import ValidationError
from zipshort.inputs import check_text
from zipshort.services.conditions import PLATFORMS, validate_conditions

DESTINATION_TYPES = ("link", "email", "phone")
UTM_KEYS = ("source", "medium", "campaign", "term", "content", "referral")
OS_TYPES = PLATFORMS
MAX_RULES = 20
MAX_COMBINATIONS = 250  # a rule's lists, multiplied out: how many Shlink rules it reads as (services/redirectrules.py)
# An e-mail destination is one address and nothing else: no '?' (mailto: headers such as body=, cc=,
# bcc=), '%' (encoded separators) or '#', though RFC 5322 allows them in the local part.
_EMAIL = re.compile(r"[A-Za-z0-9.!$&'*+/=^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-.]{2,30}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_OS_TYPE = re.compile("|".join(OS_TYPES))


def validate_destination(kind: object, value: object, max_length: int, field: str = "destination",
                         schemes: tuple[str, ...] = ("http", "https")) -> tuple[str, str]:
    """(type, value) for a web link (with one of ``schemes``), an e-mail address or a phone number; nothing
    else is accepted.

    Raises:
        ValidationError: unknown type or an invalid value for it.
    """
    if kind not in DESTINATION_TYPES:
        raise ValidationError(f"{field}.type must be link, email or phone", field=field)
    if kind == "link":
        try:
            return "link", validate_web_url(value, max_length, schemes)
        except ValidationError as exc:
            raise ValidationError(exc.message, code=exc.code, field=field) from None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field}.value is required", field=field)
    value = value.strip()
    if kind == "email":
        if len(value) > 254 or not _EMAIL.fullmatch(value):
            raise ValidationError(f"{field}.value must be an e-mail address", field=field)
        return "email", value
    if not _PHONE.fullmatch(value):
        raise ValidationError(f"{field}.value must be a phone number", field=field)
    return "phone", value


def target_of(kind: str, value: str) -> str:
    """Where a visit goes: the URL itself, ``mailto:`` or ``tel:`` (digits and a leading + only)."""
    if kind == "email":
        return "mailto:" + value
    if kind == "phone":
        return "tel:" + ("+" if value.startswith("+") else "") + re.sub(r"\D", "", value)
    return value


def validate_utm(data: object, field: str = "utm") -> dict[str, str] | None:
    """UTM parameters: an object with any of source, medium, campaign, term, content, referral (≤ 255 chars)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValidationError(f"{field} must be an object", field=field)
    out: dict[str, str] = {}
    for key, value in data.items():
        if key not in UTM_KEYS:
            raise ValidationError(f"{field}.{key} is not a UTM parameter ({', '.join(UTM_KEYS)})", field=field)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 255:
            raise ValidationError(f"{field}.{key} must be text of at most 255 characters", field=field)
        check_text(value, f"{field}.{key}")
        if value:
            out[key] = value
    return out or None


def merge_utm(url: str, utm: dict[str, str] | None) -> str:
    """The destination with ``utm_*`` query parameters added (the destination's own values win)."""
    if not utm:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    query += [(f"utm_{k}", v) for k, v in utm.items() if f"utm_{k}" not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _string_list(value: object, field: str, pattern: re.Pattern[str],
                 transform: Callable[[str], str] = str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 250 or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{field} must be a list of strings", field=field)
    out = []
    for item in value:
        if not pattern.fullmatch(item):
            raise ValidationError(f"{field} has an invalid value: {item[:40]!r}", field=field)
        out.append(transform(item))
    return out


def _rules_error(message: str, field: str, element: str | None = None) -> ValidationError:
    return ValidationError(message, field=field, extra={"element": element} if element else None)


def validate_rules(data: object, max_length: int, field: str = "rules") -> list[dict[str, Any]] | None:
    """Smart routing rules, ordered by priority (lowest first). A rule picks its destination when every list it
    sets matches (a list matches when any of its values does: countries, ISO 3166 alpha-2; languages, BCP 47
    tags; osTypes) and every one of its ``conditions`` (services/conditions.py, Shlink's types) matches. A rule
    with no criteria never matches. Errors name ``field`` and, in ``extra["element"]``, the leaf at fault."""
    if data is None:
        return None
    if not isinstance(data, list) or len(data) > MAX_RULES:
        raise _rules_error(f"{field} must be a list of at most {MAX_RULES} rules", field)
    rules: list[dict[str, Any]] = []
    for i, rule in enumerate(data):
        where = f"{field}[{i}]"
        if not isinstance(rule, dict):
            raise _rules_error(f"{where} must be an object", field)
        priority = rule.get("priority", i)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1_000_000:
            raise _rules_error(f"{where}.priority must be a whole number from 0", field, "priority")
        destination = rule.get("destination")
        if not isinstance(destination, dict):
            raise _rules_error(f"{where}.destination must be an object", field, "destination")
        try:
            kind, value = validate_destination(destination.get("type", "link"), destination.get("value"),
                                               max_length, f"{where}.destination")
        except ValidationError as exc:
            raise ValidationError(exc.message, code=exc.code, field=field, extra={"element": "destination"}) from None
        lists = {"countries": _string_list(rule.get("countries"), f"{where}.countries", _COUNTRY, str.upper),
                 "languages": _string_list(rule.get("languages"), f"{where}.languages", _LANGUAGE, str.lower),
                 "osTypes": _string_list(rule.get("osTypes"), f"{where}.osTypes", _OS_TYPE)}
        if math.prod(max(1, len(values)) for values in lists.values()) > MAX_COMBINATIONS:
            raise _rules_error(f"{where} combines more than {MAX_COMBINATIONS} countries × languages × osTypes "
                               "(split it into several rules)", field)
        rules.append({
            "id": rule.get("id") if isinstance(rule.get("id"), str) and len(rule["id"]) <= 64 else str(uuid.uuid4()),
            "priority": priority,
            "destination": {"type": kind, "value": value},
            **lists,
            "conditions": validate_conditions(rule.get("conditions"), where, field),
        })
    rules.sort(key=lambda r: r["priority"])
    return rules or None


def carry_conditions(given: object, rules: list[dict[str, Any]] | None,
                     current: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """``rules`` (validated from ``given``) where a rule was sent without a ``conditions`` key but with the id of
    a stored rule keeps that rule's conditions: clients of dialects without conditions (h0p's typed clients)
    send back the fields they know, and must not drop what another dialect set. ``conditions: []`` clears."""
    if not rules or not current or not isinstance(given, list):
        return rules
    bare = {r["id"] for r in given if isinstance(r, dict) and "conditions" not in r and isinstance(r.get("id"), str)}
    stored = {r.get("id"): r.get("conditions") or [] for r in current}
    return [{**rule, "conditions": stored[rule["id"]]} if rule["id"] in bare and rule["id"] in stored else rule
            for rule in rules]


def validate_qr_options(data: object, field: str = "qrCode") -> dict[str, Any] | None:
    """QR options kept with the link and used when drawing its QR code: colours, size, margin (others kept as given)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValidationError(f"{field} must be an object", field=field)
    options = data.get("options", data)
    if not isinstance(options, dict):
        raise ValidationError(f"{field}.options must be an object", field=field)
    for key in ("width", "height"):
        if key in options and (isinstance(options[key], bool) or not isinstance(options[key], int)
                               or not 50 <= options[key] <= 4000):
            raise ValidationError(f"{field}.options.{key} must be 50-4000", field=field)
    if "margin" in options and (isinstance(options["margin"], bool) or not isinstance(options["margin"], int)
                                or not 0 <= options["margin"] <= 100):
        raise ValidationError(f"{field}.options.margin must be 0-100", field=field)
    for path in (("dotsOptions", "color"), ("backgroundOptions", "color")):
        part = options.get(path[0])
        if isinstance(part, dict) and path[1] in part and not (isinstance(part[path[1]], str)
                                                                and _COLOR.fullmatch(part[path[1]])):
            raise ValidationError(f"{field}.options.{'.'.join(path)} must look like #RRGGBB", field=field)
    if len(repr(options)) > 20_000:
        raise ValidationError(f"{field} is too large", field=field)
    image_id = data.get("imageId") if "options" in data else None
    if image_id is not None and (not isinstance(image_id, str) or not 1 <= len(image_id) <= 64):
        raise ValidationError(f"{field}.imageId must be the id of one of your images", field=field)
    return {"options": options, "imageId": image_id.lower() if image_id else None}


MAX_TAGS, MAX_TAG_LENGTH = 10, 30


def validate_tag_names(tags: object, field: str = "tags") -> list[str]:
    """A link's tags by name (h0p's limits: at most 10 names of 1-30 characters); None means none."""
    if tags is not None and (not isinstance(tags, list) or len(tags) > MAX_TAGS or not all(
            isinstance(t, str) and 1 <= len(t.strip()) <= MAX_TAG_LENGTH for t in tags)):
        raise ValidationError(f"{field} must be at most {MAX_TAGS} names of 1-{MAX_TAG_LENGTH} characters",
                              field=field)
    return [check_text(tag, field) for tag in tags or []]


def text_field(value: object, field: str, max_length: int = 255, multiline: bool = False) -> str | None:
    """Optional text of at most ``max_length`` characters (None when empty), without control characters
    (``multiline`` allows tab and line breaks, for descriptions)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise ValidationError(f"{field} must be text of at most {max_length} characters", field=field)
    return check_text(value, field, multiline).strip() or None


def image_url(value: object, max_length: int, field: str = "image") -> str | None:
    """An optional preview image: an http(s) URL."""
    if value in (None, ""):
        return None
    try:
        return validate_web_url(value, max_length)
    except ValidationError as exc:
        raise ValidationError(exc.message.replace("Destination", field), field=field) from None
