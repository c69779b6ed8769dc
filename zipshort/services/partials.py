"""Chunked uploads (Zipline's /api/upload/partial): the 4.4 identifier and 4.5+ token protocols.

Sessions live in the database (any process can take the next chunk); bytes go to one assembly
file per upload in storage's temp folder, each chunk written at its offset. Size and quota are
checked against the whole file: the declared total up front, the real bytes at every chunk, and
the quota is reserved atomically when the last chunk completes the file.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, select, update

from zipshort.database import write_transaction
from zipshort.errors import NotFound, ValidationError, ZipshortError
from zipshort.extensions import db
from zipshort.models import File, FilesQuota, PartialUpload, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.security import key_digest, random_string
from zipshort.services import files, uploads
from zipshort.storage import BlobTooLarge

SESSION_IDLE = dt.timedelta(minutes=30)
_RANGE = re.compile(r"^bytes[ =](\d+)-(\d+)/(\d+)$")


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


def parse_content_range(value: str | None, last: bool) -> Chunk:
    """Read Content-Range (three integers, start ≤ end ≤ total).

    Raises:
        ValidationError: missing or malformed.
    """
    match = _RANGE.match((value or "").strip())
    if not match:
        raise ValidationError("Invalid content-range", code="invalid_range")
    start, end, total = (int(g) for g in match.groups())
    if start > end or end > total or total == 0:
        raise ValidationError("Invalid content-range", code="invalid_range")
    return Chunk(start=start, end=end, total=total, last=last)


def _too_large(limit: int) -> ZipshortError:
    return ZipshortError("File is too large", code="too_large", status=413)


def _check_quota_ahead(owner: User, total: int) -> None:
    """Refuse at the first chunk when the declared size cannot fit (the final reservation is atomic)."""
    user = db.session.get(User, owner.id, populate_existing=True)
    if user.quota_files_type == FilesQuota.BY_BYTES.value and user.used_bytes + total > (user.quota_max_bytes or 0):
        raise files.FileQuotaExceeded(f"uploading will exceed your storage quota of {user.quota_max_bytes} bytes")
    if user.quota_files_type == FilesQuota.BY_FILES.value and user.file_count + 1 > (user.quota_max_files or 0):
        raise files.FileQuotaExceeded(f"uploading will exceed your file count quota of {user.quota_max_files} files")


def _start(rt: Runtime, owner: User, chunk: Chunk, filename: str, content_type: str, options: dict[str, Any],
           now: dt.datetime) -> PartialUpload:
    if chunk.start != 0:
        raise ValidationError("No partial upload identifier provided", code="no_identifier")
    if chunk.total > rt.settings.files.max_file_size:
        raise _too_large(rt.settings.files.max_file_size)
    _check_quota_ahead(owner, chunk.total)
    with write_transaction(db.session):
        session = PartialUpload(id=new_id(), user_id=owner.id, identifier=random_string(8, uploads.NAME_ALPHABET),
                                filename=filename, content_type=content_type, total_size=chunk.total, received=0,
                                options=options, created_at=now, updated_at=now)
        db.session.add(session)
    return session


def _find(owner: User, identifier: str | None, token: str | None) -> PartialUpload:
    if token:
        stmt = select(PartialUpload).where(PartialUpload.token_hash == key_digest(token))
    else:
        stmt = select(PartialUpload).where(PartialUpload.identifier == identifier)
    session = db.session.scalar(stmt.execution_options(populate_existing=True))
    if session is None or session.user_id != owner.id or session.updated_at < utcnow() - SESSION_IDLE:
        raise NotFound("Unknown or expired partial upload", code="unknown_partial")
    return session


def receive_chunk(rt: Runtime, owner: User, data: Iterable[bytes], chunk: Chunk, *, identifier: str | None,
                  token: str | None, filename: str, content_type: str, options: dict[str, Any],
                  now: dt.datetime | None = None) -> Progress | File:
    """Store one chunk; on the last one assemble the file and return its row.

    Raises:
        ValidationError (bad range, out of order for tokens, incomplete), NotFound (unknown session),
        413 (too large), FileQuotaExceeded.
    """
    now = now or utcnow()
    if identifier is None and token is None:
        session = _start(rt, owner, chunk, filename, content_type, options, now)
    else:
        session = _find(owner, identifier, token)
        if token and chunk.start != session.received:
            raise ValidationError("Chunks must arrive in order with a token", code="out_of_order")
    if chunk.total != session.total_size:
        raise ValidationError("Content-range total does not match the upload", code="invalid_range")
    storage = rt.storage
    limit = min(session.total_size, rt.settings.files.max_file_size)
    try:
        written = storage.write_part(session.id, chunk.start, data, limit)
    except BlobTooLarge:
        _abandon(session, storage)
        raise _too_large(limit) from None
    if written not in (chunk.end - chunk.start, chunk.end - chunk.start + 1):
        raise ValidationError("Chunk length does not match content-range", code="invalid_range")
    next_token = secrets.token_urlsafe(24)
    with write_transaction(db.session):
        db.session.execute(update(PartialUpload).where(PartialUpload.id == session.id)
                           .values(received=PartialUpload.received + written, updated_at=now,
                                   token_hash=key_digest(next_token)))
    if not chunk.last:
        return Progress(identifier=session.identifier, token=next_token)
    return _complete(rt, owner, session.id, now)


def _complete(rt: Runtime, owner: User, session_id: str, now: dt.datetime) -> File:
    session = db.session.get(PartialUpload, session_id, populate_existing=True)
    if session.received < session.total_size:
        raise ValidationError("Upload is incomplete: chunks are missing", code="incomplete")
    blob = rt.storage.finish_parts(session.id)
    if blob.size != session.total_size:
        rt.storage.delete(blob.key)
        _abandon(session, rt.storage)
        raise ValidationError("Assembled size does not match the declared size", code="size_mismatch")
    opts = session.options
    ext = uploads.extension_of(session.filename, opts.get("extension"))
    make_name, retry = uploads.name_maker(opts["fmt"], rt.settings.files.length, session.filename, ext, now,
                                          opts.get("filename"))
    expires = dt.datetime.fromisoformat(opts["expires_at"]) if opts.get("expires_at") else None
    item = files.NewFile(blob=blob, make_name=make_name, retry_name=retry,
                         original_name=uploads.clean_display_name(session.filename) if opts.get("keep_name") else None,
                         type=session.content_type, max_views=opts.get("max_views"),
                         password_hash=opts.get("password_hash"), expires_at=expires)
    try:
        (row,) = files.store_files(owner, [item], rt.storage, now)
    finally:
        with write_transaction(db.session):
            db.session.execute(delete(PartialUpload).where(PartialUpload.id == session_id))
    return row


def _abandon(session: PartialUpload, storage) -> None:
    storage.discard_parts(session.id)
    with write_transaction(db.session):
        db.session.execute(delete(PartialUpload).where(PartialUpload.id == session.id))


def list_incomplete(owner: User) -> list[PartialUpload]:
    """The owner's chunked uploads still receiving (Zipline's incomplete files), oldest first."""
    return list(db.session.scalars(select(PartialUpload).where(PartialUpload.user_id == owner.id)
                                   .order_by(PartialUpload.created_at, PartialUpload.id)))


def cancel(owner: User, ids: list[str], storage) -> list[PartialUpload]:
    """Abandon the owner's sessions among ``ids`` (others' and unknown ids are skipped); return them."""
    rows = [s for s in list_incomplete(owner) if s.id in set(ids)]
    for session in rows:
        _abandon(session, storage)
    return rows


def prune_abandoned(storage, now: dt.datetime | None = None) -> int:
    """Forget sessions idle for more than 30 minutes, with their bytes; return how many."""
    cutoff = (now or utcnow()) - SESSION_IDLE
    stale = list(db.session.scalars(select(PartialUpload).where(PartialUpload.updated_at < cutoff)))
    for session in stale:
        _abandon(session, storage)
    return len(stale)


__all__ = ["Chunk", "File", "Progress", "cancel", "list_incomplete", "parse_content_range", "prune_abandoned",
           "receive_chunk"]
