"""Blob storage as a small strategy chosen by configuration: a local folder or an S3 bucket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zipshort.storage.base import (
    BlobMissing,
    BlobTooLarge,
    HashFollower,
    PartFile,
    RunningHash,
    SpoolFile,
    Storage,
    StorageFull,
    StoredBlob,
    chunks_of,
)
from zipshort.storage.local import LocalStorage

if TYPE_CHECKING:
    from zipshort.config import Settings

__all__ = ["BlobMissing", "BlobTooLarge", "HashFollower", "LocalStorage", "PartFile", "RunningHash", "SpoolFile",
           "Storage", "StorageFull", "StoredBlob", "build_storage", "chunks_of"]


def build_storage(settings: Settings) -> Storage:
    """The backend the settings choose: a local folder, or an S3 bucket (with a local folder for chunks)."""
    if settings.files.storage == "s3":
        from pathlib import Path

        from zipshort.storage.s3 import S3Storage

        s3 = settings.s3
        return S3Storage(s3.bucket, Path(settings.files_directory) / ".tmp", region=s3.region,
                         endpoint=s3.endpoint or None, access_key=s3.access_key_id, secret_key=s3.secret_access_key,
                         force_path_style=s3.force_path_style, prefix=s3.prefix)
    return LocalStorage(settings.files_directory)
