"""Uploads: the one door of a (non-chunked) upload, ``create_upload``, and the decisions it is made of.

``create_upload`` takes the file parts and the options every dialect parses into ``UploadOptions``, and
does the whole workflow: the folder, expiry defaults and caps, the disabled extensions, the password
hash, the blobs (spooled straight into storage's temp folder by the request parser, or written here),
image re-encoding, the rows (services/files.py: quota and insert in one transaction), and the
clean-up of every blob when anything fails. It returns plain data (``Uploaded``).

The helpers below it decide names, extensions, display names and MIME types without the database;
services/partials.py uses the same ones for chunked uploads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import mimetypes
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from typing import IO, Callable, Iterable, Sequence
from urllib.parse import unquote

from zipshort.codes import invisible_code
from zipshort.config import FilesSettings
from zipshort.dates import parse_expiry as parse_expiry  # part of this door: the Zipline face reads expiries
from zipshort.errors import ValidationError, ZipshortError
from zipshort.faults import point as crash_point
from zipshort.models import User, utcnow
from zipshort.runtime import Runtime
from zipshort.security import random_string
from zipshort.services import files, folders, images
from zipshort.storage import BlobTooLarge, SpoolFile, StoredBlob, chunks_of

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


# --- the door -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One file part of an upload: the client's file name and type, and its bytes.

    ``stream`` is a ``SpoolFile`` when the request parser wrote the part straight into storage's temp
    folder (see :data:`SpoolFactory`), or any readable, seekable stream.
    """

    filename: str | None
    mimetype: str | None
    stream: IO[bytes]


@dataclass(frozen=True)
class UploadOptions:
    """What a client asked for, in no dialect: every face parses its headers into this.

    ``expires_at``/``never`` are what the client sent (None/False: nothing); the door applies
    ``files.default_expiration`` and ``files.max_expiration``. ``password`` is the plain text (hashed by
    the door). ``filename`` is a decoded name override, ``extension`` an extension override.
    ``folder_id`` puts the files into a folder; ``anonymous`` marks an upload without credentials into
    someone's folder open for uploads (the owner passed in is then that folder's owner).
    """

    fmt: str = "random"
    expires_at: dt.datetime | None = None
    never: bool = False
    max_views: int | None = None
    password: str | None = None
    keep_original_name: bool = False
    filename: str | None = None
    extension: str | None = None
    compression: int | None = None
    compression_type: str = "jpg"
    zws: bool = False  # names of zero-width characters (Zipline v3)
    text: bool = False  # store as text/plain (Zipline v3's UploadText)
    folder_id: str | None = None
    anonymous: bool = False
    origin: str | None = None  # ``<scheme>://<host>`` the client's URLs are given on (for the upload's event)
    dialect: str | None = None  # the API it came through (zipline, zipline-v3), told to subscribers


@dataclass(frozen=True)
class UploadedFile:
    """One stored file as the dialects answer it."""

    id: str
    name: str
    type: str
    removed_gps: bool = False
    compressed: tuple[str, str | None] | None = None  # (new MIME type, new extension) when re-encoded


@dataclass(frozen=True)
class Uploaded:
    """The result of an upload: the files in order, and the expiry that was applied to them."""

    files: list[UploadedFile]
    expires_at: dt.datetime | None
    never: bool


SpoolFactory = Callable[[], SpoolFile]
# Parses the request's file parts; the factory gives the parser a temp file in storage for each part.
PartReader = Callable[[SpoolFactory], Sequence[Part]]
EXPIRY_FIELD = "expires_at"  # the field of the expiry errors below (a dialect names its header instead)


