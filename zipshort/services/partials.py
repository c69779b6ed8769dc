"""Chunked uploads (Zipline's /api/upload/partial): the 4.4 identifier and 4.5+ token protocols.

Sessions live in the database, so any process can take the next chunk; bytes go to one assembly file
per upload in storage's temp folder, each chunk written at its offset. Every rule is held by the database:

- The first chunk reserves the declared size and one file against the owner's quota, within the cap on
  open sessions, in one conditional UPDATE (services.quotas). Finishing turns the reservation into the
  file's usage in the transaction that inserts the row and deletes the session; cancel, expiry and every
  failure delete the session and release it. A session row exists exactly as long as its reservation.
- A chunk writes at its offset (under a shared lock on the assembly file), then records its byte range;
  ranges are merged, so a resent chunk counts once.
- The last chunk finishes only when the ranges cover the whole file: it moves the session to
  "assembling" under a row lock, so of parallel last chunks exactly one finishes. The assembly takes an
  exclusive lock on the file, so it waits for chunks still being written, and a chunk arriving after it
  finds the file gone (409). The locks are the kernel's: a crashed writer holds nothing.
- A session ends 30 minutes after its last chunk (Zipline's), and never later than
  files.partial_max_age_seconds after its first, however often chunks are resent.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from dataclasses import dataclass
from typing import IO, Any, Iterable

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from zipshort.database import rowcount, write_transaction
from zipshort.errors import Conflict, NotFound, ValidationError, ZipshortError
from zipshort.extensions import db
from zipshort.faults import point as crash_point
from zipshort.models import File, PartialUpload, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.security import key_digest, random_string
from zipshort.services import files, quotas, uploads
from zipshort.services.chunkranges import describe, merge_range, missing_ranges
from zipshort.storage import BlobTooLarge, Storage, StoredBlob, chunks_of

SESSION_IDLE = dt.timedelta(minutes=30)
RECEIVING, ASSEMBLING = "receiving", "assembling"
_RANGE = re.compile(r"^bytes[ =](\d+)-(\d+)/(\d+)$")
# Separate received pieces an upload may have at once (clients sending chunks in parallel make a few).
MAX_PIECES = 64


@dataclass(frozen=True)
class Chunk:
    """Where one chunk belongs: ``Content-Range: bytes start-end/total`` (end inclusive or exclusive)."""

    start: int
    end: int
    total: int
    last: bool


@dataclass(frozen=True)
class Progress:
    """A chunk was stored; send the next one with this identifier or token."""

    identifier: str
    token: str


@dataclass(frozen=True)
class _Open:
    id: str
    identifier: str
    total: int


def parse_content_range(value: str | None, last: bool) -> Chunk:
    """Read Content-Range (three integers, start ≤ end ≤ total, total > 0).

    Raises:
        ValidationError: missing, malformed, or an empty file.
    """
    match = _RANGE.match((value or "").strip())
    if not match:
        raise ValidationError("Invalid content-range", code="invalid_range")
    start, end, total = (int(g) for g in match.groups())
    if total == 0:
        raise uploads.EmptyUpload("Empty files cannot be uploaded (content-range total is 0)")
    if start > end or end > total:
        raise ValidationError("Invalid content-range", code="invalid_range")
    return Chunk(start=start, end=end, total=total, last=last)


def _gone() -> NotFound:
    return NotFound("Unknown or expired partial upload", code="unknown_partial")


def _check_size(chunk: Chunk, size: int, total: int) -> None:
    """The chunk must fit its range (inclusive or exclusive end) and the declared file."""
    if chunk.total != total:
        raise ValidationError("Content-range total does not match the upload", code="invalid_range")
    if chunk.start + size > total:
        raise BlobTooLarge("File is too large")
    if size == 0:
        raise uploads.EmptyUpload("Chunk is empty")
    if size not in (chunk.end - chunk.start, chunk.end - chunk.start + 1):
        raise ValidationError("Chunk length does not match content-range", code="invalid_range")


def _start(rt: Runtime, owner: User, chunk: Chunk, filename: str, content_type: str, options: dict[str, Any],
           now: dt.datetime) -> _Open:
    settings = rt.settings.files
    if chunk.start != 0:
        raise ValidationError("No partial upload identifier provided", code="no_identifier")
    if chunk.total > settings.max_file_size:
        raise BlobTooLarge("File is too large")
    uploads.refuse_disabled(uploads.extension_of(filename, options.get("extension")), settings.disabled_extensions)
    session = PartialUpload(id=new_id(), user_id=owner.id, identifier=random_string(8, uploads.NAME_ALPHABET),
                            filename=filename, content_type=content_type, total_size=chunk.total, received=0,
                            ranges=[], state=RECEIVING, options=options, created_at=now, updated_at=now,
                            expires_at=now + dt.timedelta(seconds=settings.partial_max_age_seconds))
    with write_transaction(db.session):
        quotas.reserve(owner.id, chunk.total, settings.partial_sessions_per_user)
        db.session.add(session)
    return _Open(session.id, session.identifier, session.total_size)


def _join(owner: User, identifier: str | None, token: str | None, chunk: Chunk, now: dt.datetime) -> _Open:
    """Touch the owner's live, receiving session for this chunk, or say why it cannot take it."""
    live = [PartialUpload.user_id == owner.id, PartialUpload.state == RECEIVING,
            PartialUpload.updated_at >= now - SESSION_IDLE, PartialUpload.expires_at > now]
    if token:  # 4.5+: strictly in order
        who = PartialUpload.token_hash == key_digest(token)
        live.append(PartialUpload.received == chunk.start)
    else:
        who = PartialUpload.identifier == (identifier or "")
    with write_transaction(db.session):
        row = db.session.execute(
            update(PartialUpload).where(who, *live).values(updated_at=now)
            .returning(PartialUpload.id, PartialUpload.identifier, PartialUpload.total_size)
            .execution_options(synchronize_session=False)).first()
    if row is None:
        raise _refusal(owner, who, now)
    return _Open(*row)


