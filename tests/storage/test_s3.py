"""S3 storage against a real S3-compatible server (SeaweedFS on loopback)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid

import pytest

from zipshort.storage import BlobTooLarge, RunningHash
from zipshort.storage.s3 import PART_SIZE, S3Storage


@pytest.fixture
def store(s3_server, tmp_path):
    return S3Storage("zipshort-test", tmp_path / "tmp", endpoint=s3_server, access_key="zipshort",
                     secret_key="zipshort", force_path_style=True, prefix=f"t-{uuid.uuid4().hex[:8]}")


def read_all(stream) -> bytes:
    try:
        return stream.read()
    finally:
        stream.close()


def test_write_hashes_and_reads_back(store):
    data = os.urandom(100_000)
    blob = store.write(iter([data[:50_000], data[50_000:]]))
    assert blob.size == len(data) and blob.sha256 == hashlib.sha256(data).hexdigest()
    assert read_all(store.open(blob.key)) == data
    assert read_all(store.open(blob.key, (10, 19))) == data[10:20]
    assert list(store.keys()) == [blob.key] and store.exists(blob.key) and store.local_path(blob.key) is None


def test_large_write_goes_multipart_with_flat_memory(store):
    data = os.urandom(2 * PART_SIZE + 123)
    blob = store.write(data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20))
    assert blob.size == len(data) and read_all(store.open(blob.key)) == data


def test_too_large_leaves_no_object(store):
    with pytest.raises(BlobTooLarge):
        store.write(iter([b"x" * 600, b"x" * 600]), max_bytes=1000)
    assert list(store.keys()) == []


def test_too_large_multipart_is_aborted(store):
    with pytest.raises(BlobTooLarge):
        store.write(iter([b"x" * PART_SIZE] * 3), max_bytes=2 * PART_SIZE)
    assert list(store.keys()) == []
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix).get("Uploads", [])
    assert uploads == []


def test_delete_exists_modified(store):
    blob = store.write([b"x"])
    assert store.modified(blob.key) <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    store.delete(blob.key)
    store.delete(blob.key)
    assert not store.exists(blob.key)


def test_chunked_parts_are_assembled_and_sent_whole(store):
    data = os.urandom(3000)
    store.write_part("abc-123", 2000, [data[2000:]], limit=3000)
    store.write_part("abc-123", 0, [data[:2000]], limit=3000)
    blob = store.finish_parts("abc-123")
    assert read_all(store.open(blob.key)) == data and list(store.temp.iterdir()) == []
    assert blob.sha256 == hashlib.sha256(data).hexdigest() and blob.size == 3000


def test_chunked_parts_hash_on_from_a_running_hash(store):
    data = os.urandom(PART_SIZE + 3000)  # sent in parts
    store.write_part("abc-123", 0, [data], limit=len(data))
    other = os.urandom(1000)  # the first bytes were hashed as they arrived: not read back for the hash
    blob = store.finish_parts("abc-123", RunningHash(1000, hashlib.sha256(other)))
    assert blob.sha256 == hashlib.sha256(other + data[1000:]).hexdigest() and blob.size == len(data)
    assert read_all(store.open(blob.key)) == data and list(store.temp.iterdir()) == []


@pytest.mark.parametrize("key", ["../x", "/abs"])
def test_keys_outside_the_prefix_are_refused(store, key):
    with pytest.raises(ValueError):
        store.open(key)
