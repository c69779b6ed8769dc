"""Faults: PostgreSQL drops every connection; SQLite's write lock is held by someone else."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import fetch


@pytest.fixture
def overrides():
    return {"database": {"sqlite_busy_timeout_ms": 300}}


def _terminate_backends(url: str) -> int:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        killed = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    engine.dispose()
    return killed


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_redirects_survive_postgres_dropping_connections(live_server, make_link, user, make_key, postgres_url):
    make_link(user, vanity="sturdy", max_views=100)
    make_link(user, vanity="plain-sturdy")
    key = make_key(user)
    for _ in range(5):  # fill the pool
        assert fetch("GET", f"{live_server.url}/go/sturdy").status_code == 302
        assert fetch("GET", f"{live_server.url}/api/user/urls", headers={"Authorization": key}).status_code == 200
    assert _terminate_backends(postgres_url) >= 1
    assert fetch("GET", f"{live_server.url}/go/sturdy").status_code == 302  # retried on a fresh pool
    statuses = [fetch("GET", f"{live_server.url}/api/user/urls", headers={"Authorization": key}).status_code
                for _ in range(3)]
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_lock_held_elsewhere_gives_503_then_recovers(live_server, make_link, user, make_key, settings):
    key = make_key(user)
    make_link(user, vanity="readable")
    other = sqlite3.connect(Path(settings.instance_path) / "zipshort.db", isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        res = fetch("POST", f"{live_server.url}/api/user/urls", headers={"Authorization": key},
                    json={"destination": "https://e.com/"}, timeout=30)
        assert res.status_code == 503 and res.json()["error"] == "Database unavailable, try again"
        assert res.headers["Retry-After"] == "1"
    finally:
        other.execute("ROLLBACK")
        other.close()
    res = fetch("POST", f"{live_server.url}/api/user/urls", headers={"Authorization": key},
                json={"destination": "https://e.com/"})
    assert res.status_code == 200
