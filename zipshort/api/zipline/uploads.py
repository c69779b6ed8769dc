"""POST /api/upload: Zipline v4's headers and response, or v3's when a client sends only v3 headers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from dataclasses import dataclass
from urllib.parse import unquote

from flask import Response, g, jsonify, request

from zipshort.api.zipline import bp, creation_limit
from zipshort.api.zipline.schemas import iso, pick_domain
from zipshort.auth import check_caller, declares, presented_key, require_user, runtime
from zipshort.errors import ValidationError, ZipshortError
from zipshort.faults import point as crash_point
from zipshort.http import SPOOL_KEY
from zipshort.inputs import whole_number
from zipshort.models import User, utcnow
from zipshort.services import files, folders, images, partials, uploads
from zipshort.storage import BlobTooLarge, SpoolFile, chunks_of
from zipshort.urls import file_url

V3_HEADERS = frozenset({"format", "image-compression-percent", "expires-at", "password", "max-views", "zws", "embed",
                        "no-json", "original-name", "override-domain", "uploadtext"})


@dataclass(frozen=True)
class Options:
    """One request's upload options, whichever header dialect they came in."""

    fmt: str
    expires_at: dt.datetime | None
    never: bool
    max_views: int | None
    password: str | None
    no_json: bool
    keep_original_name: bool
    domain: str | None
    filename: str | None
    extension: str | None
    compression: int | None = None
    compression_type: str = "jpg"
    zws: bool = False  # v3: names of zero-width characters
    text: bool = False  # v3 UploadText: store as text/plain


def speaks_v3() -> bool:
    """True when the request carries v3 header names and no ``x-zipline-*`` header."""
    names = {name.lower() for name in request.headers.keys()}
    return not any(n.startswith("x-zipline-") for n in names) and bool(names & V3_HEADERS)


def _bad(header: str, message: str) -> ValidationError:
    return ValidationError(f"bad options: [{header}]: {message}", code="invalid_options")


def _max_views(raw: str | None, header: str, nan: str, negative: str) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    digits = text.removeprefix("-")
    if not re.fullmatch(r"[0-9]+", digits):  # ASCII only: "²" passed isdigit() and then failed int(), a 500
        raise _bad(header, nan)
    value = whole_number(digits)  # None past 18 digits (int() refuses 4,300)
    if text.startswith("-") and value != 0:
        raise _bad(header, negative)
    if value is None or value > 1_000_000_000:
        raise _bad(header, "Max views must be at most 1000000000")
    return value or None


def _percent(raw: str | None, header: str, nan: str, bad: str) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        raise _bad(header, nan) from None
    if value != value or not 0 <= value <= 100 or value != int(value):
        raise _bad(header, bad)
    return int(value) or None  # 0 means no compression (Zipline)


def _expiry(raw: str | None, header: str, now: dt.datetime) -> tuple[dt.datetime | None, bool]:
    if raw is None or not raw.strip():
        return None, False
    try:
        return uploads.parse_expiry(raw, now), raw.strip().lower() == "never"
    except ValidationError as exc:
        raise _bad(header, exc.message) from None


def _compression_type(value: str) -> str:
    try:
        return images.compression_type(value)
    except ValidationError as exc:
        raise _bad("x-zipline-image-compression-type", exc.message) from None


def _bounded_expiry(options: Options, header: str, now: dt.datetime) -> Options:
    """Apply files.default_expiration and files.max_expiration (Zipline's texts)."""
    files_settings = runtime().settings.files
    if options.expires_at is None and not options.never and files_settings.default_expiration:
        options = dataclasses.replace(options, expires_at=uploads.parse_expiry(files_settings.default_expiration, now))
    if files_settings.max_expiration:
        longest = uploads.parse_expiry(files_settings.max_expiration, now)
        if options.never or (options.expires_at is not None and options.expires_at > longest):
            raise _bad(header, f"Expiry exceeds maximum allowed expiration of {files_settings.max_expiration}")
        if options.expires_at is None:
            options = dataclasses.replace(options, expires_at=longest)
    return options


