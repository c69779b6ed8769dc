"""Instance metrics: the snapshot's counts, the one-snapshot-per-interval rule across processes, the reading rules."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from tests.conftest import burst, count
from zipshort.errors import Forbidden, ValidationError
from zipshort.extensions import db
from zipshort.models import Metric, Role
from zipshort.services import downloads, links, metrics, redirects
from zipshort.services.apikeys import Actor

INTERVAL = 1800.0


def test_a_snapshot_counts_what_is_stored(rt, user, make_user, make_link, make_file, clock):
    bob = make_user("bob")
    make_user("carol")  # owns nothing: counted as a user, absent from the per-user arrays
    make_link(user, vanity="one")
    make_link(user, vanity="two")
    make_link(bob, vanity="three")
    make_file(user, b"12345", name="a.txt", type="text/plain")
    make_file(user, b"1234567890", name="b.png", type="image/png")
    make_file(bob, b"123", name="c.txt", type="text/plain")
    for _ in range(3):
        redirects.follow(rt, "one", "h")
    redirects.follow(rt, "three", "h")
    downloads.count_view(rt, "a.txt")
    downloads.count_view(rt, "a.txt")
    downloads.count_view(rt, "c.txt")

    row = metrics.take_snapshot(rt, clock.now())

    assert row is not None and row.created_at == clock.now() == row.updated_at
    assert row.data == {
        "users": 3, "files": 3, "urls": 3, "storage": 18, "fileViews": 3, "urlViews": 4,
        "filesUsers": [{"username": "alice", "sum": 2, "storage": 15, "views": 2},
                       {"username": "bob", "sum": 1, "storage": 3, "views": 1}],
        "urlsUsers": [{"username": "alice", "sum": 2, "views": 3}, {"username": "bob", "sum": 1, "views": 1}],
        "types": [{"type": "text/plain", "sum": 2}, {"type": "image/png", "sum": 1}],
    }
    assert count(Metric) == 1


def test_an_empty_instance_has_zeros(rt, clock):
    row = metrics.take_snapshot(rt, clock.now())
    assert row is not None
    assert row.data == {"users": 0, "files": 0, "urls": 0, "storage": 0, "fileViews": 0, "urlViews": 0,
                        "filesUsers": [], "urlsUsers": [], "types": []}


def test_later_snapshots_follow_the_changes(rt, user, make_link, clock):
    link = make_link(user)
    first = metrics.take_snapshot(rt, clock.now())
    links.delete_link(rt, user, link.id)
    clock.advance(INTERVAL)
    second = metrics.take_snapshot(rt, clock.now())
    assert first is not None and second is not None
    assert (first.data["urls"], second.data["urls"]) == (1, 0)


def test_a_snapshot_is_skipped_while_the_newest_is_recent(rt, clock):
    assert metrics.take_snapshot(rt, clock.now()) is not None
    clock.advance(INTERVAL * metrics.DUE_FRACTION - 1)
    assert metrics.take_snapshot(rt, clock.now()) is None
    clock.advance(1)
    assert metrics.take_snapshot(rt, clock.now()) is not None
    assert count(Metric) == 2


def test_concurrent_snapshots_store_one_row(app, rt, user, make_link, clock):
    make_link(user)
    db.session.remove()  # the test's own transaction must not hold SQLite's write lock
    now = clock.now()

    def take(_: int):
        with app.app_context():
            return metrics.take_snapshot(rt, now)

    taken = burst(8, take)
    assert sum(r is not None for r in taken) == 1
    assert count(Metric) == 1


def test_the_task_takes_snapshots_in_the_background(app, rt):
    db.session.remove()
    task = metrics.MetricsTask(rt, app.app_context, interval=0.02).start()  # the setting's floor is a minute
    try:
        deadline = time.monotonic() + 10
        while count(Metric) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for the background thread's first round
        time.sleep(0.1)  # a few more rounds, which must find the snapshot recent
    finally:
        task.stop()
    assert count(Metric) == 1


def _actor(user, scopes=("stats:read",), admin=False) -> Actor:
    return Actor(user, admin, frozenset(scopes))


def _at(rt, when: dt.datetime) -> Metric:
    row = metrics.take_snapshot(rt, when)
    assert row is not None
    return row


def test_reading_filters_by_time_newest_first(rt, user, clock):
    start = clock.now()
    rows = [_at(rt, start + dt.timedelta(hours=h)) for h in range(4)]
    later = start + dt.timedelta(hours=10)
    found = metrics.snapshots(rt, _actor(user), start + dt.timedelta(hours=1), start + dt.timedelta(hours=2),
                              now=later)
    assert [s.id for s in found] == [rows[2].id, rows[1].id]
    assert [s.id for s in metrics.snapshots(rt, _actor(user), None, None, now=later)] == [r.id for r in rows[::-1]]


def test_reading_refuses_a_backwards_or_future_range(rt, user, clock):
    now = clock.now()
    with pytest.raises(ValidationError, match="before to date"):
        metrics.snapshots(rt, _actor(user), now, now - dt.timedelta(seconds=1), now=now)
    with pytest.raises(ValidationError, match="in the past"):
        metrics.snapshots(rt, _actor(user), now + dt.timedelta(seconds=1), None, now=now)


class TestDisabled:
    @pytest.fixture
    def overrides(self):
        return {"features": {"metrics_enabled": False}}

    def test_reading_is_refused(self, rt, user):
        with pytest.raises(Forbidden, match="metrics are disabled"):
            metrics.snapshots(rt, _actor(user), None, None)


class TestAdminOnly:
    @pytest.fixture
    def overrides(self):
        return {"features": {"metrics_admin_only": True}}

    def test_only_administrators_with_the_admin_scope_read(self, rt, user, make_user, clock):
        admin = make_user("root", role=Role.ADMIN)
        _at(rt, clock.now())
        with pytest.raises(Forbidden, match="Admin only"):
            metrics.snapshots(rt, _actor(user), None, None)
        with pytest.raises(Forbidden, match="Admin only"):
            metrics.snapshots(rt, _actor(admin, admin=True), None, None)  # a key without the admin scope
        found = metrics.snapshots(rt, _actor(admin, ("stats:read", "admin"), admin=True), None, None)
        assert len(found) == 1


class TestUserSpecificHidden:
    @pytest.fixture
    def overrides(self):
        return {"features": {"metrics_show_user_specific": False}}

    def test_per_user_arrays_are_empty_and_the_stored_row_is_untouched(self, rt, user, make_link, make_file,
                                                                       clock):
        make_link(user)
        make_file(user)
        _at(rt, clock.now())
        (found,) = metrics.snapshots(rt, _actor(user), None, None)
        assert found.data["filesUsers"] == [] and found.data["urlsUsers"] == []
        assert found.data["files"] == 1 and found.data["types"] == [{"type": "text/plain", "sum": 1}]
        db.session.rollback()
        stored = db.session.scalars(sa.select(Metric)).one()
        assert stored.data["filesUsers"][0]["username"] == "alice"