def _finishing() -> Conflict:
    return Conflict("This upload is already being finished", code="partial_finishing")


def _refusal(owner: User, who: ColumnElement[bool], now: dt.datetime) -> ZipshortError:
    row = db.session.scalar(select(PartialUpload).where(who).execution_options(populate_existing=True))
    if (row is None or row.user_id != owner.id or row.updated_at < now - SESSION_IDLE
            or (row.expires_at is not None and row.expires_at <= now)):
        return _gone()
    if row.state == ASSEMBLING:
        return _finishing()
    return ValidationError("Chunks must arrive in order with a token", code="out_of_order")


def _lost(session_id: str, storage: Storage) -> ZipshortError:
    """The assembly file vanished under a chunk: it is being assembled (409), or it was lost (404, the
    session ends: its bytes so far are gone)."""
    state = db.session.scalar(select(PartialUpload.state).where(PartialUpload.id == session_id))
    db.session.rollback()
    if state == ASSEMBLING:
        return _finishing()
    _abandon(session_id, storage, PartialUpload.state == RECEIVING)
    return _gone()


def receive_chunk(rt: Runtime, owner: User, data: Iterable[bytes], chunk: Chunk, *, size: int,
                  identifier: str | None, token: str | None, filename: str, content_type: str,
                  options: dict[str, Any], now: dt.datetime | None = None,
                  origin: str | None = None) -> Progress | File:
    """Store one chunk of ``size`` bytes; on the last one assemble the file and return its row.

    Raises:
        ValidationError (bad range, out of order, incomplete, empty), NotFound (unknown or expired session),
        Conflict (already being finished), 413 (too large), FileQuotaExceeded,
        TooManyPartialUploads, StorageFull (507).
    """
    now = now or utcnow()
    first = identifier is None and token is None
    if first:
        _check_size(chunk, size, chunk.total)
        session = _start(rt, owner, chunk, filename, content_type, options, now)
    else:
        session = _join(owner, identifier, token, chunk, now)
    storage = rt.storage
    try:
        if not first:
            _check_size(chunk, size, session.total)
        storage.write_part(session.id, chunk.start, data, min(session.total, rt.settings.files.max_file_size),
                           create=first)
        crash_point("chunk.written")
    except ValidationError:  # the session is intact: the client may send this chunk again
        raise
    except FileNotFoundError:
        raise _lost(session.id, storage) from None
    except BaseException:  # too large, disk full, …: nothing of the upload is kept
        _abandon(session.id, storage)
        raise
    next_token = _record(session.id, chunk.start, size, chunk.last, now, key_digest(token) if token else None)
    if not chunk.last:
        return Progress(identifier=session.identifier, token=next_token)
    return _complete(rt, owner, session.id, now, origin)