def parse_options(now: dt.datetime, v3: bool) -> Options:
    """Read the v4 (``x-zipline-*``) or v3 header set, then apply the expiration settings."""
    options = _read_options(now, v3)
    return _bounded_expiry(options, "expires-at" if v3 else "x-zipline-deletes-at", now)


def _read_options(now: dt.datetime, v3: bool) -> Options:
    h = request.headers
    default_fmt = runtime().settings.files.default_format
    if v3:
        fmt = (h.get("Format") or default_fmt).lower()
        expires_at, never = _expiry(h.get("Expires-At"), "expires-at", now)
        return Options(
            fmt=fmt if fmt in uploads.FORMATS else "random", expires_at=expires_at, never=never,
            max_views=_max_views(h.get("Max-Views"), "max-views", "invalid max views (invalid number)",
                                 "invalid max views (max views < 0)"),
            password=h.get("Password") or None, no_json="No-JSON" in h, keep_original_name="Original-Name" in h,
            domain=h.get("Override-Domain"), filename=None, extension=None,
            compression=_percent(h.get("Image-Compression-Percent"), "image-compression-percent",
                                 "invalid image compression percent (invalid number)",
                                 "invalid image compression percent (% < 0 || % > 100)"),
            zws="Zws" in h, text="UploadText" in h)
    default_type = runtime().settings.files.default_compression_format
    fmt = h.get("x-zipline-format") or default_fmt
    if fmt not in uploads.FORMATS:
        raise _bad("x-zipline-format", "Invalid format")
    expires_at, never = _expiry(h.get("x-zipline-deletes-at"), "x-zipline-deletes-at", now)
    filename = h.get("x-zipline-filename")
    try:
        filename = uploads.decode_override(filename) if filename else None
    except ValidationError as exc:
        raise _bad("x-zipline-filename", exc.message) from None
    return Options(
        fmt=fmt, expires_at=expires_at, never=never,
        max_views=_max_views(h.get("x-zipline-max-views"), "x-zipline-max-views", "Invalid max views (NaN)",
                             "Invalid max views (must be 0 or more)"),
        password=h.get("x-zipline-password") or None,
        no_json=(h.get("x-zipline-no-json") or "").lower() == "true",
        keep_original_name=(h.get("x-zipline-original-name") or "").lower() == "true",
        domain=h.get("x-zipline-domain"), filename=filename, extension=h.get("x-zipline-file-extension") or None,
        compression=_percent(h.get("x-zipline-image-compression-percent"), "x-zipline-image-compression-percent",
                             "Invalid percent (NaN)", "Invalid percent (must be between 0 and 100)"),
        compression_type=_compression_type(h.get("x-zipline-image-compression-type") or default_type))


def _uploader() -> tuple[User, str | None, bool]:
    """Who owns the upload, into which folder, and whether it is anonymous.

    Anonymous uploads (no credentials at all) are allowed into a folder open for uploads; they
    belong to the folder's owner and count against that owner's quota.
    """
    folder_id = request.headers.get("x-zipline-folder")
    if folder_id and presented_key() is None and g.get("user") is None:
        folder = folders.upload_target(None, folder_id)
        return folder.user, folder.id, True
    user = check_caller(scope="files:write")
    if folder_id:
        folders.upload_target(user, folder_id)
    return user, folder_id or None, False


