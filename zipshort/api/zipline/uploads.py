"""POST /api/upload: Zipline v4's headers and response, or v3's when a client sends only v3 headers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import IO, Callable
from urllib.parse import unquote

from flask import Response, g, jsonify, request

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, creation_limit
from zipshort.api.zipline.schemas import iso, pick_domain
from zipshort.auth import check_caller, declares, presented_key, require_user
from zipshort.errors import ValidationError, ZipshortError
from zipshort.http import SPOOL_KEY, runtime
from zipshort.inputs import whole_number
from zipshort.models import User, utcnow
from zipshort.services import folders, images, partials, uploads
from zipshort.urls import file_url, public_url

V3_HEADERS = frozenset({"format", "image-compression-percent", "expires-at", "password", "max-views", "zws", "embed",
                        "no-json", "original-name", "override-domain", "uploadtext"})


@dataclass(frozen=True)
class Options:
    """One request's upload options, whichever header dialect they came in: what the service needs
    (``upload``) and how to answer (``no_json``, ``domain``)."""

    upload: uploads.UploadOptions
    no_json: bool
    domain: str | None


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


def _dialect_error(exc: ZipshortError, v3: bool) -> ZipshortError:
    """A service error in Zipline's words: expiry errors name the header, v3 says "no files"."""
    if exc.field == uploads.EXPIRY_FIELD:
        return _bad("expires-at" if v3 else "x-zipline-deletes-at", exc.message)
    if v3 and exc.code == "no_files":
        return exc.with_message("no files")
    return exc


def parse_options(now: dt.datetime, v3: bool) -> Options:
    """Read the v4 (``x-zipline-*``) or v3 header set (the expiration settings apply in the service)."""
    h = request.headers
    default_fmt = runtime().settings.files.default_format
    if v3:
        fmt = (h.get("Format") or default_fmt).lower()
        expires_at, never = _expiry(h.get("Expires-At"), "expires-at", now)
        upload = uploads.UploadOptions(
            fmt=fmt if fmt in uploads.FORMATS else "random", expires_at=expires_at, never=never,
            max_views=_max_views(h.get("Max-Views"), "max-views", "invalid max views (invalid number)",
                                 "invalid max views (max views < 0)"),
            password=h.get("Password") or None, keep_original_name="Original-Name" in h,
            compression=_percent(h.get("Image-Compression-Percent"), "image-compression-percent",
                                 "invalid image compression percent (invalid number)",
                                 "invalid image compression percent (% < 0 || % > 100)"),
            zws="Zws" in h, text="UploadText" in h, dialect="zipline-v3")
        return Options(upload=upload, no_json="No-JSON" in h, domain=h.get("Override-Domain"))
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
    upload = uploads.UploadOptions(
        fmt=fmt, expires_at=expires_at, never=never,
        max_views=_max_views(h.get("x-zipline-max-views"), "x-zipline-max-views", "Invalid max views (NaN)",
                             "Invalid max views (must be 0 or more)"),
        password=h.get("x-zipline-password") or None,
        keep_original_name=(h.get("x-zipline-original-name") or "").lower() == "true",
        filename=filename, extension=h.get("x-zipline-file-extension") or None,
        compression=_percent(h.get("x-zipline-image-compression-percent"), "x-zipline-image-compression-percent",
                             "Invalid percent (NaN)", "Invalid percent (must be between 0 and 100)"),
        compression_type=_compression_type(h.get("x-zipline-image-compression-type") or default_type),
        dialect="zipline")
    return Options(upload=upload, no_json=(h.get("x-zipline-no-json") or "").lower() == "true",
                   domain=h.get("x-zipline-domain"))


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


class UploadForm(Open):
    """The multipart body: one or more ``file`` parts (options come as headers: ``x-zipline-*``, or v3's)."""

    file: list[bytes]


class UploadedFile(Open):
    id: str
    name: str
    type: str
    url: str


class UploadAnswer(Open):
    """v4: the files as objects (``deletesAt`` when they expire); v3: their URLs (``expiresAt``)."""

    files: list[UploadedFile | str]
    deletesAt: str | None = None
    expiresAt: str | None = None


