"""Chunked uploads (Zipline's /api/upload/partial): the 4.4 identifier and 4.5+ token protocols.

Sessions live in the database, so any process can take the next chunk; bytes go to one assembly file
per upload in storage's temp folder, each chunk written at its offset. Every rule is held by the database:

- The first chunk reserves the declared size and one file against the owner's quota, within the cap on
  open sessions, in one conditional UPDATE (services.quotas). Finishing turns the reservation into the
  file's usage in the transaction that inserts the row and deletes the session; cancel, expiry and every
  failure delete the session and release it. A session row exists exactly as long as its reservation.
- A chunk's bytes go from the request's multipart parser straight to their offset of the assembly file (under
  a shared lock on it): no other copy. Then the chunk records its byte range; ranges are merged, so a resent
  chunk counts once.
- Each process keeps a running SHA-256 of the bytes it received in order from the start (``rt.chunk_hashes``,
  bounded): a chunk that begins where this process's hash ends is hashed as it is written. A hash state
  cannot move between processes, so when this process's ends before the chunk (or it has none) and the bytes
  in between are recorded (they went to other processes), a ``HashFollower`` hashes them from the assembly
  file and then the chunk's own as they land, on a thread beside the request. The assembly goes on from the
  hash and reads back only the bytes it does not cover: none when the chunks came in order, to one process or
  to several; some when they came out of order or in parallel.
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
import io
import re
import secrets
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Sequence, cast

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
from zipshort.services.chunkranges import covers, describe, merge_range, missing_ranges
from zipshort.storage import BlobTooLarge, HashFollower, PartFile, RunningHash, Storage, StorageFull, StoredBlob

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

SESSION_IDLE = dt.timedelta(minutes=30)
RECEIVING, ASSEMBLING = "receiving", "assembling"
_RANGE = re.compile(r"^bytes[ =](\d+)-(\d+)/(\d+)$")
# Separate received pieces an upload may have at once (clients sending chunks in parallel make a few).
MAX_PIECES = 64

# Parses a chunk request's file parts: the parser calls the factory for each part and writes the part's bytes
# into the file it returns (the chunk's place in the assembly file); returns the parts named ``file``.
ChunkReader = Callable[[Callable[[], IO[bytes]]], Sequence[uploads.Part]]


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
    ranges: Sequence[Sequence[int]] = ()  # what was recorded before this chunk


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


def _check_size(chunk: Chunk, size: int) -> None:
    """The chunk must fill its range (inclusive or exclusive end; longer ones were stopped as they came)."""
    if size == 0:
        raise uploads.EmptyUpload("Chunk is empty")
    if size not in (chunk.end - chunk.start, chunk.end - chunk.start + 1):
        raise ValidationError("Chunk length does not match content-range", code="invalid_range")


def _opening(rt: Runtime, chunk: Chunk) -> None:
    """What a first chunk must be before its bytes are read: at 0, of a file within files.max_file_size."""
    if chunk.start != 0:
        raise ValidationError("No partial upload identifier provided", code="no_identifier")
    if chunk.total > rt.settings.files.max_file_size:
        raise BlobTooLarge("File is too large")


def _start(rt: Runtime, owner: User, session_id: str, chunk: Chunk, filename: str, content_type: str,
           options: dict[str, Any], now: dt.datetime) -> _Open:
    """Open the session whose first chunk is already in ``session_id``'s assembly file, reserving its size."""
    settings = rt.settings.files
    uploads.refuse_disabled(uploads.extension_of(filename, options.get("extension")), settings.disabled_extensions)
    session = PartialUpload(id=session_id, user_id=owner.id, identifier=random_string(8, uploads.NAME_ALPHABET),
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
            .returning(PartialUpload.id, PartialUpload.identifier, PartialUpload.total_size, PartialUpload.ranges)
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


def _lost(rt: Runtime, session_id: str) -> ZipshortError:
    """The assembly file vanished under a chunk: it is being assembled (409), or it was lost (404, the
    session ends: its bytes so far are gone)."""
    state = db.session.scalar(select(PartialUpload.state).where(PartialUpload.id == session_id))
    db.session.rollback()
    if state == ASSEMBLING:
        return _finishing()
    _abandon(session_id, rt.storage, PartialUpload.state == RECEIVING)
    rt.chunk_hashes.pop(session_id)
    return _gone()


class _ChunkBody(io.RawIOBase):
    """The one file part of a chunk request, as the multipart parser writes it: checked against the chunk's
    range as it comes (past the file's end: 413; past the range: 400, before a byte lands outside it), hashed
    when ``digest`` is given (this process's running hash, which ends where the chunk starts) or followed by
    ``follower`` (which hashes it from the file as it lands), and written at its offset of the assembly file
    (``storage.open_part``, opened when the part begins)."""

    def __init__(self, storage: Storage, session_id: str, chunk: Chunk, total: int, limit: int, create: bool,
                 digest: Any, follower: HashFollower | None = None) -> None:
        super().__init__()
        self._open = functools.partial(storage.open_part, session_id, chunk.start, limit, create)
        self._file: PartFile | None = None
        self.start, self.total, self.digest, self.follower = chunk.start, total, digest, follower
        self.longest = chunk.end - chunk.start + 1  # an inclusive end; an exclusive one is one byte shorter
        self.size = 0

    def open(self) -> IO[bytes]:
        """The factory the parser calls for each file part: the first one is the chunk."""
        if self._file is not None:
            raise ValidationError("partial uploads only support one file field", code="one_file_only")
        self._file = self._open()
        return cast(IO[bytes], self)  # a writable file object, which is all the parser needs

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        length = memoryview(data).nbytes
        if self.start + self.size + length > self.total:
            raise BlobTooLarge("File is too large")
        if self.size + length > self.longest:
            raise ValidationError("Chunk length does not match content-range", code="invalid_range")
        assert self._file is not None  # the parser writes only into what open() returned
        self._file.write(data)
        if self.digest is not None:
            self.digest.update(data)
        self.size += length
        if self.follower is not None:
            self.follower.advance(self.start + self.size)
        return length

    def seek(self, offset: int, whence: int = 0) -> int:  # the parser rewinds a finished part
        return 0

    def close(self) -> None:
        """Release the assembly file (the request closes its parts again later: fine)."""
        if self._file is not None:
            self._file.close()
        super().close()


def copied(data: bytes | IO[bytes], filename: str | None = None, mimetype: str | None = None) -> ChunkReader:
    """A reader of a chunk already in hand (tests, scripts): its bytes are written into the chunk's place."""

    def read(open_part: Callable[[], IO[bytes]]) -> list[uploads.Part]:
        target = open_part()
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        while piece := stream.read(1024 * 1024):
            target.write(piece)
        return [uploads.Part(filename=filename, mimetype=mimetype, stream=target)]

    return read


def receive_chunk(rt: Runtime, owner: User, read: ChunkReader, chunk: Chunk, *, identifier: str | None,
                  token: str | None, options: dict[str, Any], now: dt.datetime | None = None,
                  origin: str | None = None) -> Progress | File:
    """Store one chunk (``read`` parses it straight into its place); on the last one assemble the file and
    return its row. The first chunk's part names the file and its type (cleaned here).

    Raises:
        ValidationError (bad range, out of order, incomplete, empty, no file part or several), NotFound
        (unknown or expired session), Conflict (already being finished), 413 (too large), FileQuotaExceeded,
        TooManyPartialUploads, StorageFull (507).
    """
    now = now or utcnow()
    first = identifier is None and token is None
    if first:
        _opening(rt, chunk)
        session = _Open(new_id(), "", chunk.total)  # the row is made once the chunk is in
    else:
        session = _join(owner, identifier, token, chunk, now)
        if chunk.total != session.total:
            raise ValidationError("Content-range total does not match the upload", code="invalid_range")
    storage = rt.storage
    digest = rt.chunk_hashes.take(session.id, chunk.start)
    follower = None if digest is not None or first else _follower(rt, session, chunk)
    body = _ChunkBody(storage, session.id, chunk, session.total, min(session.total, rt.settings.files.max_file_size),
                      create=first, digest=digest, follower=follower)
    try:
        with body:
            parts = read(body.open)
        if not parts:
            raise ValidationError("No files were uploaded", code="no_files")
        _check_size(chunk, body.size)
        crash_point("chunk.written")
        if first:
            name = uploads.clean_display_name(parts[0].filename) or "file"
            session = _start(rt, owner, session.id, chunk, name, uploads.guess_type(parts[0].mimetype, name),
                             options, now)
    except BaseException as exc:
        if follower is not None:
            follower.abandon()
        raise _failed(rt, session.id, first, exc) from None
    hashed = None if follower is None else follower.finish()
    next_token, missing = _record(session.id, chunk.start, body.size, chunk.last, now,
                                  key_digest(token) if token else None)
    if body.digest is not None:
        rt.chunk_hashes.advance(session.id, RunningHash(chunk.start + body.size, body.digest))
    elif hashed is not None and hashed.position == chunk.start + body.size:
        rt.chunk_hashes.advance(session.id, hashed)
    if missing:
        raise ValidationError(f"Upload is incomplete: bytes {describe(missing)} of {session.total} are missing; "
                              "send them, then the last chunk again", code="incomplete")
    if not chunk.last:
        return Progress(identifier=session.identifier, token=next_token)
    return _complete(rt, owner, session.id, now, origin)


def _follower(rt: Runtime, session: _Open, chunk: Chunk) -> HashFollower | None:
    """When this process's running hash of the upload ends before the chunk (the chunks in between went to
    other processes) and the bytes in between are recorded, a follower that hashes them from the assembly file
    and then this chunk's as they land, beside the request; else None (the assembly reads back what no hash
    here covers)."""
    behind = rt.chunk_hashes.behind(session.id, chunk.start)
    if behind is None or not covers([list(r) for r in session.ranges], behind.position, chunk.start):
        return None
    try:
        return rt.storage.follow_part(session.id, behind, chunk.start)
    except OSError:  # gone: the chunk's own write says why
        return None


def _failed(rt: Runtime, session_id: str, first: bool, exc: BaseException) -> BaseException:
    """What a chunk that could not be stored leaves, and the error to raise.

    A first chunk leaves nothing (its session was never opened, or its opening failed). A later one: bytes
    past the declared file (413) or a full disk (507) end the session; a vanished assembly file means it is
    being assembled (409) or lost (404, the session ends); anything else — a bad chunk, a request cut short
    while its body was read — keeps the session, so the client may send the chunk again (it ends when idle).
    """
    storage = rt.storage
    if first:
        storage.discard_parts(session_id)
    elif isinstance(exc, FileNotFoundError):
        return _lost(rt, session_id)
    elif isinstance(exc, (BlobTooLarge, StorageFull)):
        _abandon(session_id, storage)
        rt.chunk_hashes.pop(session_id)
    return exc


def add_chunk(rt: Runtime, owner: User, read: ChunkReader, chunk: Chunk, *, identifier: str | None,
              token: str | None, options: uploads.UploadOptions,
              now: dt.datetime | None = None) -> Progress | uploads.UploadedFile:
    """The door of a chunked upload: store one chunk (``read`` parses it into its place, ``chunk`` says
    where); the last one assembles and records the file.

    The first chunk (no ``identifier`` and no ``token``) opens the session with the upload's options:
    checked, the expiry rules applied, the password hashed; later chunks are checked the same way but
    the session keeps the first chunk's options. The first chunk's part also gives the file's name and
    type, the client's (cleaned into display metadata: no control characters, at most 255 bytes; the type
    guessed from the name when missing or generic).

    Raises:
        as :func:`receive_chunk`, and ValidationError for the options (expiry past files.max_expiration).
    """
    now = now or utcnow()
    uploads.check_options(options)
    expires_at, _ = uploads.apply_expiry_rules(rt.settings.files, options.expires_at, options.never, now)
    first = identifier is None and token is None
    stored = {
        "fmt": options.fmt, "max_views": options.max_views,
        "password_hash": files.hash_password(rt, options.password) if first else None,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "keep_name": options.keep_original_name, "filename": options.filename, "extension": options.extension,
    }
    result = receive_chunk(rt, owner, read, chunk, identifier=identifier, token=token, options=stored, now=now,
                           origin=options.origin)
    if isinstance(result, Progress):
        return result
    return uploads.UploadedFile(id=result.id, name=result.name, type=result.type)


def _record(session_id: str, start: int, size: int, last: bool, now: dt.datetime,
            presented: str | None) -> tuple[str, list[tuple[int, int]]]:
    """Add the chunk's range and rotate the token; return the new token and, for the last chunk, the bytes
    still missing.

    The last chunk also claims the session for assembly when the ranges cover the file; otherwise its
    caller raises 400 (its range stays recorded). ``presented`` is the digest of the token the chunk came
    with: when another chunk used it meanwhile, this one is refused.
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
    return token, missing


def _complete(rt: Runtime, owner: User, session_id: str, now: dt.datetime, origin: str | None = None) -> File:
    """Assemble the claimed session's file and record it, turning the reservation into usage."""
    storage = rt.storage
    crash_point("chunk.assembling")
    session = db.session.get(PartialUpload, session_id, populate_existing=True)
    if session is None:
        raise _gone()
    try:
        blob = storage.finish_parts(session_id, rt.chunk_hashes.pop(session_id))
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
    for row in rows:
        rt.chunk_hashes.pop(row.id)
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


__all__ = ["Chunk", "ChunkReader", "File", "Progress", "add_chunk", "cancel", "copied", "list_incomplete",
           "parse_content_range", "prune_abandoned", "receive_chunk", "session_ids"]
