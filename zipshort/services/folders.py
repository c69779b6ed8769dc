"""Folders: create, list, rename and flag (public, open for uploads), add and remove files, delete."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from zipshort.database import lock_key, write_transaction
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import File, Folder, Link, User, new_id, utcnow

MAX_NAME = 255
UNSET: object = object()


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Name is required", code="name_required", field="name")
    if len(value.strip()) > MAX_NAME or not value.isprintable():
        raise ValidationError(f"Name must be 1-{MAX_NAME} printable characters", field="name")
    return value.strip()


def _owned(owner: User, folder_id: str) -> Folder:
    folder = db.session.get(Folder, folder_id) if folder_id and "\x00" not in folder_id else None
    if folder is None or folder.user_id != owner.id:
        raise NotFound("Folder not found", code="folder_not_found")
    return folder


def _owned_files(owner: User, file_ids: list[str]) -> list[File]:
    rows = list(db.session.scalars(select(File).where(File.user_id == owner.id, File.id.in_(file_ids))))
    if len(rows) != len(set(file_ids)):
        raise ValidationError("No files found, with given request", code="files_not_found")
    return rows


def move_files(owner: User, file_ids: list[str], folder_id: str | None) -> int:
    """Move several of the owner's files into one of their folders (None: out of any folder); how many."""
    with write_transaction(db.session):
        folder = _owned(owner, folder_id) if folder_id else None
        rows = _owned_files(owner, file_ids)
        for row in rows:
            row.folder_id = folder.id if folder else None
    return len(rows)


def create_folder(owner: User, name: object, public: bool = False, file_ids: list[str] | None = None) -> Folder:
    """Create a folder, optionally moving some of the owner's files into it."""
    name = _name(name)
    with write_transaction(db.session):
        folder = Folder(id=new_id(), user_id=owner.id, name=name, public=bool(public), allow_uploads=False)
        db.session.add(folder)
        db.session.flush()
        for row in _owned_files(owner, file_ids or []):
            row.folder_id = folder.id
    return folder


DEFAULT_FOLDER_NAME = "Default"


def default_folder(owner: User) -> Folder:
    """The owner's default folder (hozip's default group), created on first use (once, under a lock)."""
    stmt = select(Folder).where(Folder.user_id == owner.id, Folder.name == DEFAULT_FOLDER_NAME) \
        .order_by(Folder.created_at).limit(1)
    folder = db.session.scalar(stmt)
    if folder is not None:
        return folder
    with write_transaction(db.session):
        lock_key(db.session, f"default-folder:{owner.id}")
        folder = db.session.scalar(stmt)
        if folder is None:
            folder = Folder(id=new_id(), user_id=owner.id, name=DEFAULT_FOLDER_NAME, public=False,
                            allow_uploads=False)
            db.session.add(folder)
    return folder


def list_folders(owner: User) -> list[Folder]:
    """The owner's folders, newest first."""
    return list(db.session.scalars(select(Folder).where(Folder.user_id == owner.id)
                                   .order_by(Folder.created_at.desc(), Folder.id.desc())))


def file_counts(owner: User) -> dict[str, int]:
    """How many files each of the owner's folders holds (folders without files are absent)."""
    rows = db.session.execute(select(File.folder_id, func.count(File.id))
                              .where(File.user_id == owner.id, File.folder_id.is_not(None))
                              .group_by(File.folder_id)).all()
    return {folder_id: n for folder_id, n in rows if folder_id is not None}


def get_folder(owner: User, folder_id: str) -> Folder:
    """One of the owner's folders. Raises NotFound."""
    return _owned(owner, folder_id)


def folder_files(folder: Folder) -> list[File]:
    """The files in ``folder``, newest first."""
    return list(db.session.scalars(select(File).where(File.folder_id == folder.id)
                                   .order_by(File.created_at.desc(), File.id.desc())))


