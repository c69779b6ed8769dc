"""Files: rows for stored blobs, quotas charged atomically, deletes row-first then blob.

Order of an upload (ARCHITECTURE.md, Storage): the blob is streamed to storage first (temp, fsync,
rename); then one transaction charges the quota with a conditional UPDATE (services.quotas) and
inserts the rows; if that fails the blobs are deleted. A crash can leave an orphan blob (the
storage clean-up removes it once old enough), never a row without its blob.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from zipshort.database import publish_after_commit, write_transaction
from zipshort.errors import Conflict, NotFound, ValidationError
from zipshort.events import BulkDeleted, FileDeleted, FileUpdated, FileUploaded
from zipshort.extensions import db
from zipshort.faults import point as crash_point
from zipshort.inputs import check_offset
from zipshort.models import File, Link, Tag, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services import quotas
from zipshort.services.thumbnails import stored_thumbnail
from zipshort.storage import Storage, StoredBlob

log = logging.getLogger("zipshort.files")
NAME_ATTEMPTS = 10
UNSET: object = object()
MAX_PASSWORD_LENGTH = 1024  # what a password check reads of what a visitor types

# --- one liveness rule --------------------------------------------------------------------------------
# A file is live while it is not expired, its views are under its limit and its owner is not disabled.
# LIVE_SQL is the rule for the serving statements (services/downloads.py); state_of() below is the same
# rule in Python for listings, thumbnails and API objects. tests/services/test_file_state.py walks every
# state through both.
LIVE, EXPIRED, USED_UP, DISABLED = "live", "expired", "used up", "disabled"
AVAILABLE_SQL = """(expires_at IS NULL OR expires_at > :now)
  AND EXISTS (SELECT 1 FROM users WHERE users.id = files.user_id AND users.disabled IS FALSE)"""
LIVE_SQL = f"""{AVAILABLE_SQL}
  AND (max_views IS NULL OR views < max_views)"""


def state_of(expires_at: dt.datetime | None, views: int, max_views: int | None, owner_disabled: bool = False,
             now: dt.datetime | None = None) -> str:
    """live / disabled (the owner is) / expired / used up: whether the file is served now and, if not, why."""
    if owner_disabled:
        return DISABLED
    if expires_at is not None and expires_at <= (now or utcnow()):
        return EXPIRED
    if max_views is not None and views >= max_views:
        return USED_UP
    return LIVE


def file_state(row: File, now: dt.datetime | None = None) -> str:
    """The state of ``row`` (see :func:`state_of`; loads the owner, usually from the session's identity map)."""
    return state_of(row.expires_at, row.views, row.max_views, row.user.disabled, now)


def is_live(row: File, now: dt.datetime | None = None) -> bool:
    """Whether ``row`` is served now (password or not)."""
    return file_state(row, now) == LIVE


def hash_password(rt: Runtime, password: object) -> str | None:
    """A file password as stored: None for no password (None or ""), else its argon2 hash.

    Raises:
        ValidationError: not a string, or longer than MAX_PASSWORD_LENGTH.
    """
    if password is None or password == "":
        return None
    if not isinstance(password, str):
        raise ValidationError("password must be a string", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters", field="password")
    return rt.passwords.hash(password)


def blob_keys(rows: Iterable[tuple[str, str | None]]) -> list[str]:
    """Every storage key of these (storage key, thumbnail key) pairs: the blobs and the thumbnails made."""
    keys: list[str] = []
    for key, thumbnail_key in rows:
        keys.append(key)
        thumb = stored_thumbnail(thumbnail_key)
        if thumb is not None:
            keys.append(thumb)
    return keys


def remove_blobs(storage: Storage, keys: Iterable[str]) -> int:
    """Delete blobs whose rows are already gone (committed); a failure is logged, not raised (the row is
    gone either way; `zipshort fsck --remove` or the storage clean-up takes an orphan later). Return how
    many were deleted."""
    removed = 0
    for key in keys:
        try:
            storage.delete(key)
            removed += 1
        except Exception:  # noqa: BLE001 - S3 down, permissions, …: the deletion itself has happened
            log.warning("could not remove blob %s; the storage clean-up will", key, exc_info=True)
    return removed


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
    anonymous: bool = False


def _insert(owner: User, item: NewFile, now: dt.datetime) -> File:
    for _ in range(NAME_ATTEMPTS if item.retry_name else 1):
        name = item.make_name()
        row = File(id=new_id(), user_id=owner.id, name=name, original_name=item.original_name, size=item.blob.size,
                   type=item.type, sha256=item.blob.sha256, storage_key=item.blob.key, views=0,
                   max_views=item.max_views, password_hash=item.password_hash, expires_at=item.expires_at,
                   favorite=False, folder_id=item.folder_id, anonymous=item.anonymous, created_at=now,
                   updated_at=now)
        savepoint = db.session.begin_nested()
        db.session.add(row)
        try:
            savepoint.commit()
            return row
        except IntegrityError:
            savepoint.rollback()
    raise Conflict(f'A file with the name "{name}" already exists', code="name_taken")


def store_files(rt: Runtime, owner: User, items: list[NewFile], now: dt.datetime | None = None,
                settle: Callable[[int], None] | None = None, origin: str | None = None,
                dialect: str | None = None) -> list[File]:
    """Record already-stored blobs as the owner's files, all or none; ``file.uploaded`` for each on commit.

    ``settle`` (chunked uploads) runs inside the transaction instead of charging the quota: it turns a
    reservation made earlier into the usage of these bytes, or raises. ``dialect``: the API the files came
    through, for subscribers (``FileUploaded.dialect``).

    Raises:
        FileQuotaExceeded: over the owner's bytes or file quota. Conflict: a fixed name is taken.
        On any error every blob of ``items`` is deleted.
    """
    now = now or utcnow()
    size = sum(i.blob.size for i in items)
    try:
        with write_transaction(db.session):
            if settle is None:
                quotas.charge(owner.id, size, len(items))
            else:
                settle(size)
            rows = [_insert(owner, item, now) for item in items]
            actor_id = None if any(item.anonymous for item in items) else owner.id  # anonymous: into an open folder
            publish_after_commit(db.session, rt.events,
                                 *(uploaded_event(row, actor_id, origin, dialect) for row in rows))
            crash_point("files.before_commit")
    except BaseException:
        for item in items:
            rt.storage.delete(item.blob.key)
        raise
    crash_point("files.after_commit")
    return rows


def uploaded_event(row: File, actor_id: str | None, origin: str | None = None,
                   dialect: str | None = None) -> FileUploaded:
    """What subscribers learn of a new file (never its password hash or storage key); ``origin`` is the
    ``<scheme>://<host>`` the uploader's URL was given on, ``dialect`` the API it came through."""
    return FileUploaded(file_id=row.id, filename=row.name, owner_id=row.user_id, size=row.size, mimetype=row.type,
                        folder_id=row.folder_id, has_password=row.password_hash is not None,
                        max_views=row.max_views, expires_at=row.expires_at, actor_id=actor_id,
                        origin=origin, dialect=dialect)


def deleted_event(row: File, actor_id: str | None) -> FileDeleted:
    """What subscribers learn of a deleted file."""
    return FileDeleted(file_id=row.id, filename=row.name, owner_id=row.user_id, size=row.size, actor_id=actor_id)


# --- the files API ------------------------------------------------------------------------------

SORT_FIELDS = ("id", "createdAt", "updatedAt", "deletesAt", "name", "originalName", "size", "type", "views",
               "favorite")
SEARCH_FIELDS = ("name", "originalName", "type", "id", "tags", "any")
DASHBOARD_TYPES = ("image/", "video/", "audio/", "text/")
_SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": File.id, "createdAt": File.created_at, "updatedAt": File.updated_at, "deletesAt": File.expires_at,
    "name": File.name, "originalName": File.original_name, "size": File.size, "type": File.type,
    "views": File.views, "favorite": File.favorite}
_SEARCH_COLUMNS = {"name": File.name, "originalName": File.original_name, "type": File.type, "id": File.id}


@dataclass(frozen=True)
class FileQuery:
    """One page of a user's files, as Zipline's list endpoint asks for it."""

    page: int = 1
    per_page: int = 15
    filter: str = "all"
    favorite: bool = False
    sort_by: str = "createdAt"
    order: str = "desc"
    search_field: str | None = None
    search_query: str | None = None
    folder_id: str | None = None  # only files in this folder
    tag_id: str | None = None  # only files with this tag


def list_files(owner: User, query: FileQuery) -> tuple[list[File], int]:
    """A page of the owner's files and the total matching (indexed by user and creation time).

    Raises:
        ValidationError: unknown sort or search field, bad page numbers.
    """
    if query.sort_by not in SORT_FIELDS or query.order not in ("asc", "desc"):
        raise ValidationError("Invalid sortBy or order", code="invalid_sort")
    if not 1 <= query.per_page <= 500 or query.page < 1:
        raise ValidationError("Invalid page or perpage", code="invalid_page")
    cond = [File.user_id == owner.id]
    if query.filter == "dashboard":
        cond.append(or_(*(File.type.startswith(prefix) for prefix in DASHBOARD_TYPES)))
    elif query.filter not in ("all", "none"):
        raise ValidationError("Invalid filter", code="invalid_filter")
    if query.favorite:
        cond.append(File.favorite.is_(True))
    if query.folder_id:
        cond.append(File.folder_id == query.folder_id)
    if query.tag_id:
        cond.append(File.tags.any(Tag.id == query.tag_id))
    if query.search_field is not None or query.search_query:
        if query.search_field not in SEARCH_FIELDS:
            raise ValidationError("Invalid searchField value", code="invalid_search_field")
        text = (query.search_query or "").lower()
        if "\x00" in text:
            raise ValidationError("searchQuery must not contain NUL", code="invalid_search")
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        if query.search_field == "tags":  # every listed tag id (Zipline's AND match)
            cond.extend(File.tags.any(Tag.id == tag_id) for tag_id in (query.search_query or "").split(",") if tag_id)
        else:  # "any" (the dashboard's box) looks at the stored and the original name
            columns = (File.name, File.original_name) if query.search_field == "any" else \
                (_SEARCH_COLUMNS[query.search_field],)
            cond.append(or_(*(func.lower(c).like(f"%{escaped}%", escape="\\") for c in columns)))
    column = _SORT_COLUMNS[query.sort_by]
    ordering = [column.asc() if query.order == "asc" else column.desc(), File.id.desc()]
    offset = check_offset((query.page - 1) * query.per_page, "page")
    total = db.session.scalar(select(func.count()).select_from(File).where(*cond)) or 0
    rows = db.session.scalars(select(File).where(*cond).order_by(*ordering).limit(query.per_page).offset(offset))
    return list(rows), total


def get_owned_file(owner: User, ident: str, lock: bool = False) -> File:
    """One of the owner's files by id or name (``lock``: row-locked until commit, for a change that must not race).

    Raises:
        NotFound: no such file, or someone else's (no existence oracle).
    """
    if not ident or "\x00" in ident or len(ident) > 255:
        raise NotFound("File not found", code="file_not_found")
    stmt = select(File).where(or_(File.id == ident, File.name == ident)).execution_options(populate_existing=True)
    row = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None or row.user_id != owner.id:
        raise NotFound("File not found", code="file_not_found")
    return row


def owned_image_id(owner: User, ident: str | None, field: str) -> str | None:
    """The id of the owner's uploaded image ``ident`` (None stays None), for link previews and QR logos.

    Raises:
        NotFound: no such file of the owner's. ValidationError: not an image.
    """
    if ident is None:
        return None
    image = get_owned_file(owner, ident)
    if not image.type.startswith("image/"):
        raise ValidationError(f"{field} must be an image file", field=field.split(".")[0])
    return image.id


@dataclass(frozen=True)
class FileChanges:
    """A partial edit of a file; UNSET fields stay."""

    favorite: object = UNSET
    max_views: object = UNSET
    password: object = UNSET  # plain text: hashed here; None or "" removes the password
    original_name: object = UNSET
    type: object = UNSET
    name: object = UNSET
    tags: object = UNSET


def update_file(rt: Runtime, owner: User, ident: str, changes: FileChanges) -> File:
    """Apply ``changes`` (a rename only changes the row: blobs are keyed by zipshort, not by name); a
    ``password`` is set (hashed) or, when None or empty, cleared.

    Raises:
        NotFound, Conflict (name taken), ValidationError (a password that is not a string or too long).
    """
    set_password = changes.password is not UNSET
    password_hash = hash_password(rt, changes.password) if set_password else None
    with write_transaction(db.session):
        row = get_owned_file(owner, ident)
        changed = []
        for attr in ("favorite", "max_views", "original_name", "type", "name", "tags"):
            value = getattr(changes, attr)
            if value is not UNSET:
                setattr(row, attr, value)
                changed.append(attr)
        if set_password:
            row.password_hash = password_hash
            changed.append("password")
        row.updated_at = utcnow()
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("File with this name already exists", code="name_taken") from None
        publish_after_commit(db.session, rt.events, FileUpdated(file_id=row.id, filename=row.name,
                                                                owner_id=row.user_id, changed=tuple(changed),
                                                                actor_id=owner.id))
    rt.protected_files.clear()  # a password removed is seen at once
    return row


def delete_files(rt: Runtime, owner: User, idents: list[str], *, bulk: bool = False) -> list[File]:
    """Delete several of the owner's files at once (rows and quota first, then blobs); ``bulk``: a bulk action
    (the audit log keeps it: ``bulk.deleted``).

    Raises:
        NotFound: one of them is not the owner's (or was deleted meanwhile); nothing is deleted then.
    """
    with write_transaction(db.session):
        # Locked reads: a parallel delete of the same file waits, then finds it gone (404), so the usage
        # counters are lowered once.
        rows = [get_owned_file(owner, ident, lock=True) for ident in idents]
        for row in rows:
            db.session.delete(row)
        publish_after_commit(db.session, rt.events, *(deleted_event(row, owner.id) for row in rows))
        if bulk:
            publish_after_commit(db.session, rt.events, BulkDeleted(owner_id=owner.id, what="files", count=len(rows),
                                                                    actor_id=owner.id))
        db.session.execute(update(User).where(User.id == owner.id)
                           .values(used_bytes=User.used_bytes - sum(r.size for r in rows),
                                   file_count=User.file_count - len(rows))
                           .execution_options(synchronize_session=False))
    rt.protected_files.clear()
    for key in blob_keys((row.storage_key, row.thumbnail_key) for row in rows):
        rt.storage.delete(key)
    return rows


def set_favorite(owner: User, idents: list[str], favorite: bool) -> int:
    """Mark several files as favourites (or not); return how many."""
    with write_transaction(db.session):
        rows = [get_owned_file(owner, ident) for ident in idents]
        for row in rows:
            row.favorite = favorite
    return len(rows)


def user_stats(owner: User) -> dict[str, object]:
    """Zipline's /api/user/stats numbers for ``owner``."""
    files_count, favorites, views, storage_used = db.session.execute(
        select(func.count(File.id), func.count(File.id).filter(File.favorite.is_(True)),
               func.coalesce(func.sum(File.views), 0), func.coalesce(func.sum(File.size), 0))
        .where(File.user_id == owner.id)).one()
    urls, url_views = db.session.execute(
        select(func.count(Link.id), func.coalesce(func.sum(Link.views), 0)).where(Link.user_id == owner.id)).one()
    types = dict(db.session.execute(select(File.type, func.count(File.id)).where(File.user_id == owner.id)
                                    .group_by(File.type)).all())
    return {
        "filesUploaded": files_count, "favoriteFiles": favorites, "views": int(views),
        "avgViews": (int(views) / files_count) if files_count else 0, "storageUsed": int(storage_used),
        "avgStorageUsed": (int(storage_used) / files_count) if files_count else 0, "urlsCreated": urls,
        "urlViews": int(url_views), "sortTypeCount": types,
    }


def activity(owner: User, days: int = 14, now: dt.datetime | None = None) -> list[tuple[dt.date, int, int]]:
    """Files and links the owner created on each of the last ``days`` UTC days (oldest first)."""
    now = now or utcnow()
    first = (now - dt.timedelta(days=days - 1)).date()
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.timezone.utc)
    counts: dict[dt.date, list[int]] = {first + dt.timedelta(days=i): [0, 0] for i in range(days)}
    postgres = db.session.get_bind().dialect.name == "postgresql"
    models: tuple[type[File | Link], ...] = (File, Link)
    for slot, model in enumerate(models):
        day = func.date(func.timezone("UTC", model.created_at)) if postgres else func.date(model.created_at)
        rows = db.session.execute(select(day, func.count()).where(model.user_id == owner.id, model.created_at >= since)
                                  .group_by(day)).all()
        for value, n in rows:
            key = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
            if key in counts:
                counts[key][slot] = n
    return [(d, c[0], c[1]) for d, c in sorted(counts.items())]
