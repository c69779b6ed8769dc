"""The storage clean-up (maintenance.clean_storage): what interrupted uploads leave, and what must stay."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import sqlalchemy as sa

from tests.conftest import count
from tests.e2e.uploads import assert_exact
from tests.services.test_maintenance import age, put
from zipshort.cli import main
from zipshort.extensions import db
from zipshort.models import File, PartialUpload
from zipshort.services import maintenance, partials

HOUR = dt.timedelta(hours=1)


def _open_session(rt, user, now=None) -> str:
    progress = partials.receive_chunk(rt, user, partials.copied(b"a" * 10, "a.bin", "application/octet-stream"),
                                      partials.parse_content_range("bytes 0-9/20", False),
                                      options={"fmt": "random"}, identifier=None, token=None, now=now)
    return db.session.scalar(sa.select(PartialUpload.id).where(PartialUpload.identifier == progress.identifier))


def test_clean_storage_removes_old_leftovers_and_keeps_the_rest(rt, api, user):
    storage = rt.storage
    kept_name = put(api, b"a file")
    row = db.session.scalars(sa.select(File)).one()
    thumb = storage.write([b"thumbnail"])
    row.thumbnail_key = thumb.key
    db.session.commit()
    old_orphan, young_orphan = storage.write([b"nobody's"]), storage.write([b"an upload between blob and row"])
    live = _open_session(rt, user)  # a live chunked upload resting between chunks
    leftovers = {name: storage.temp / name for name in ("old.spool", "old.part", "0123abcd.partial")}
    young = storage.temp / "young.spool"
    for path in [*leftovers.values(), young]:
        path.write_bytes(b"half")
    for path in [*leftovers.values(), storage.temp / f"{live}.partial", storage.path(old_orphan.key),
                 storage.path(thumb.key), storage.path(row.storage_key)]:
        age(path)

    report = maintenance.clean_storage(rt, min_age=HOUR)

    assert not db.session().in_transaction()  # `serve` calls it before serving: nothing may stay open
    assert (report.sessions_ended, report.temp_removed, report.orphans_removed) == (0, 3, 1)
    assert not any(path.exists() for path in leftovers.values())
    assert young.exists() and (storage.temp / f"{live}.partial").exists()
    assert not storage.exists(old_orphan.key)
    assert storage.exists(young_orphan.key) and storage.exists(thumb.key) and storage.exists(row.storage_key)
    assert api.get(f"/raw/{kept_name}").data == b"a file"
    assert count(PartialUpload) == 1


def test_clean_storage_ends_uploads_stuck_assembling_and_releases_them(rt, user):
    session_id = _open_session(rt, user)
    stuck = dt.datetime.now(dt.timezone.utc) - 2 * HOUR
    db.session.execute(sa.update(PartialUpload).values(state="assembling", updated_at=stuck))
    db.session.commit()
    assert assert_exact(user.id)["reserved_bytes"] == 20

    assert maintenance.clean_storage(rt, min_age=HOUR).sessions_ended == 1

    assert count(PartialUpload) == 0 and not (rt.storage.temp / f"{session_id}.partial").exists()
    assert assert_exact(user.id)["reserved_bytes"] == 0


def test_clean_storage_leaves_recently_stuck_uploads_to_their_finisher(rt, user):
    _open_session(rt, user)
    db.session.execute(sa.update(PartialUpload).values(state="assembling"))
    db.session.commit()
    assert maintenance.clean_storage(rt, min_age=HOUR).sessions_ended == 0
    assert count(PartialUpload) == 1


class TestMaintenanceLoop:
    @pytest.fixture
    def overrides(self):
        return {"files": {"cleanup_interval_seconds": 1}}

    def test_the_loop_runs_the_clean_up_every_interval(self, app, rt):
        spool = rt.storage.temp / "crashed.spool"
        spool.write_bytes(b"half")
        age(spool)
        db.session.remove()
        pruner = maintenance.Pruner(rt, 0.1, app.app_context).start()
        try:
            deadline = time.monotonic() + 10
            while spool.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            pruner.stop()
        assert not spool.exists()


def test_fsck_remove_keeps_the_assembly_files_of_live_uploads(runner, rt, user):
    live = _open_session(rt, user)
    os.utime(rt.storage.temp / f"{live}.partial", (0, 0))
    result = runner.invoke(main, ["fsck", "--remove", "--min-age-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert (rt.storage.temp / f"{live}.partial").exists()
    finished = partials.receive_chunk(rt, user, partials.copied(b"b" * 10, "a.bin", "application/octet-stream"),
                                      partials.parse_content_range("bytes 10-19/20", True),
                                      options={"fmt": "random"}, identifier=db.session.get(PartialUpload, live)
                                      .identifier, token=None)
    with rt.storage.open(finished.storage_key) as fh:
        assert fh.read() == b"a" * 10 + b"b" * 10


def test_a_chunk_never_recreates_a_removed_assembly_file(rt, user):
    live = _open_session(rt, user)
    (rt.storage.temp / f"{live}.partial").unlink()  # e.g. an old clean-up removed it
    ident = db.session.get(PartialUpload, live).identifier
    try:
        partials.receive_chunk(rt, user, partials.copied(b"b" * 10, "a.bin", "application/octet-stream"),
                               partials.parse_content_range("bytes 10-19/20", True),
                               options={"fmt": "random"}, identifier=ident, token=None)
        raise AssertionError("a hole of zeros was accepted")
    except partials.NotFound:
        pass
    assert count(File) == 0 and count(PartialUpload) == 0 and assert_exact(user.id)["reserved_bytes"] == 0
    assert list(rt.storage.temp.iterdir()) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: BEGIN IMMEDIATE serialises them
def test_prune_racing_a_delete_takes_each_file_off_the_counters_once(app, rt, api, user, postgres_url):
    import threading

    from zipshort.services.maintenance import prune_expired

    for body in (b"first", b"second"):
        put(api, body, {"x-zipline-deletes-at": "1h"})
    db.session.execute(sa.update(File).values(expires_at=dt.datetime.now(dt.timezone.utc) - HOUR))
    db.session.commit()
    victim = db.session.scalars(sa.select(File).order_by(File.id)).first()
    db.session.remove()
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.connect() as conn:  # someone deletes one of them (row, then counters) and has not committed yet
        conn.execute(sa.delete(File).where(File.id == victim.id))
        conn.execute(sa.text("UPDATE users SET used_bytes = used_bytes - :n, file_count = file_count - 1 "
                             "WHERE id = :u"), {"n": victim.size, "u": user.id})

        def prune() -> None:
            with app.app_context():
                prune_expired(rt)

        pruner = threading.Thread(target=prune)
        pruner.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar():
            time.sleep(0.05)
        conn.commit()
    pruner.join(timeout=10)
    other.dispose()
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["file_count"], c["files"]) == (0, 0, 0)