def apply_expiry_rules(settings: FilesSettings, expires_at: dt.datetime | None, never: bool,
                       now: dt.datetime) -> tuple[dt.datetime | None, bool]:
    """The expiry a file gets: files.default_expiration when none was asked for (and not "never"),
    capped by files.max_expiration (which also turns "no expiry" into the longest allowed).

    Raises:
        ValidationError (field ``expires_at``): "never", or a date past files.max_expiration.
    """
    if expires_at is None and not never and settings.default_expiration:
        expires_at = parse_expiry(settings.default_expiration, now)
    longest = parse_expiry(settings.max_expiration, now) if settings.max_expiration else None
    if longest is not None:
        if never or (expires_at is not None and expires_at > longest):
            raise ValidationError(f"Expiry exceeds maximum allowed expiration of {settings.max_expiration}",
                                  code="invalid_options", field=EXPIRY_FIELD)
        if expires_at is None:
            expires_at = longest
    return expires_at, never


def check_options(options: UploadOptions) -> None:
    """What every face should already have refused, checked again where the rule lives.

    Raises:
        ValidationError: unknown format or compression type, a view limit or percentage out of range.
    """
    if options.fmt not in FORMATS:
        raise ValidationError("Invalid format", code="invalid_format")
    if options.max_views is not None and not 0 < options.max_views <= 1_000_000_000:
        raise ValidationError("Max views must be between 1 and 1000000000", code="invalid_options",
                              field="max_views")
    if options.compression is not None and not 0 < options.compression <= 100:
        raise ValidationError("Invalid percent (must be between 0 and 100)", code="invalid_options")
    images.compression_type(options.compression_type)
    if options.anonymous and not options.folder_id:
        raise ValidationError("anonymous uploads need a folder open for uploads", code="folder_not_found")


def _folder_of(owner: User, options: UploadOptions) -> str | None:
    """The folder the files go into (checked: the owner's own, or for an anonymous upload one open for it)."""
    if not options.folder_id:
        return None
    folder = folders.upload_target(None if options.anonymous else owner, options.folder_id)
    if options.anonymous and folder.user_id != owner.id:
        raise ValidationError("folder not found", code="folder_not_found")
    return folder.id


def too_large(index: int, max_bytes: int) -> ZipshortError:
    """413 for the file part at ``index`` (Zipline's text)."""
    return ZipshortError(f"file[{index}]: File size is too large. Maximum file size is {max_bytes} bytes",
                         code="too_large", status=413)


def create_upload(rt: Runtime, owner: User, parts: Sequence[Part] | PartReader, options: UploadOptions,
                  now: dt.datetime | None = None) -> Uploaded:
    """Store the uploaded files as the owner's, all or none.

    ``parts`` are the file parts, or a reader that parses them from the request, spooling each straight
    into storage's temp folder through the factory it is given (no second copy). In order: the options and
    the folder are checked, the expiry rules applied, the parts read; every part is refused when empty or
    of a disabled extension; the blobs are committed to storage (images re-encoded when asked for, or to
    strip GPS), then one transaction charges the quota and inserts the rows. When anything fails every
    blob of the request is removed; spools never committed are removed in any case.

    Raises:
        ValidationError (400: options, no files, empty file, no file name, disabled extension, folder),
        Forbidden (a folder not open for uploads), ZipshortError 413 (too large), FileQuotaExceeded,
        Conflict (a fixed name is taken), StorageFull (507).
    """
    now = now or utcnow()
    settings = rt.settings.files
    check_options(options)
    folder_id = _folder_of(owner, options)
    expires_at, never = apply_expiry_rules(settings, options.expires_at, options.never, now)
    spools: list[SpoolFile] = []

    def spool() -> SpoolFile:
        spools.append(rt.storage.spool(settings.max_file_size))
        return spools[-1]

    try:
        try:
            received = list(parts(spool) if callable(parts) else parts)
        except BlobTooLarge:
            raise too_large(len(spools) - 1, settings.max_file_size) from None
        if not received:
            raise ValidationError("No files were uploaded", code="no_files")
        for index, part in enumerate(received):
            refuse_empty(f"file[{index}]", size_of(part.stream))
        crash_point("upload.spooled")
        password_hash = files.hash_password(rt, options.password)
        stored: list[files.NewFile] = []
        answers: list[tuple[bool, tuple[str, str | None] | None]] = []
        try:
            for index, part in enumerate(received):
                item, answer = _store_part(rt, index, part, options, password_hash, expires_at, now)
                stored.append(dataclasses.replace(item, folder_id=folder_id, anonymous=options.anonymous))
                answers.append(answer)
            rows = files.store_files(rt, owner, stored, now, origin=options.origin, dialect=options.dialect)
        except BaseException:
            for item in stored:
                rt.storage.delete(item.blob.key)
            raise
    finally:
        for spooled in spools:  # committed ones stay; the rest (a failed or refused upload) are removed
            spooled.close()
    return Uploaded(files=[UploadedFile(id=row.id, name=row.name, type=row.type, removed_gps=gps, compressed=packed)
                           for row, (gps, packed) in zip(rows, answers, strict=True)],
                    expires_at=expires_at, never=never)