@bp.post("/upload")
@declares("files:write", note="or none: anonymous uploads into a folder open for uploads")
def upload():
    rt = runtime()
    settings = rt.settings
    v3 = speaks_v3()
    if v3:
        g.dialect = "zipline-v3"
    owner, folder_id, anonymous = _uploader()
    creation_limit(None if anonymous else owner, "upload")
    if "Content-Range" in request.headers:
        raise ValidationError("bad options, receieved: partial upload", code="invalid_options")
    request.max_content_length = settings.server.max_request_body_size
    spools: list[SpoolFile] = []

    def spool() -> SpoolFile:
        spools.append(rt.storage.spool(settings.files.max_file_size))
        return spools[-1]

    request.environ[SPOOL_KEY] = spool
    now = utcnow()
    options = parse_options(now, v3)
    host = pick_domain(settings, options.domain, request.host)
    try:
        rows, extras = _store_request(rt, owner, options, spools, now, folder_id, anonymous)
    finally:
        for spooled in spools:  # committed ones stay; the rest (a failed or refused upload) are removed
            spooled.close()
    urls = [file_url(settings, row.name, host) for row in rows]
    if options.no_json:
        return Response(",".join(urls), mimetype="text/plain")
    if v3:
        body: dict = {"files": urls}
        if options.expires_at:
            body["expiresAt"] = iso(options.expires_at)
        return jsonify(body)
    body = {"files": [{"id": row.id, "name": row.name, "type": row.type, "url": url, **extra}
                      for row, url, extra in zip(rows, urls, extras, strict=True)]}
    if options.expires_at or options.never:
        body["deletesAt"] = "never" if options.never else iso(options.expires_at)
    return jsonify(body)


def _store_request(rt, owner: User, options: Options, spools: list[SpoolFile], now: dt.datetime,
                   folder_id: str | None, anonymous: bool):
    """Parse the file parts (spooled into storage's temp folder), store them and record the rows."""
    settings = rt.settings
    try:
        parts = request.files.getlist("file")
    except BlobTooLarge:
        raise ZipshortError(f"file[{len(spools) - 1}]: File size is too large. Maximum file size is "
                            f"{settings.files.max_file_size} bytes", code="too_large", status=413) from None
    if not parts:
        raise ValidationError("no files" if speaks_v3() else "No files were uploaded", code="no_files")
    for index, part in enumerate(parts):
        uploads.refuse_empty(f"file[{index}]", _part_size(part))
    crash_point("upload.spooled")
    password_hash = rt.passwords.hash(options.password) if options.password else None
    stored: list[files.NewFile] = []
    extras: list[dict] = []
    try:
        for index, part in enumerate(parts):
            item, extra = _store_part(rt, index, part, options, password_hash, now)
            stored.append(dataclasses.replace(item, folder_id=folder_id, anonymous=anonymous))
            extras.append(extra)
        rows = files.store_files(owner, stored, rt.storage, now)
    except BaseException:
        for item in stored:
            rt.storage.delete(item.blob.key)
        raise
    return rows, extras


def _part_size(part) -> int:
    """Bytes in a parsed file part (spooled by us, or by werkzeug when no spool was asked for)."""
    if isinstance(part.stream, SpoolFile):
        return part.stream.size
    position = part.stream.tell()
    part.stream.seek(0, io.SEEK_END)
    size = part.stream.tell()
    part.stream.seek(position)
    return size


def _store_part(rt, index: int, part, options: Options, password_hash: str | None, now: dt.datetime):
    settings = rt.settings.files
    if not part.filename and options.filename is None:
        raise ValidationError(f"file[{index}]: no filename", code="no_filename")
    ext = uploads.extension_of(part.filename, options.extension)
    uploads.refuse_disabled(ext, settings.disabled_extensions, f"file[{index}]")
    try:
        if isinstance(part.stream, SpoolFile):
            blob = rt.storage.commit(part.stream)  # the parser already wrote it to the store's temp folder
        else:
            blob = rt.storage.write(chunks_of(part.stream), max_bytes=settings.max_file_size)
    except BlobTooLarge:
        raise ZipshortError(f"file[{index}]: File size is too large. Maximum file size is {settings.max_file_size} "
                            "bytes", code="too_large", status=413) from None
    mimetype = "text/plain" if options.text else uploads.guess_type(part.mimetype, part.filename or "")
    extra: dict = {}
    if mimetype.startswith("image/") and (options.compression or settings.remove_gps_metadata):
        try:
            blob, mimetype, ext, extra = _process_image(rt, blob, mimetype, ext, options)
        except BaseException:
            rt.storage.delete(blob.key)
            raise
    fmt = "zws" if options.zws and options.filename is None else options.fmt
    make_name, retry = uploads.name_maker(fmt, settings.length, part.filename, ext, now, options.filename)
    original = uploads.clean_display_name(part.filename) if options.keep_original_name else None
    item = files.NewFile(blob=blob, make_name=make_name, retry_name=retry, original_name=original, type=mimetype,
                         max_views=options.max_views, password_hash=password_hash, expires_at=options.expires_at)
    return item, extra