@dataclass(frozen=True)
class FolderChanges:
    """A partial edit of a folder."""

    name: object = UNSET
    public: object = UNSET
    allow_uploads: object = UNSET


def update_folder(owner: User, folder_id: str, changes: FolderChanges) -> Folder:
    """Rename or flag one of the owner's folders."""
    with write_transaction(db.session):
        folder = _owned(owner, folder_id)
        if changes.name is not UNSET:
            folder.name = _name(changes.name)
        for attr in ("public", "allow_uploads"):
            value = getattr(changes, attr)
            if value is not UNSET:
                if not isinstance(value, bool):
                    raise ValidationError(f"{attr} must be a boolean", field=attr)
                setattr(folder, attr, value)
        folder.updated_at = utcnow()
    return folder


def add_file(owner: User, folder_id: str, file_id: object) -> Folder:
    """Put one of the owner's files into the folder. Raises ValidationError if it is already there."""
    if not isinstance(file_id, str):
        raise ValidationError("id is required", field="id")
    with write_transaction(db.session):
        folder = _owned(owner, folder_id)
        (row,) = _owned_files(owner, [file_id])
        if row.folder_id == folder.id:
            raise ValidationError("File already in folder", code="already_in_folder")
        row.folder_id = folder.id
    return folder


def remove_file(owner: User, folder_id: str, file_id: object) -> Folder:
    """Take a file out of the folder (the file stays)."""
    if not isinstance(file_id, str):
        raise ValidationError("id is required", field="id")
    with write_transaction(db.session):
        folder = _owned(owner, folder_id)
        (row,) = _owned_files(owner, [file_id])
        if row.folder_id != folder.id:
            raise ValidationError("File is not in this folder", code="not_in_folder")
        row.folder_id = None
    return folder


def delete_folder(owner: User, folder_id: str) -> Folder:
    """Delete the folder; its files stay, outside any folder.

    Files other users uploaded into an open folder are theirs: the folder's owner can neither move nor delete
    them, so the folder cannot go while it holds any (close it for uploads; their owners move them out).

    Raises:
        NotFound. Conflict: other users' uploads are still in it.
    """
    with write_transaction(db.session):
        folder = _owned(owner, folder_id)
        theirs = db.session.scalar(select(func.count(File.id)).where(File.folder_id == folder.id,
                                                                     File.user_id != owner.id))
        if theirs:
            raise Conflict(f"{theirs} file(s) in this folder were uploaded by other users and stay theirs; "
                           "the folder can be deleted once they have moved them out", code="folder_has_others_files")
        db.session.execute(update(File).where(File.folder_id == folder.id).values(folder_id=None)
                           .execution_options(synchronize_session=False))
        # Links name folders too (hozip's group, h0p's folderId, hoko's collection): none may name a deleted one.
        db.session.execute(update(Link).where(Link.folder_id == folder.id).values(folder_id=None)
                           .execution_options(synchronize_session=False))
        db.session.delete(folder)
    return folder


def upload_target(uploader: User | None, folder_id: str) -> Folder:
    """The folder an upload goes into: the uploader's own, or anyone's folder that is open for uploads.

    Raises:
        ValidationError: no such folder. Forbidden: someone else's folder that is not open.
    """
    folder = db.session.get(Folder, folder_id) if folder_id and "\x00" not in folder_id else None
    if folder is None:
        raise ValidationError("folder not found", code="folder_not_found")
    if (uploader is None or folder.user_id != uploader.id) and not folder.allow_uploads:
        raise Forbidden("folder is not open", code="folder_not_open")
    return folder


def public_folder(folder_id: str, for_uploads: bool = False) -> Folder:
    """A folder anyone may see (public), or upload to (``for_uploads``: open for uploads)."""
    folder = db.session.get(Folder, folder_id) if folder_id and "\x00" not in folder_id else None
    if folder is None or not (folder.allow_uploads if for_uploads else folder.public):
        raise NotFound("Folder not found", code="folder_not_found")
    return folder
