"""Local blob storage: streaming writes that are all-or-nothing, durable ordering, keys and temp cleanup."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest

from zipshort.storage import BlobTooLarge, LocalStorage, RunningHash


@pytest.fixture
def store(tmp_path):
    return LocalStorage(tmp_path / "files")


def test_write_streams_hashes_and_reads_back(store):
    chunks = [b"a" * 1000, b"b" * 2000, b""]
    blob = store.write(iter(chunks))
    assert blob.size == 3000 and blob.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    with store.open(blob.key) as fh:
        assert fh.read() == b"".join(chunks)
    assert list(store.keys()) == [blob.key] and store.exists(blob.key)


def test_keys_are_generated_and_unique(store):
    keys = {store.write([b"x"]).key for _ in range(50)}
    assert len(keys) == 50 and all(len(k.rsplit("/", 1)[-1]) == 32 for k in keys)


def test_too_large_leaves_nothing(store):
    with pytest.raises(BlobTooLarge):
        store.write(iter([b"x" * 600, b"x" * 600]), max_bytes=1000)
    assert list(store.keys()) == [] and list(store.temp.iterdir()) == []


def test_interrupted_stream_leaves_nothing(store):
    def broken():
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write(broken())
    assert list(store.keys()) == [] and list(store.temp.iterdir()) == []


def test_write_order_is_fsync_file_rename_fsync_dir(store, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", None)), real_replace(a, b))[1])
    store.write([b"data"])
    assert calls == [("fsync", False), ("replace", None), ("fsync", True)]


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", ".tmp/x.part", "a/../../b"])
def test_keys_outside_the_store_are_refused(store, key):
    with pytest.raises(ValueError):
        store.open(key)


def test_delete_is_idempotent(store):
    blob = store.write([b"x"])
    store.delete(blob.key)
    store.delete(blob.key)
    assert not store.exists(blob.key)


def test_clean_temp_removes_old_leftovers_only(store):
    old = store.temp / "old.part"
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    new = store.temp / "new.part"
    new.write_bytes(b"y")
    assert store.clean_temp(dt.timedelta(hours=1)) == 1
    assert not old.exists() and new.exists()
    assert list(store.keys()) == []


def test_chunk_parts_are_written_in_place_and_become_the_blob(store):
    data = os.urandom(3000)
    with store.open_part("abc-123", 0, limit=3000) as part:
        part.write(data[:1000])
        part.write(data[1000:2000])
        part.seek(0)  # the multipart parser's rewind of a finished part: nothing moves
    with pytest.raises(BlobTooLarge):
        store.write_part("abc-123", 2000, [data[2000:], b"x"], limit=3000)
    assert store.write_part("abc-123", 2000, [data[2000:]], limit=3000, create=False) == 1000
    partial = store.temp / "abc-123.partial"
    inode = partial.stat().st_ino
    blob = store.finish_parts("abc-123")  # no running hash: read back whole
    assert blob.size == 3000 and blob.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path(blob.key).stat().st_ino == inode and not partial.exists()  # moved, not copied


def test_finishing_parts_reads_back_only_what_the_running_hash_does_not_cover(store):
    data = os.urandom(3000)
    store.write_part("abc-123", 0, [data], limit=3000)
    # a running hash of other first bytes: the result shows they were not read again
    other = os.urandom(1000)
    blob = store.finish_parts("abc-123", RunningHash(1000, hashlib.sha256(other)))
    assert blob.sha256 == hashlib.sha256(other + data[1000:]).hexdigest() and blob.size == 3000
    store.write_part("def-456", 0, [data], limit=3000)
    longer = store.finish_parts("def-456", RunningHash(4000, hashlib.sha256(other * 4)))  # not this file's
    assert longer.sha256 == hashlib.sha256(data).hexdigest()


def test_a_chunk_never_recreates_a_removed_assembly_file(store):
    with pytest.raises(FileNotFoundError):
        store.open_part("abc-123", 10, limit=20, create=False)
    assert list(store.temp.iterdir()) == []
