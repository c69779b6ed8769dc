"""Blobs in an S3-compatible bucket (AWS, MinIO, Garage, SeaweedFS, Backblaze) through boto3.

Uploads stream through a hashing, size-limiting reader into a multipart upload (memory is bounded
by the part size); a failed or too-large upload is aborted, so no object appears. Chunked uploads
are assembled in a local temp folder and sent as one object when complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Collection, Iterable, Iterator, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from zipshort.storage.base import (
    BlobMissing,
    BlobTooLarge,
    RunningHash,
    SpoolFile,
    StoredBlob,
    TempFolderMixin,
    digest_rest,
    lock_file,
    new_key,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

PART_SIZE = 8 * 1024 * 1024


class _HashingReader(io.RawIOBase):
    """A file-like view of an iterator of chunks that hashes, counts and enforces a limit."""

    def __init__(self, chunks: Iterable[bytes], max_bytes: int | None) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.size = 0
        self.digest = hashlib.sha256()
        self._max = max_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer)
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self.size += len(chunk)
            if self._max is not None and self.size > self._max:
                raise BlobTooLarge(f"File is larger than {self._max} bytes")
            self.digest.update(chunk)
            self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


class S3Storage(TempFolderMixin):
    """A bucket (optionally under a prefix) holding zipshort's blobs."""

    def __init__(self, bucket: str, temp_dir: str | os.PathLike[str], *, region: str = "us-east-1",
                 endpoint: str | None = None, access_key: str | None = None, secret_key: str | None = None,
                 force_path_style: bool = False, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.temp = Path(temp_dir)
        self.temp.mkdir(parents=True, exist_ok=True)
        config = Config(s3={"addressing_style": "path" if force_path_style else "auto"},
                        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        self.client = boto3.client("s3", region_name=region, endpoint_url=endpoint or None,
                                   aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                                   config=config)
        self._transfer = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                        max_concurrency=2, use_threads=True)

    def _object(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"storage key outside the store: {key!r}")
        return self.prefix + key

    def write(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Stream into a new object (multipart above 8 MiB); nothing remains if the stream fails."""
        key = new_key()
        reader = _HashingReader(chunks, max_bytes)
        self.client.upload_fileobj(io.BufferedReader(reader, PART_SIZE), self.bucket, self._object(key),
                                   Config=self._transfer)
        return StoredBlob(key=key, size=reader.size, sha256=reader.digest.hexdigest())

    def open(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """The object's body (a stream), whole or one inclusive byte range."""
        extra: dict[str, Any] = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._object(key), **extra)["Body"]
            return cast(BinaryIO, body)  # botocore's StreamingBody: an IOBase the callers read and close
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise BlobMissing() from None
            raise

    def local_path(self, key: str) -> None:
        """Objects have no local file; they are streamed."""
        return None

    def delete(self, key: str) -> None:
        """Remove the object (S3 deletes are idempotent)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def modified(self, key: str) -> dt.datetime:
        """When the object was written."""
        return self.client.head_object(Bucket=self.bucket, Key=self._object(key))["LastModified"]

    def keys(self) -> Iterator[str]:
        """Every object under the prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix):]

    def clean_temp(self, older_than: dt.timedelta, keep: Collection[str] = ()) -> int:
        """Remove old local temp files (not those of live chunked uploads in ``keep``) and abort old
        unfinished multipart uploads."""
        cutoff = time.time() - older_than.total_seconds()
        removed = super().clean_temp(older_than, keep)
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
        for upload in uploads:
            if upload["Initiated"].timestamp() <= cutoff:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed += 1
        return removed

    def commit(self, spool: SpoolFile) -> StoredBlob:
        """Upload a finished spool file as a new object (its hash is already known)."""
        spool.finish()
        key = new_key()
        try:
            self.client.upload_file(str(spool.path), self.bucket, self._object(key), Config=self._transfer)
        finally:
            spool.path.unlink(missing_ok=True)
            spool.committed = True
        return StoredBlob(key=key, size=spool.size, sha256=spool.digest.hexdigest())

    # --- chunked uploads: assembled locally, sent whole ---

    def finish_parts(self, upload_id: str, hashed: RunningHash | None = None) -> StoredBlob:
        """Send the assembled file as one object (multipart from the file, as a committed spool) and drop the
        local copy, under an exclusive lock (which waits for chunks still being written). Its SHA-256 goes on
        from ``hashed``: only what that does not cover is read back for it (all of it without ``hashed``)."""
        path = self._partial(upload_id)
        key = new_key()
        with open(path, "rb") as fh:
            lock_file(fh.fileno(), exclusive=True)
            try:
                digest, size = digest_rest(fh, hashed)
                self.client.upload_file(str(path), self.bucket, self._object(key), Config=self._transfer)
            finally:
                path.unlink(missing_ok=True)
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest())
