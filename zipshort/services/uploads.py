"""Upload decisions that do not touch the database: file names, extensions, sanitising, MIME types."""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
import secrets
import unicodedata
import uuid
from typing import Callable, Iterable
from urllib.parse import unquote

from zipshort.codes import invisible_code
from zipshort.dates import parse_expiry  # noqa: F401  (the upload headers' grammar, kept importable here)
from zipshort.errors import ValidationError
from zipshort.security import random_string

FORMATS = ("random", "uuid", "date", "name", "gfycat", "random-words")
DOUBLE_EXTENSIONS = (".tar.gz", ".tar.xz", ".tar.bz2", ".tar.lz", ".tar.lzma", ".tar.Z", ".tar.7z", ".zip.gz",
                     ".zip.xz", ".rar.gz", ".log.gz", ".csv.gz", ".pdf.gz")
NAME_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MAX_NAME_BYTES = 200
ADJECTIVES = ("able", "bold", "brave", "bright", "calm", "clever", "cosy", "crisp", "curious", "daring", "eager",
              "fancy", "fast", "gentle", "glad", "golden", "happy", "humble", "jolly", "keen", "kind", "lively",
              "lucky", "merry", "mighty", "neat", "noble", "proud", "quick", "quiet", "rapid", "sharp", "shiny",
              "silly", "smart", "snappy", "sunny", "swift", "tidy", "witty")
ANIMALS = ("badger", "beaver", "bison", "camel", "cheetah", "crane", "dingo", "dolphin", "eagle", "falcon", "ferret",
           "gecko", "heron", "ibis", "jackal", "koala", "lemur", "lynx", "marmot", "moose", "narwhal", "ocelot",
           "otter", "owl", "panda", "parrot", "puffin", "quokka", "raven", "salmon", "seal", "sloth", "swan",
           "tapir", "tiger", "toucan", "walrus", "wombat", "yak", "zebra")


class EmptyUpload(ValidationError):
    """A file (or chunk) of 0 bytes: refused, where Zipline would store an empty file (see docs/files.md)."""

    code = "empty_file"
    message = "File is empty"


def refuse_empty(label: str, size: int) -> None:
    """Refuse a 0-byte file part (``label`` names it, e.g. ``file[0]``).

    Raises:
        EmptyUpload (400).
    """
    if size == 0:
        raise EmptyUpload(f"{label}: File is empty; empty files cannot be uploaded")


def refuse_disabled(ext: str, disabled: Iterable[str], label: str = "") -> None:
    """Refuse an extension listed in files.disabled_extensions (compared without case, with its dot).

    Raises:
        ValidationError (400).
    """
    if ext and ext.lower() in {e.lower() for e in disabled}:
        prefix = f"{label}: " if label else ""
        raise ValidationError(f"{prefix}File extension {ext} is not allowed", code="extension_not_allowed")


_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def extension_of(filename: str | None, override: str | None = None) -> str:
    """The extension to keep (with its dot): the override, a known double extension, or the last one."""
    if override:
        ext = override if override.startswith(".") else "." + override
        if not re.fullmatch(r"\.[A-Za-z0-9]{1,16}(\.[A-Za-z0-9]{1,16})?", ext):
            raise ValidationError("Invalid file extension", code="invalid_extension")
        return ext
    base = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    for double in DOUBLE_EXTENSIONS:
        if base.lower().endswith(double.lower()) and len(base) > len(double):
            return base[-len(double):]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,16}", ext):
        return ""
    return "." + ext


def clean_display_name(name: str | None) -> str | None:
    """A client's file name as display metadata: last path part, NFC, no control or bidi characters."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_CHARS.sub("", unicodedata.normalize("NFC", base)).strip()
    while len(base.encode()) > 255:
        base = base[:-1]
    return base or None


def decode_override(value: str) -> str:
    """``x-zipline-filename``: URL-decoded once, then refused if it could name a path.

    Raises:
        ValidationError: separators, traversal, NUL or control characters, bad escapes, too long.
    """
    if _BAD_ESCAPE.search(value):
        raise ValidationError("Invalid characters in filename override", code="invalid_filename")
    try:
        decoded = unquote(value, errors="strict")
    except UnicodeDecodeError:  # %ED%A0%80 (an encoded surrogate) or other bytes that are not UTF-8
        raise ValidationError("Invalid characters in filename override", code="invalid_filename") from None
    if (not decoded or "/" in decoded or "\\" in decoded or ".." in decoded or decoded.startswith(".")
            or _UNSAFE_CHARS.search(decoded) or len(decoded.encode()) > MAX_NAME_BYTES):
        raise ValidationError("Invalid characters in filename override", code="invalid_filename")
    return unicodedata.normalize("NFC", decoded)


def _name_base(original: str | None, ext: str) -> str:
    base = clean_display_name(original) or "file"
    if ext and base.lower().endswith(ext.lower()):
        base = base[: -len(ext)]
    elif "." in base:
        base = base.rsplit(".", 1)[0]
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "file"
    return base[:MAX_NAME_BYTES]


def name_maker(fmt: str, length: int, original: str | None, ext: str, now: dt.datetime,
               override: str | None = None) -> tuple[Callable[[], str], bool]:
    """How to name one file, and whether a collision may be retried with a new name.

    Raises:
        ValidationError: unknown format.
    """
    if override is not None:
        fixed = override if override.lower().endswith(ext.lower()) else override + ext
        return (lambda: fixed), False
    if fmt == "zws":  # Zipline v3's Zws header: zero-width characters, then the extension (see docs/api/zipline.md)
        return (lambda: invisible_code(length) + ext), True
    if fmt not in FORMATS:
        raise ValidationError("Invalid format", code="invalid_format")
    if fmt == "random":
        return (lambda: random_string(length, NAME_ALPHABET) + ext), True
    if fmt == "uuid":
        return (lambda: str(uuid.uuid4()) + ext), True
    if fmt == "date":
        stamp = now.strftime("%Y-%m-%d_%H-%M-%S")
        counter = iter(range(1, 1000))
        return (lambda: stamp + (f"-{n}" if (n := next(counter)) > 1 else "") + ext), True
    if fmt == "name":
        fixed = _name_base(original, ext) + ext
        return (lambda: fixed), False
    return (lambda: "-".join([*(secrets.choice(ADJECTIVES) for _ in range(2)), secrets.choice(ANIMALS)]) + ext), True


def guess_type(declared: str | None, filename: str) -> str:
    """The declared part type, or one guessed from the name when the client sent none or a generic one."""
    declared = (declared or "").split(";", 1)[0].strip().lower()
    if declared and declared != "application/octet-stream" and re.fullmatch(r"[\w.+-]+/[\w.+-]+", declared):
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
