"""Files: rows for stored blobs, quotas reserved atomically, deletes row-first then blob.

Order of an upload (security.md rule 5): the blob is streamed to storage first (temp, fsync,
rename); then one transaction reserves the quota with a conditional UPDATE and inserts the
rows; if that fails the blobs are deleted. A crash can leave an orphan blob (fsck removes it),
never a row without its blob.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from zipshort.database import hot_statement, write_transaction
from zipshort.errors import Conflict, Forbidden, Gone, NotFound, PasswordRequired, QuotaExceeded
from zipshort.extensions import db
from zipshort.models import File, FilesQuota, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.storage import Storage, StoredBlob

NAME_ATTEMPTS = 10


@dataclass(frozen=True)
class NewFile:
    """What the upload decided about one file; ``name`` is a callable so collisions can retry."""

    blob: StoredBlob
    make_name: Callable[[], str]
    retry_name: bool
    original_name: str | None
    type: str
    max_views: int | None = None
    password_hash: str | None = None
    expires_at: dt.datetime | None = None
    folder_id: str | None = None


class FileQuotaExceeded(QuotaExceeded):
    """Zipline answers quota failures on uploads with 413."""

    status = 413


def _reserve(owner_id: str, n_bytes: int, n_files: int) -> None:
    """Count the new files against the owner's quota in one conditional UPDATE, or raise."""
    allowed = or_(
        User.quota_files_type.is_(None),
        User.quota_files_type == FilesQuota.NONE.value,
        and_(User.quota_files_type == FilesQuota.BY_BYTES.value, User.used_bytes + n_bytes <= User.quota_max_bytes),
        and_(User.quota_files_type == FilesQuota.BY_FILES.value, User.file_count + n_files <= User.quota_max_files),
    )
    result = db.session.execute(
        update(User).where(User.id == owner_id, allowed)
        .values(used_bytes=User.used_bytes + n_bytes, file_count=User.file_count + n_files)
        .execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return
    kind, max_bytes, max_files = db.session.execute(
        select(User.quota_files_type, User.quota_max_bytes, User.quota_max_files).where(User.id == owner_id)).one()
    if kind == FilesQuota.BY_FILES.value:
        raise FileQuotaExceeded(f"uploading will exceed your file count quota of {max_files} files")
    raise FileQuotaExceeded(f"uploading will exceed your storage quota of {max_bytes} bytes")


def _insert(owner: User, item: NewFile, now: dt.datetime) -> File:
    for _ in range(NAME_ATTEMPTS if item.retry_name else 1):
        name = item.make_name()
        row = File(id=new_id(), user_id=owner.id, name=name, original_name=item.original_name, size=item.blob.size,
                   type=item.type, sha256=item.blob.sha256, storage_key=item.blob.key, views=0,
                   max_views=item.max_views, password_hash=item.password_hash, expires_at=item.expires_at,
                   favorite=False, folder_id=item.folder_id, anonymous=False, created_at=now, updated_at=now)
        savepoint = db.session.begin_nested()
        db.session.add(row)
        try:
            savepoint.commit()
            return row
        except IntegrityError:
            savepoint.rollback()
    raise Conflict(f'A file with the name "{name}" already exists', code="name_taken")


def store_files(owner: User, items: list[NewFile], storage: Storage, now: dt.datetime | None = None) -> list[File]:
    """Record already-stored blobs as the owner's files, all or none.

    Raises:
        FileQuotaExceeded: over the owner's bytes or file quota. Conflict: a fixed name is taken.
        On any error every blob of ``items`` is deleted.
    """
    now = now or utcnow()
    try:
        with write_transaction(db.session):
            _reserve(owner.id, sum(i.blob.size for i in items), len(items))
            rows = [_insert(owner, item, now) for item in items]
    except BaseException:
        for item in items:
            storage.delete(item.blob.key)
        raise
    return rows


def get_file_by_name(name: str) -> File:
    """The file served under ``name``.

    Raises:
        NotFound.
    """
    row = db.session.scalar(select(File).where(File.name == name)) if name and "\x00" not in name else None
    if row is None:
        raise NotFound("File not found", code="file_not_found")
    return row


def delete_file(rt: Runtime, owner: User, file_id: str, storage: Storage) -> File:
    """Delete one of the owner's files: the row (and its quota) first, then the blob.

    Raises:
        NotFound: no such file of this owner.
    """
    with write_transaction(db.session):
        row = db.session.get(File, file_id) if file_id and "\x00" not in file_id else None
        if row is None or row.user_id != owner.id:
            raise NotFound("File not found", code="file_not_found")
        db.session.delete(row)
        db.session.execute(update(User).where(User.id == owner.id)
                           .values(used_bytes=User.used_bytes - row.size, file_count=User.file_count - 1)
                           .execution_options(synchronize_session=False))
    storage.delete(row.storage_key)
    return row


_LIVE_SQL = """(expires_at IS NULL OR expires_at > :now)
  AND (max_views IS NULL OR views < max_views)
  AND EXISTS (SELECT 1 FROM users WHERE users.id = files.user_id AND users.disabled IS FALSE)"""
_SERVE_SQL = f"""UPDATE files SET views = views + 1
WHERE name = :name AND password_hash IS NULL AND {_LIVE_SQL}
RETURNING storage_key, type, size, sha256, original_name, max_views, updated_at"""
_SERVE_UNLOCKED_SQL = f"""UPDATE files SET views = views + 1
WHERE name = :name AND password_hash = :pw_hash AND {_LIVE_SQL}
RETURNING storage_key, type, size, sha256, original_name, max_views, updated_at"""
_PEEK_SQL = f"""SELECT storage_key, type, size, sha256, original_name, max_views, updated_at, password_hash, id
FROM files WHERE name = :name AND {_LIVE_SQL}"""


@dataclass(frozen=True)
class Serving:
    """What to send for one counted (or, for HEAD, peeked) view."""

    storage_key: str
    type: str
    size: int
    sha256: str
    original_name: str | None
    limited: bool
    protected: bool
    updated_at: object


def _serving(row, protected: bool) -> Serving:
    return Serving(storage_key=row[0], type=row[1], size=row[2], sha256=row[3], original_name=row[4],
                   limited=row[5] is not None, protected=protected, updated_at=row[6])


def _gone(rt: Runtime) -> Gone:
    return Gone("This file is no longer available", status=rt.settings.urls.gone_status)


def open_file(rt: Runtime, name: str, now: dt.datetime | None = None, count: bool = True) -> Serving:
    """Count one view of the file ``name`` (atomically against its limit) and say what to send.

    Raises:
        NotFound, Gone (expired, used up, owner disabled), PasswordRequired.
    """
    now = now or utcnow()
    if not name or "\x00" in name or len(name) > 255:
        raise NotFound("File not found", code="file_not_found")
    peek = hot_statement(db.engine, _PEEK_SQL, {"name": name, "now": now}, write=False)
    if peek is None:
        exists_ = db.session.scalar(select(File.id).where(File.name == name))
        db.session.rollback()
        raise NotFound("File not found", code="file_not_found") if exists_ is None else _gone(rt)
    if peek[7] is not None:
        raise PasswordRequired(code="password_required")
    if not count:
        return _serving(peek, False)
    row = hot_statement(db.engine, _SERVE_SQL, {"name": name, "now": now}, write=True)
    if row is None:
        raise _gone(rt)
    return _serving(row, False)


def unlock_file(rt: Runtime, name: str, password: object, client: str, now: dt.datetime | None = None) -> Serving:
    """Check a protected file's password (rate limited per file and client) and count the view.

    Raises:
        NotFound, Gone, RateLimited, Forbidden.
    """
    now = now or utcnow()
    if not name or "\x00" in name or len(name) > 255:
        raise NotFound("File not found", code="file_not_found")
    peek = hot_statement(db.engine, _PEEK_SQL, {"name": name, "now": now}, write=False)
    if peek is None or peek[7] is None:
        raise NotFound("File not found", code="file_not_found")
    rt.limiter.hit(rt.settings.ratelimit.link_password, "file-password", peek[8], client,
                   message="Too many password attempts, try again later")
    if not isinstance(password, str) or not rt.passwords.verify(peek[7], password[:1024]):
        raise Forbidden("Incorrect password", code="wrong_password")
    row = hot_statement(db.engine, _SERVE_UNLOCKED_SQL, {"name": name, "pw_hash": peek[7], "now": now}, write=True)
    if row is None:
        raise _gone(rt)
    return _serving(row, True)