def add_chunk(rt: Runtime, owner: User, stream: IO[bytes], chunk: Chunk, *, identifier: str | None,
              token: str | None, filename: str, content_type: str | None, options: uploads.UploadOptions,
              now: dt.datetime | None = None) -> Progress | uploads.UploadedFile:
    """The door of a chunked upload: store one chunk (``stream``, placed by ``chunk``); the last one
    assembles and records the file.

    The first chunk (no ``identifier`` and no ``token``) opens the session with the upload's options:
    checked, the expiry rules applied, the password hashed; later chunks are checked the same way but
    the session keeps the first chunk's options. ``filename`` and ``content_type`` are the client's
    (cleaned here into display metadata: no control characters, at most 255 bytes; the type guessed from
    the name when missing or generic).

    Raises:
        as :func:`receive_chunk`, and ValidationError for the options (expiry past files.max_expiration).
    """
    now = now or utcnow()
    uploads.check_options(options)
    expires_at, _ = uploads.apply_expiry_rules(rt.settings.files, options.expires_at, options.never, now)
    name = uploads.clean_display_name(filename) or "file"
    first = identifier is None and token is None
    stored = {
        "fmt": options.fmt, "max_views": options.max_views,
        "password_hash": files.hash_password(rt, options.password) if first else None,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "keep_name": options.keep_original_name, "filename": options.filename, "extension": options.extension,
    }
    result = receive_chunk(rt, owner, chunks_of(stream), chunk, size=uploads.size_of(stream),
                           identifier=identifier, token=token, filename=name,
                           content_type=uploads.guess_type(content_type, name), options=stored, now=now,
                           origin=options.origin)
    if isinstance(result, Progress):
        return result
    return uploads.UploadedFile(id=result.id, name=result.name, type=result.type)


def _record(session_id: str, start: int, size: int, last: bool, now: dt.datetime, presented: str | None) -> str:
    """Add the chunk's range and rotate the token; return the new token.

    The last chunk also claims the session for assembly when the ranges cover the file; otherwise it
    raises 400 (its range stays recorded). ``presented`` is the digest of the token the chunk came with:
    when another chunk used it meanwhile, this one is refused.
    """
    token = secrets.token_urlsafe(24)
    with write_transaction(db.session):
        row = db.session.execute(
            select(PartialUpload.ranges, PartialUpload.total_size, PartialUpload.state, PartialUpload.token_hash)
            .where(PartialUpload.id == session_id).with_for_update()).first()
        if row is None or (presented is not None and row.token_hash != presented):
            raise _gone()  # cancelled or expired while this chunk was written, or its token was used meanwhile
        if row.state != RECEIVING:
            raise _finishing()
        ranges = merge_range(row.ranges, start, start + size)
        if len(ranges) > MAX_PIECES:  # each chunk rewrites the list under the write lock: keep it short
            raise ValidationError(f"Too many separate pieces: at most {MAX_PIECES} at a time; send chunks next to "
                                  "the ones already received", code="too_many_pieces")
        missing = missing_ranges(ranges, row.total_size) if last else []
        # updated_at is given explicitly, so a caller's clock (``now``) is kept rather than onupdate's
        db.session.execute(update(PartialUpload).where(PartialUpload.id == session_id).values(
            ranges=ranges, received=sum(end - begin for begin, end in ranges), updated_at=now,
            token_hash=key_digest(token), state=ASSEMBLING if last and not missing else RECEIVING)
            .execution_options(synchronize_session=False))
    if missing:
        raise ValidationError(f"Upload is incomplete: bytes {describe(missing)} of {row.total_size} are missing; "
                              "send them, then the last chunk again", code="incomplete")
    return token


def _complete(rt: Runtime, owner: User, session_id: str, now: dt.datetime, origin: str | None = None) -> File:
    """Assemble the claimed session's file and record it, turning the reservation into usage."""
    storage = rt.storage
    crash_point("chunk.assembling")
    session = db.session.get(PartialUpload, session_id, populate_existing=True)
    if session is None:
        raise _gone()
    try:
        blob = storage.finish_parts(session_id)
    except FileNotFoundError:
        _abandon(session_id, storage)
        raise _gone() from None
    except BaseException:
        _abandon(session_id, storage)
        raise
    crash_point("chunk.assembled")
    try:
        item = _new_file(rt, session, blob, now)
    except BaseException:
        storage.delete(blob.key)
        _abandon(session_id, storage)
        raise
    settle = functools.partial(_settle, session_id, owner.id, session.total_size)
    try:
        (row,) = files.store_files(rt, owner, [item], now, settle=settle, origin=origin,
                                   dialect="zipline")  # v4's own kind
    except BaseException:
        _abandon(session_id, storage)  # store_files removed the blob; this releases the reservation
        raise
    return row