def size_of(stream: IO[bytes]) -> int:
    """Bytes in a file part (spooled by us, or any seekable stream)."""
    if isinstance(stream, SpoolFile):
        return stream.size
    position = stream.tell()
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(position)
    return size


# What an upload's answer says of a re-encoded image: (GPS removed, (type, ext) when re-encoded).
ImageAnswer = tuple[bool, tuple[str, str | None] | None]


def _store_part(rt: Runtime, index: int, part: Part, options: UploadOptions, password_hash: str | None,
                expires_at: dt.datetime | None, now: dt.datetime) -> tuple[files.NewFile, ImageAnswer]:
    """One part into storage: (the file to record, (GPS removed, (type, ext) when re-encoded))."""
    settings = rt.settings.files
    if not part.filename and options.filename is None:
        raise ValidationError(f"file[{index}]: no filename", code="no_filename")
    ext = extension_of(part.filename, options.extension)
    refuse_disabled(ext, settings.disabled_extensions, f"file[{index}]")
    try:
        if isinstance(part.stream, SpoolFile):
            blob = rt.storage.commit(part.stream)  # the parser already wrote it to the store's temp folder
        else:
            blob = rt.storage.write(chunks_of(part.stream), max_bytes=settings.max_file_size)
    except BlobTooLarge:
        raise too_large(index, settings.max_file_size) from None
    mimetype = "text/plain" if options.text else guess_type(part.mimetype, part.filename or "")
    answer: ImageAnswer = (False, None)
    if mimetype.startswith("image/") and (options.compression or settings.remove_gps_metadata):
        try:
            blob, mimetype, ext, answer = _process_image(rt, blob, mimetype, ext, options)
        except BaseException:
            rt.storage.delete(blob.key)
            raise
    fmt = "zws" if options.zws and options.filename is None else options.fmt
    make_name, retry = name_maker(fmt, settings.length, part.filename, ext, now, options.filename)
    original = clean_display_name(part.filename) if options.keep_original_name else None
    item = files.NewFile(blob=blob, make_name=make_name, retry_name=retry, original_name=original, type=mimetype,
                         max_views=options.max_views, password_hash=password_hash, expires_at=expires_at)
    return item, answer


def _process_image(rt: Runtime, blob: StoredBlob, mimetype: str, ext: str,
                   options: UploadOptions) -> tuple[StoredBlob, str, str, ImageAnswer]:
    """Compress and/or strip GPS; the processed bytes replace the blob. Returns (blob, type, ext, answer)."""
    storage = rt.storage
    with storage.open(blob.key) as fh:
        source = fh if fh.seekable() else io.BytesIO(fh.read())
        result = images.process(source, options.compression,
                                options.compression_type if options.compression else None,
                                rt.settings.files.remove_gps_metadata)
    if result is None:
        return blob, mimetype, ext, (False, None)
    new_blob = storage.write([result.data])
    storage.delete(blob.key)
    if options.compression:
        # re-encoding always names its format's extension
        return new_blob, result.mimetype, result.ext or ext, (result.removed_gps, (result.mimetype, result.ext))
    return new_blob, mimetype, ext, (result.removed_gps, None)
