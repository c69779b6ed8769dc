"""What zipshort accepts as input at all, decided once for every dialect: JSON bodies and text fields.

Every request's JSON goes through :func:`loads` (``ZipshortRequest.json_module``), so no dialect can
forget a rule. Refused, with a 400 naming the field:

- lone UTF-16 surrogates (``"\\ud800"``) and NUL in any string or field name: neither database can
  store them, and no client means them;
- nesting deeper than ``MAX_DEPTH`` (a body of 10,000 ``[`` is a RecursionError in every parser
  and serialiser that meets it later);
- numbers that are not finite (``NaN``, ``Infinity``, ``1e999``) or integers outside JavaScript's
  exact range (RFC 7493 §2.2), which no client can mean either.

Text fields then apply :func:`check_text`: no C0 or C1 control characters, except tab, line feed and
carriage return in multi-line fields (descriptions). Nothing here imports Flask.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from zipshort.errors import ValidationError

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
BODY = "body"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SINGLE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_WHOLE = re.compile(r"[0-9]{1,18}")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"\s*:?|[\[\]{},]')

Path = tuple  # (parent path, key or index), () for the body itself; formatted only when refusing


def _name(path: Path, limit: int | None = None) -> str:
    """``metaTags.title``, ``rules[0].destination``, ``body[3].title`` (an item of a top-level array).

    With ``limit`` (for nesting), the outermost ``limit`` steps without trailing indices: ``qrCode.options``
    rather than ``qrCode.options[0][0][0]…``.
    """
    parts: list[Any] = []
    while path:
        path, key = path
        parts.append(key)
    parts.reverse()
    if limit is not None:
        parts = parts[:limit]
        while parts and isinstance(parts[-1], int):
            parts.pop()
    text = ""
    for key in parts:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return BODY + text if not text or text.startswith("[") else text


def _refuse(path: Path, problem: str, code: str = "invalid_body") -> ValidationError:
    field = _name(path, 4 if code == "too_deep" else None)
    return ValidationError(f"{field} {problem}", code=code, field=field)


def _unstorable(value: str) -> str | None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate (invalid Unicode)"


def _check_string(value: str, path: Path, what: str = "") -> None:
    problem = _unstorable(value)
    if problem:
        raise _refuse(path, f"{what}contains {problem}")


def check_storable(value: str, field: str) -> str:
    """``value`` unless it holds NUL or a lone surrogate (for query and form fields; JSON gets :func:`loads`).

    Raises:
        ValidationError: naming ``field``.
    """
    problem = _unstorable(value)
    if problem:
        raise ValidationError(f"{field} contains {problem}", code="invalid_text", field=field)
    return value


def check_json(value: Any, root: Path = ()) -> Any:
    """``value`` (parsed JSON) if zipshort accepts it; walked without recursion, so any depth is safe.

    Raises:
        ValidationError: the first offending value, in document order, named by its path (under ``root``).
    """
    stack: list[tuple[Any, Path, int]] = [(value, root, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item, path)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise _refuse(path, f"must be a number between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _refuse(path, "must be a finite number (not NaN or Infinity)")
        elif depth >= MAX_DEPTH:
            raise _refuse(path, f"is nested too deeply (at most {MAX_DEPTH} levels)", "too_deep")
        elif isinstance(item, dict):
            for key in item:
                _check_string(key, path, "has a field name that ")
            stack.extend((v, (path, k), depth + 1) for k, v in reversed(item.items()))
        else:
            stack.extend((v, (path, i), depth + 1) for i, v in reversed(list(enumerate(item))))
    return value


def _deep_path(text: str, root: Path = ()) -> Path:
    """Where ``text`` first nests deeper than MAX_DEPTH (for a body too deep to parse at all)."""
    path: Path = root
    containers: list[list] = []  # per open container: [is_object, key or index]
    for token in _TOKEN.finditer(text):
        kind = token.group()[0]
        if kind in "[{":
            if len(containers) >= MAX_DEPTH:
                break
            if containers:
                path = (path, containers[-1][1])
            containers.append([kind == "{", 0])
        elif kind in "]}" and containers:
            containers.pop()
            path = path[0] if path != root else root
        elif kind == "," and containers and not containers[-1][0]:
            containers[-1][1] += 1
        elif kind == '"' and containers and containers[-1][0] and token.group().endswith(":"):
            key = token.group().rstrip(": \t\r\n")
            try:
                containers[-1][1] = json.loads(key)
            except ValueError:
                containers[-1][1] = key[1:-1]
    return path


def _non_finite(name: str) -> float:
    return float(name)  # NaN and Infinity, refused by check_json with their field's name


def loads(data: bytes | str, root: Path = (), **kwargs: Any) -> Any:
    """Parse a request's JSON body and apply :func:`check_json`.

    Raises:
        ValueError: not JSON, or not UTF-8 (a silent ``get_json`` returns None).
        ValidationError: JSON that zipshort refuses, naming the field.
    """
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data  # strict: no encoded surrogates
    try:
        value = json.loads(text, parse_constant=_non_finite, **kwargs)
    except RecursionError:
        path = _deep_path(text, root)
        raise _refuse(path, f"is nested too deeply (at most {MAX_DEPTH} levels)", "too_deep") from None
    return check_json(value, root)


def parse_field(text: str, field: str) -> Any:
    """JSON typed into one form field (e.g. link rules), under the same rules as a body.

    Raises:
        ValidationError: not JSON, or JSON zipshort refuses, naming ``field``.
    """
    try:
        return loads(text, ((), field))
    except ValueError:
        raise ValidationError(f"{field} must be JSON", code="invalid_json", field=field) from None


def dumps(value: Any, **kwargs: Any) -> str:
    """JSON text (werkzeug's request object asks its json module for both directions)."""
    return json.dumps(value, **kwargs)


def whole_number(text: str) -> int | None:
    """``text`` as a whole number if it is 1-18 ASCII digits, else None: ``str.isdigit`` also passes ``²``
    (which int() refuses) and int() refuses 5,000 digits, both 500s when a view trusted them."""
    return int(text) if _WHOLE.fullmatch(text) else None


def check_offset(offset: int, field: str) -> int:
    """``offset`` if it is a row offset both databases take (SQLite overflows past 2**63, PostgreSQL's
    bigint too); far pages of a listing are refused rather than answered with a 500.

    Raises:
        ValidationError: naming ``field`` (the page or offset parameter).
    """
    if not 0 <= offset <= MAX_SAFE_INTEGER:
        raise ValidationError(f"{field} is out of range", code="invalid_page", field=field)
    return offset


def check_text(value: str, field: str, multiline: bool = False) -> str:
    """``value`` unless it holds a control character (tab and line breaks allowed when ``multiline``).

    Raises:
        ValidationError: naming ``field``.
    """
    forbidden = _MULTI_LINE_FORBIDDEN if multiline else _SINGLE_LINE_FORBIDDEN
    if forbidden.search(value):
        allowed = " (tab and line breaks are allowed)" if multiline else ""
        raise ValidationError(f"{field} must not contain control characters{allowed}", code="invalid_text",
                              field=field)
    return value
