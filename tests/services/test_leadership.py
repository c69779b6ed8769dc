"""Background work that runs once across processes: the lease on a role (services/leadership.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import sqlalchemy as sa

from tests.conftest import burst
from zipshort.extensions import db
from zipshort.models import utcnow
from zipshort.services import leadership
from zipshort.services.leadership import Leadership

LEASE = dt.timedelta(seconds=30)


def test_one_holder_at_a_time_until_the_lease_runs_out(app):
    now = utcnow()
    engine = db.engine
    assert leadership.take(engine, "job", "a", now, LEASE)
    assert not leadership.take(engine, "job", "b", now + dt.timedelta(seconds=29), LEASE)
    assert leadership.take(engine, "job", "a", now + dt.timedelta(seconds=29), LEASE)  # renewing moves the end
    assert not leadership.take(engine, "job", "b", now + dt.timedelta(seconds=58), LEASE)
    assert leadership.holder_of(engine, "job", now + dt.timedelta(seconds=58)) == "a"
    assert leadership.take(engine, "job", "b", now + dt.timedelta(seconds=60), LEASE)  # a stopped renewing
    assert leadership.holder_of(engine, "job", now + dt.timedelta(seconds=60)) == "b"
    assert leadership.take(engine, "other", "a", now, LEASE)  # roles are independent


def test_a_release_hands_the_role_on_at_once(app):
    now = utcnow()
    engine = db.engine
    assert leadership.take(engine, "job", "a", now, LEASE)
    leadership.release(engine, "job", "b", now)  # not b's to give up
    assert not leadership.take(engine, "job", "b", now + dt.timedelta(seconds=1), LEASE)
    leadership.release(engine, "job", "a", now + dt.timedelta(seconds=1))
    assert leadership.take(engine, "job", "b", now + dt.timedelta(seconds=2), LEASE)


def test_many_contenders_at_once_make_one_holder(app):
    """Fifty processes' first tries at once (the row does not exist yet): exactly one takes the role."""
    engine = db.engine
    now = utcnow()
    won = burst(50, lambda i: leadership.take(engine, "race", f"p{i}", now, LEASE), workers=25)
    assert won.count(True) == 1
    assert leadership.holder_of(engine, "race", now) == f"p{won.index(True)}"


def test_leadership_threads_lead_one_at_a_time_and_hand_over_on_stop(app):
    engine = db.engine
    first = Leadership(engine, "maintenance", lease=3.0).start()
    second = Leadership(engine, "maintenance", lease=3.0).start()
    try:
        assert first.leads and not second.leads
        seen: list[tuple[bool, bool]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                seen.append((first.leads, second.leads))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(2.5)  # past a renewal (every lease / 3): the first keeps the role
        first.stop()  # gives it up
        deadline = time.monotonic() + 5
        while not second.leads and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        watcher.join()
        assert second.leads and not first.leads
        assert (True, True) not in seen  # never both
        assert leadership.holder_of(engine, "maintenance", utcnow()) == second.holder
    finally:
        first.stop()
        second.stop()
    assert leadership.holder_of(engine, "maintenance", utcnow()) is None


def test_a_holder_that_stops_renewing_stops_leading_before_its_lease_runs_out(app):
    """A process's own clock ends its lead a second before the lease it wrote runs out in the database, so a
    holder that cannot renew has stopped before another may start."""
    engine = db.engine
    stale = Leadership(engine, "maintenance", lease=2.0)
    before = utcnow()
    assert stale.renew() and stale.leads
    with engine.connect() as conn:
        until = conn.execute(sa.text("SELECT until FROM leaders WHERE role = 'maintenance'")).scalar_one()
    until = until if isinstance(until, dt.datetime) else dt.datetime.fromisoformat(until)
    assert until.replace(tzinfo=dt.timezone.utc) - before >= dt.timedelta(seconds=2)
    time.sleep(1.1)
    assert not stale.leads


def test_the_leader_truncates_a_grown_write_ahead_log_even_while_readers_keep_reading(app, backend):
    """SQLite restarts its log only when no reader uses it; with readers that never pause it would grow without
    end. ``checkpoint_wal`` (run by the maintenance leader every few seconds) copies it back and truncates it
    while eight threads keep reading."""
    import os

    from zipshort.database import checkpoint_wal, hot_statement

    engine = db.engine
    if backend != "sqlite":
        assert checkpoint_wal(engine, min_bytes=0) is None
        return
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)"))
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            hot_statement(engine, "SELECT count(*) FROM filler", {}, write=False)

    readers = [threading.Thread(target=read) for _ in range(8)]
    for thread in readers:
        thread.start()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO filler (data) VALUES (randomblob(4096))"),
                         [{}] * 2000)  # ~8 MB of log
        log = engine.url.database + "-wal"
        assert os.path.getsize(log) > 4 * 1024 * 1024
        assert checkpoint_wal(engine, min_bytes=64 * 1024 * 1024) is None  # under the threshold: nothing done
        done = checkpoint_wal(engine, min_bytes=1024 * 1024)
        assert done is not None and done[0] == 0, done
        assert os.path.getsize(log) == 0
    finally:
        stop.set()
        for thread in readers:
            thread.join()