class ChunkAnswer(Open):
    """A chunk taken (``partialSuccess``, the next ``partialToken``), or the assembled file."""

    files: list[UploadedFile]
    partialSuccess: bool | None = None
    partialIdentifier: str | None = None
    partialToken: str | None = None


@bp.post("/upload")
@documented("Upload files", multipart=UploadForm, responses={200: UploadAnswer}, also=("text/plain",))
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
    now = utcnow()
    options = parse_options(now, v3)
    host = pick_domain(settings, options.domain, request.host)
    asked = dataclasses.replace(options.upload, folder_id=folder_id, anonymous=anonymous,
                                origin=public_url(settings, "", host))
    try:
        result = uploads.create_upload(rt, owner, _file_parts, asked, now)
    except ZipshortError as exc:
        raise _dialect_error(exc, v3) from None
    rows = result.files
    urls = [file_url(settings, row.name, host) for row in rows]
    if options.no_json:
        return Response(",".join(urls), mimetype="text/plain")
    if v3:
        body: dict = {"files": urls}
        if result.expires_at:
            body["expiresAt"] = iso(result.expires_at)
        return jsonify(body)
    body = {"files": [{"id": row.id, "name": row.name, "type": row.type, "url": url, **_extra(row)}
                      for row, url in zip(rows, urls, strict=True)]}
    if result.expires_at or result.never:
        body["deletesAt"] = "never" if result.never else iso(result.expires_at)
    return jsonify(body)


def _file_parts(spool: uploads.SpoolFactory) -> list[uploads.Part]:
    """The request's ``file`` parts, each written by the multipart parser straight into ``spool()``."""
    request.environ[SPOOL_KEY] = spool
    return [uploads.Part(filename=p.filename, mimetype=p.mimetype, stream=p.stream)
            for p in request.files.getlist("file")]


def _chunk_part(open_part: Callable[[], IO[bytes]]) -> list[uploads.Part]:
    """The chunk request's ``file`` parts, written by the multipart parser straight into ``open_part()`` (the
    chunk's place in its upload); named and typed by the ``x-zipline-p-*`` headers, else by the part."""
    request.environ[SPOOL_KEY] = open_part
    h = request.headers
    return [uploads.Part(filename=unquote(h.get("x-zipline-p-filename") or p.filename or ""),
                         mimetype=h.get("x-zipline-p-content-type") or p.mimetype, stream=p.stream)
            for p in request.files.getlist("file")]


def _extra(item: uploads.UploadedFile) -> dict:
    """Zipline's extra fields of an uploaded file: ``removedGps``, ``compressed``."""
    extra: dict = {}
    if item.removed_gps:
        extra["removedGps"] = True
    if item.compressed is not None:
        extra["compressed"] = {"mimetype": item.compressed[0], "ext": item.compressed[1]}
    return extra


@bp.post("/upload/partial")
@documented("Upload one chunk of a large file", multipart=UploadForm, responses={200: ChunkAnswer},
            also=("text/plain",))
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
    chunk = partials.parse_content_range(h.get("Content-Range"), (h.get("x-zipline-p-lastchunk") or "") == "true")
    if chunk.start == 0:  # a chunked upload counts once, as Zipline 4.5 does
        creation_limit(g.user, "upload")
    try:
        result = partials.add_chunk(
            rt, g.user, _chunk_part, chunk, identifier=h.get("x-zipline-p-identifier") or None,
            token=h.get("x-zipline-p-token") or None,
            options=dataclasses.replace(options.upload, origin=public_url(settings, "", host)), now=now)
    except ZipshortError as exc:
        raise _dialect_error(exc, v3=False) from None
    if isinstance(result, partials.Progress):
        return jsonify({"files": [], "partialSuccess": True, "partialIdentifier": result.identifier,
                        "partialToken": result.token})
    url = file_url(settings, result.name, host)
    if options.no_json:
        return Response(url, mimetype="text/plain")
    return jsonify({"files": [{"id": result.id, "name": result.name, "type": result.type, "url": url,
                               "pending": False}]})
