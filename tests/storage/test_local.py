"""Local blob storage: streaming writes that are all-or-nothing, durable ordering, keys and temp cleanup."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest

from zipshort.storage import BlobTooLarge, LocalStorage


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
