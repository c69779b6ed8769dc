"""No transaction outlives its work: a restarted server pins no SQLite snapshot and leaves no PostgreSQL
connection ``idle in transaction``, after start and after a burst of every kind of request."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from tests.cli.test_cli import start_server, stop
from tests.conftest import POSTGRES_ADMIN_URL, burst, new_postgres_database

ADMIN = {"ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "pw-123456",
         # count views in the request too, so the redirect's write path is exercised
         "ZIPSHORT_URLS_VIEW_FLUSH_SECONDS": "0",
         # a maintenance round every second, so the tests can wait for one (see wait_for_maintenance_rounds)
         "ZIPSHORT_FILES_PRUNE_INTERVAL_SECONDS": "1"}


def wait_for_maintenance_rounds(database_url: str) -> None:
    """Return once a whole maintenance round ran after the call began (background work had its turn).

    Plants an expired session and waits until the loop has pruned it, twice: the first removal may
    come from a round already under way, the second comes from one that started after it.
    """
    from zipshort.models import User, UserSession

    engine = sa.create_engine(database_url)
    try:
        for _ in range(2):
            marker = uuid.uuid4().hex
            past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
            with engine.begin() as conn:
                owner = conn.scalar(sa.select(User.__table__.c.id).limit(1))
                conn.execute(sa.insert(UserSession.__table__).values(
                    id=marker, user_id=owner, token_hash=marker, created_at=past, last_seen_at=past, expires_at=past))
            deadline = time.monotonic() + 30
            while True:
                with engine.connect() as conn:
                    if not conn.scalar(sa.select(sa.func.count()).where(UserSession.__table__.c.id == marker)):
                        break
                assert time.monotonic() < deadline, "no maintenance round ran within 30 s"
                time.sleep(0.1)  # polling for the pruned marker
    finally:
        engine.dispose()


def burst_of_everything(url: str) -> None:
    """Four clients at once, each sending one request of every kind (see ``exercise``)."""
    burst(4, lambda i: exercise(url), workers=4)


def exercise(url: str) -> None:
    """One request of every kind: logins, pages, each API dialect, uploads (plain and chunked), redirects,
    downloads, password pages, QR codes, misses."""
    session = requests.Session()
    assert session.post(url + "/api/auth/login", json={"username": "admin", "password": "pw-123456"},
                        timeout=10).status_code == 200
    token = session.get(url + "/api/user/token", timeout=10).json()["token"]
    zipline = {"Authorization": token}
    link = requests.post(url + "/api/user/urls", headers=zipline, timeout=10,
                         json={"destination": "https://example.com/", "vanity": f"v{uuid.uuid4().hex[:8]}"}).json()
    locked = requests.post(url + "/api/user/urls", headers=zipline, timeout=10,
                           json={"destination": "https://example.com/", "password": "secret-1"}).json()
    upload = requests.post(url + "/api/upload", headers=zipline, timeout=10,
                           files={"file": ("a.txt", b"hello", "text/plain")}).json()["files"][0]
    chunked = requests.post(url + "/api/upload/partial", timeout=10,
                            headers={**zipline, "Content-Range": "bytes 0-4/5", "x-zipline-p-filename": "c.txt",
                                     "x-zipline-p-content-type": "text/plain", "x-zipline-p-lastchunk": "true"},
                            files={"file": ("blob", b"chunk", "application/octet-stream")})
    assert chunked.status_code == 200, chunked.text
    name = upload["url"].rsplit("/", 1)[1]
    code = link["url"].rsplit("/", 1)[1]
    for path in (f"/go/{code}", f"/go/{code}", f"/go/{locked['url'].rsplit('/', 1)[1]}", "/go/nope",
                 f"/u/{name}", f"/raw/{name}", f"/view/{name}", f"/qr/{code}.svg", "/api/healthcheck",
                 "/api/user/urls", "/api/user/files", "/api/user/stats", "/api/user/folders"):
        assert requests.get(url + path, headers=zipline, allow_redirects=False, timeout=10).status_code < 500, path
    assert requests.post(f"{url}/go/{locked['url'].rsplit('/', 1)[1]}", data={"password": "wrong"},
                         allow_redirects=False, timeout=10).status_code < 500
    for path in ("/dashboard", "/dashboard/urls", "/dashboard/files", "/dashboard/settings"):
        assert session.get(url + path, timeout=10).status_code == 200, path
    assert requests.get(url + "/api/v1/external/links", headers={"Authorization": f"Token {token}"},
                        timeout=10).status_code == 200
    assert requests.get(url + "/short-link/list", headers={"x-api-key": token}, timeout=10).status_code == 200
    assert requests.post(url + "/api/links", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                         json={"links": [{"url": "https://example.org/"}]}).status_code < 500
    assert requests.post(url + "/api/auth/login", json={"username": "admin", "password": "wrong"},
                         timeout=10).status_code == 401
    session.post(url + "/api/auth/logout", timeout=10)


def test_restarted_sqlite_server_lets_a_checkpoint_complete(tmp_path):
    proc, _ = start_server(tmp_path, ADMIN)
    stop(proc)
    proc, url = start_server(tmp_path, ADMIN)  # users exist now: the start-up check reads them
    try:
        assert _checkpoint_after_a_write(tmp_path) == "complete"
        burst_of_everything(url)
        wait_for_maintenance_rounds(f"sqlite:///{tmp_path / 'zipshort.db'}")
        assert _checkpoint_after_a_write(tmp_path) == "complete"
    finally:
        stop(proc)


def _checkpoint_after_a_write(instance) -> str:
    """Write a frame into the WAL from outside, then checkpoint: pinned snapshots leave frames behind."""
    with sqlite3.connect(instance / "zipshort.db", timeout=10) as conn:
        conn.execute("UPDATE users SET view = view")
        conn.commit()
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return "complete" if busy == 0 and log == done else f"busy={busy} log={log} checkpointed={done}"


@pytest.fixture
def empty_postgres():
    """A fresh, empty PostgreSQL database (the server migrates it itself)."""
    with new_postgres_database("zipshort_pin") as created:
        yield created


def _idle_in_transaction(admin_url, database: str) -> list[str]:
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(sa.text(
                "SELECT coalesce(query, '') FROM pg_stat_activity WHERE datname = :db "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"), {"db": database}))
    finally:
        engine.dispose()


def test_restarted_postgres_server_holds_no_idle_transaction(tmp_path, empty_postgres):
    database, url_of_db = empty_postgres
    admin_url = sa.make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    env = {**ADMIN, "ZIPSHORT_DATABASE_URL": url_of_db}
    proc, _ = start_server(tmp_path, env)
    stop(proc)
    proc, url = start_server(tmp_path, env)
    try:
        wait_for_maintenance_rounds(url_of_db)
        assert _idle_in_transaction(admin_url, database) == []
        burst_of_everything(url)
        wait_for_maintenance_rounds(url_of_db)
        assert _idle_in_transaction(admin_url, database) == []
    finally:
        stop(proc)
