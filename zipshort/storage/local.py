"""Blobs as files under one folder: temp file, fsync, rename, fsync the folder (ARCHITECTURE.md, Storage)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from zipshort.storage.base import (
    BlobMissing,
    BlobTooLarge,
    RunningHash,
    SpoolFile,
    StoredBlob,
    TempFolderMixin,
    digest_rest,
    disk_errors,
    lock_file,
    new_key,
)

TEMP_DIR = ".tmp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(TempFolderMixin):
    """A folder of blobs. Writes are all-or-nothing: a crash leaves at most a temp file, never a half blob."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.temp = self.root / TEMP_DIR
        self.temp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents or path.parent == self.temp or TEMP_DIR in path.relative_to(self.root).parts:
            raise ValueError(f"storage key outside the store: {key!r}")
        return path

    def write(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Stream into a temp file (hashing, counting), fsync, rename into place, fsync the folder."""
        key = new_key()
        temp = self.temp / (key.rsplit("/", 1)[-1] + ".part")
        digest = hashlib.sha256()
        size = 0
        try:
            with disk_errors(), os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640), "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(f"File is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            self._move_in(temp, key)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest())

    def _move_in(self, source: Path, key: str) -> None:
        """Rename a durable temp file into place under ``key`` and fsync the folder."""
        final = self._path(key)
        with disk_errors():  # a new fan-out folder needs space too
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, final)
            _fsync_dir(final.parent)

    # --- chunked uploads: parts are written at their offsets into one file under the temp folder ---

    def finish_parts(self, upload_id: str, hashed: RunningHash | None = None) -> StoredBlob:
        """fsync the assembled file and move it into the store under a new key: the file becomes the blob,
        no byte is copied. Its SHA-256 goes on from ``hashed`` (its first bytes, hashed as they arrived), so
        only the rest is read back (all of it without ``hashed``).

        The exclusive lock waits for chunks still being written; the file moves away before it is released.
        """
        path = self._partial(upload_id)
        key = new_key()
        with disk_errors(), open(path, "rb") as fh:
            lock_file(fh.fileno(), exclusive=True)
            digest, size = digest_rest(fh, hashed)
            os.fsync(fh.fileno())
            self._move_in(path, key)
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest())

    def commit(self, spool: SpoolFile) -> StoredBlob:
        """fsync the spool file and rename it into place under a new key."""
        spool.finish()
        key = new_key()
        self._move_in(spool.path, key)
        spool.committed = True
        return StoredBlob(key=key, size=spool.size, sha256=spool.digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        """Open the blob for reading.

        Raises:
            BlobMissing: it is not there.
        """
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise BlobMissing() from None

    def path(self, key: str) -> Path:
        """Where the blob lives (for sendfile and X-Accel-Redirect)."""
        return self._path(key)

    def local_path(self, key: str) -> Path | None:
        """The blob's file, so it can be sent with sendfile."""
        return self._path(key)

    def delete(self, key: str) -> None:
        """Remove the blob if present."""
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """Whether the blob is present."""
        return self._path(key).is_file()

    def modified(self, key: str) -> dt.datetime:
        """When the blob was last written."""
        return dt.datetime.fromtimestamp(self._path(key).stat().st_mtime, dt.timezone.utc)

    def keys(self) -> Iterator[str]:
        """Every blob key, temp files excluded."""
        for path in self.root.rglob("*"):
            if path.is_file() and TEMP_DIR not in path.relative_to(self.root).parts:
                yield path.relative_to(self.root).as_posix()
