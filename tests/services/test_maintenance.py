"""fsck and pruning: orphans, missing blobs, stale temps, expired files and their quota."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest

from tests.conftest import count, fresh
from zipshort.cli import main
from zipshort.extensions import db
from zipshort.models import File, User
from zipshort.services.maintenance import fsck, prune_expired


def put(api, name=b"x", headers=None) -> str:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(name), "a.txt", "text/plain")]}, headers=headers,
                   content_type="multipart/form-data")
    return res.get_json()["files"][0]["name"]


def age(path, seconds=7200):
    old = os.path.getmtime(path) - seconds
    os.utime(path, (old, old))


def test_fsck_reports_and_removes_old_orphans_only(rt, api):
    storage = rt.storage
    put(api)
    orphan = storage.write([b"nobody owns me"])
    age(storage.path(orphan.key))
    young = storage.write([b"an upload between blob and row"])
    report = fsck(storage)
    assert report.orphan_blobs == [orphan.key] and report.missing_blobs == []
    assert storage.exists(orphan.key)
    fsck(storage, remove=True)
    assert not storage.exists(orphan.key) and storage.exists(young.key)
    assert count(File) == 1 and fsck(storage).orphan_blobs == []


def test_fsck_reports_rows_without_blobs(rt, api):
    name = put(api)
    row = db.session.query(File).filter_by(name=name).one()
    rt.storage.delete(row.storage_key)
    assert fsck(rt.storage).missing_blobs == [name]


def test_fsck_removes_stale_temp_files(rt):
    temp = rt.storage.temp / "interrupted.part"
    temp.write_bytes(b"half")
    age(temp)
    assert fsck(rt.storage, remove=True).temp_removed == 1 and not temp.exists()


def test_prune_deletes_expired_rows_quota_and_blobs(rt, api, user):
    keep = put(api, b"keep")
    gone = put(api, b"gone!", {"x-zipline-deletes-at": "1h"})
    key = db.session.query(File).filter_by(name=gone).one().storage_key
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    assert prune_expired(rt, now=later) == 1
    assert [f.name for f in db.session.query(File).all()] == [keep]
    assert not rt.storage.exists(key)
    assert fresh(User, user.id).used_bytes == 4 and fresh(User, user.id).file_count == 1


@pytest.mark.parametrize("remove", [False, True])
def test_fsck_command(runner, rt, api, remove):
    put(api)
    orphan = rt.storage.write([b"orphan"])
    age(rt.storage.path(orphan.key))
    result = runner.invoke(main, ["fsck", *(["--remove"] if remove else [])])
    assert result.exit_code == 0 and orphan.key in result.output
    assert rt.storage.exists(orphan.key) is not remove


def test_fsck_command_fails_when_a_blob_is_missing(runner, rt, api):
    name = put(api)
    rt.storage.delete(db.session.query(File).filter_by(name=name).one().storage_key)
    result = runner.invoke(main, ["fsck"])
    assert result.exit_code == 1 and name in result.output


def test_prune_command(runner, api):
    put(api, headers={"x-zipline-deletes-at": "1h"})
    db.session.query(File).update({"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
    db.session.commit()
    assert "pruned 1" in runner.invoke(main, ["prune"]).output
    assert count(File) == 0