def _process_image(rt, blob, mimetype: str, ext: str, options: Options):
    """Compress and/or strip GPS; the processed bytes replace the blob. Returns (blob, type, ext, extras)."""
    storage = rt.storage
    with storage.open(blob.key) as fh:
        source = fh if fh.seekable() else io.BytesIO(fh.read())
        result = images.process(source, options.compression,
                                options.compression_type if options.compression else None,
                                rt.settings.files.remove_gps_metadata)
    if result is None:
        return blob, mimetype, ext, {}
    new_blob = storage.write([result.data])
    storage.delete(blob.key)
    extra: dict = {}
    if result.removed_gps:
        extra["removedGps"] = True
    if options.compression:
        extra["compressed"] = {"mimetype": result.mimetype, "ext": result.ext}
        return new_blob, result.mimetype, result.ext, extra
    return new_blob, mimetype, ext, extra


@bp.post("/upload/partial")
@require_user(scope="files:write")
def upload_partial():
    """One chunk of a large file: Zipline 4.4's identifier protocol or 4.5+'s token protocol."""
    rt = runtime()
    settings = rt.settings
    request.max_content_length = settings.server.max_request_body_size
    now = utcnow()
    h = request.headers
    options = parse_options(now, v3=False)
    host = pick_domain(settings, options.domain, request.host)
    parts = request.files.getlist("file")
    if not parts:
        raise ValidationError("No files were uploaded", code="no_files")
    if len(parts) != 1:
        raise ValidationError("partial uploads only support one file field", code="one_file_only")
    chunk = partials.parse_content_range(h.get("Content-Range"), (h.get("x-zipline-p-lastchunk") or "") == "true")
    if chunk.start == 0:  # a chunked upload counts once, as Zipline 4.5 does
        creation_limit(g.user, "upload")
    # display metadata, stored with the session: no control characters, at most 255 bytes
    filename = uploads.clean_display_name(unquote(h.get("x-zipline-p-filename") or parts[0].filename or "")) or "file"
    content_type = uploads.guess_type(h.get("x-zipline-p-content-type") or parts[0].mimetype, filename)
    stored_options = {
        "fmt": options.fmt, "max_views": options.max_views,
        "password_hash": rt.passwords.hash(options.password) if options.password else None,
        "expires_at": options.expires_at.isoformat() if options.expires_at else None,
        "keep_name": options.keep_original_name, "filename": options.filename, "extension": options.extension,
    }
    result = partials.receive_chunk(
        rt, g.user, chunks_of(parts[0].stream), chunk, size=_part_size(parts[0]),
        identifier=h.get("x-zipline-p-identifier") or None,
        token=h.get("x-zipline-p-token") or None, filename=filename, content_type=content_type,
        options=stored_options, now=now)
    if isinstance(result, partials.Progress):
        return jsonify({"files": [], "partialSuccess": True, "partialIdentifier": result.identifier,
                        "partialToken": result.token})
    url = file_url(settings, result.name, host)
    if options.no_json:
        return Response(url, mimetype="text/plain")
    return jsonify({"files": [{"id": result.id, "name": result.name, "type": result.type, "url": url,
                               "pending": False}]})