def _new_file(rt: Runtime, session: PartialUpload, blob: StoredBlob, now: dt.datetime) -> files.NewFile:
    if blob.size != session.total_size:
        raise ValidationError("Assembled size does not match the declared size", code="size_mismatch")
    opts = session.options
    ext = uploads.extension_of(session.filename, opts.get("extension"))
    make_name, retry = uploads.name_maker(opts["fmt"], rt.settings.files.length, session.filename, ext, now,
                                          opts.get("filename"))
    expires = dt.datetime.fromisoformat(opts["expires_at"]) if opts.get("expires_at") else None
    return files.NewFile(blob=blob, make_name=make_name, retry_name=retry,
                         original_name=uploads.clean_display_name(session.filename) if opts.get("keep_name") else None,
                         type=session.content_type, max_views=opts.get("max_views"),
                         password_hash=opts.get("password_hash"), expires_at=expires)


def _settle(session_id: str, owner_id: str, held: int, size: int) -> None:
    """Inside the file's transaction: end the session and turn its reservation into the file's usage."""
    ended = rowcount(db.session.execute(delete(PartialUpload).where(PartialUpload.id == session_id,
                                                                    PartialUpload.state == ASSEMBLING)
                                        .execution_options(synchronize_session=False)))
    if ended != 1:  # expired meanwhile: its reservation is already released
        raise _gone()
    quotas.convert(owner_id, held, size)


def _abandon(session_id: str, storage: Storage, *still: ColumnElement[bool]) -> bool:
    """End the session (when it still matches ``still``): release its reservation, drop its bytes."""
    with write_transaction(db.session):
        row = db.session.execute(delete(PartialUpload).where(PartialUpload.id == session_id, *still)
                                 .returning(PartialUpload.user_id, PartialUpload.total_size)
                                 .execution_options(synchronize_session=False)).first()
        if row is not None:
            quotas.release(row.user_id, row.total_size)
    if row is not None:
        storage.discard_parts(session_id)
    return row is not None


def list_incomplete(owner: User) -> list[PartialUpload]:
    """The owner's chunked uploads still receiving (Zipline's incomplete files), oldest first."""
    return list(db.session.scalars(select(PartialUpload).where(PartialUpload.user_id == owner.id)
                                   .order_by(PartialUpload.created_at, PartialUpload.id)))


def cancel(rt: Runtime, owner: User, ids: list[str]) -> list[PartialUpload]:
    """Abandon the owner's sessions among ``ids`` (others' and unknown ids are skipped); return them."""
    rows = [s for s in list_incomplete(owner) if s.id in set(ids)]
    return [s for s in rows if _abandon(s.id, rt.storage, PartialUpload.user_id == owner.id)]


def prune_abandoned(storage: Storage, now: dt.datetime | None = None,
                    stuck_after: dt.timedelta = SESSION_IDLE) -> int:
    """End sessions idle for 30 minutes, past their hard end, or assembling for ``stuck_after`` (a crash
    while finishing); release their reservations and drop their bytes. Return how many."""
    now = now or utcnow()
    stale = or_(PartialUpload.expires_at <= now,
                and_(PartialUpload.state == RECEIVING, PartialUpload.updated_at < now - SESSION_IDLE),
                and_(PartialUpload.state == ASSEMBLING, PartialUpload.updated_at < now - stuck_after))
    ids = list(db.session.scalars(select(PartialUpload.id).where(stale)))
    db.session.rollback()
    return sum(_abandon(session_id, storage, stale) for session_id in ids)


def session_ids() -> set[str]:
    """Ids of every open session (their assembly files are not stale, however old)."""
    ids = set(db.session.scalars(select(PartialUpload.id)))
    db.session.rollback()
    return ids


__all__ = ["Chunk", "File", "Progress", "add_chunk", "cancel", "list_incomplete", "parse_content_range",
           "prune_abandoned", "receive_chunk", "session_ids"]
