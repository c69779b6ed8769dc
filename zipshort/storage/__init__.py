"""Blob storage as a small strategy chosen by configuration (local folder now, S3 next)."""

from zipshort.storage.base import BlobTooLarge, Storage, StoredBlob, chunks_of
from zipshort.storage.local import LocalStorage

__all__ = ["BlobTooLarge", "LocalStorage", "Storage", "StoredBlob", "chunks_of"]
