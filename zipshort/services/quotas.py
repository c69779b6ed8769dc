"""File quotas: every change to a user's usage is one conditional UPDATE of their counters.

``used_bytes``/``file_count`` are the sums over the user's files. ``reserved_bytes``/``reserved_files``
are held by open chunked uploads (each holds its declared size and one file from its first chunk), so
that ten sessions cannot each fit under the quota on their own. A limit counts both; a finished chunked
upload turns its reservation into usage in the transaction that inserts its row, and every other end of
a session (cancel, expiry, failure) releases it. Callers run these inside their write transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from zipshort.database import rowcount
from zipshort.errors import QuotaExceeded, ZipshortError
from zipshort.extensions import db
from zipshort.models import FilesQuota, User


class FileQuotaExceeded(QuotaExceeded):
    """Zipline answers quota failures on uploads with 413."""

    status = 413


class TooManyPartialUploads(ZipshortError):
    """The user already has files.partial_sessions_per_user chunked uploads open."""

    status = 429
    code = "too_many_partial_uploads"


def _fits(n_bytes: int, n_files: int) -> ColumnElement[bool]:
    return or_(
        User.quota_files_type.is_(None),
        User.quota_files_type == FilesQuota.NONE.value,
        and_(User.quota_files_type == FilesQuota.BY_BYTES.value,
             User.used_bytes + User.reserved_bytes + n_bytes <= User.quota_max_bytes),
        and_(User.quota_files_type == FilesQuota.BY_FILES.value,
             User.file_count + User.reserved_files + n_files <= User.quota_max_files),
    )


def _update(owner_id: str, *where: ColumnElement[bool], **values: Any) -> int:
    result = db.session.execute(update(User).where(User.id == owner_id, *where).values(**values)
                                .execution_options(synchronize_session=False))
    return rowcount(result)


def _quota_error(owner_id: str) -> FileQuotaExceeded:
    kind, max_bytes, max_files = db.session.execute(
        select(User.quota_files_type, User.quota_max_bytes, User.quota_max_files).where(User.id == owner_id)).one()
    if kind == FilesQuota.BY_FILES.value:
        return FileQuotaExceeded(f"uploading will exceed your file count quota of {max_files} files")
    return FileQuotaExceeded(f"uploading will exceed your storage quota of {max_bytes} bytes")


def charge(owner_id: str, n_bytes: int, n_files: int) -> None:
    """Count new files against the owner's quota, or raise FileQuotaExceeded (413)."""
    if not _update(owner_id, _fits(n_bytes, n_files), used_bytes=User.used_bytes + n_bytes,
                   file_count=User.file_count + n_files):
        raise _quota_error(owner_id)


def reserve(owner_id: str, n_bytes: int, max_open: int) -> None:
    """Hold ``n_bytes`` and one file for a chunked upload, while fewer than ``max_open`` are held.

    Raises:
        FileQuotaExceeded (413): it would not fit next to the files and the other open uploads.
        TooManyPartialUploads (429): ``max_open`` uploads are already open.
    """
    if _update(owner_id, _fits(n_bytes, 1), User.reserved_files < max_open,
               reserved_bytes=User.reserved_bytes + n_bytes, reserved_files=User.reserved_files + 1):
        return
    if db.session.scalars(select(User.reserved_files).where(User.id == owner_id)).one() >= max_open:
        raise TooManyPartialUploads(f"You already have {max_open} chunked uploads in progress: finish or cancel "
                                    "one first (unfinished ones end at the latest 30 minutes after their last chunk)")
    raise _quota_error(owner_id)


def convert(owner_id: str, held_bytes: int, n_bytes: int) -> None:
    """Turn a chunked upload's reservation (``held_bytes``, one file) into its file's usage."""
    _update(owner_id, reserved_bytes=User.reserved_bytes - held_bytes, reserved_files=User.reserved_files - 1,
            used_bytes=User.used_bytes + n_bytes, file_count=User.file_count + 1)


def release(owner_id: str, held_bytes: int) -> None:
    """Give back a chunked upload's reservation (``held_bytes``, one file)."""
    _update(owner_id, reserved_bytes=User.reserved_bytes - held_bytes, reserved_files=User.reserved_files - 1)
