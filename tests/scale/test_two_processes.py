"""Two zipshort processes on one PostgreSQL and one Redis behave like one server."""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from tests.cli.test_cli import launch_server, stop, wait_ready
from tests.conftest import REDIS_URL, burst, fetch, new_postgres_database, service_missing, truncate_all


@pytest.fixture
def redis_url():
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
    except Exception as exc:  # connection refused, timeout …
        service_missing("Redis", exc)
    yield REDIS_URL
    client.flushdb()
    client.close()


ENV = {"ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "cluster-pass", "ZIPSHORT_SERVER_THREADS": "16"}


@contextlib.contextmanager
def started_together(instance: Path, database_url: str, redis_url: str) -> Iterator[tuple[list[str], list[str]]]:
    """Launch two servers on one database before waiting for either; yield their URLs and a list that
    receives their combined output once both have stopped."""
    env = {**ENV, "DATABASE_URL": database_url, "ZIPSHORT_RATELIMIT_STORAGE_URI": redis_url}
    launched = [launch_server(instance / name, env) for name in ("a", "b")]
    outputs: list[str] = []
    try:
        yield [wait_ready(proc, url)[1] for proc, url in launched], outputs
    finally:
        for proc, _ in launched:
            if proc.returncode is None:  # wait_ready already collected the output of one that failed
                outputs.append(stop(proc))


@pytest.fixture
def cluster(postgres_url, redis_url, tmp_path):
    truncate_all(postgres_url)
    with started_together(tmp_path, postgres_url, redis_url) as (urls, _):
        yield urls


@pytest.fixture
def token(cluster):
    login = fetch("POST", cluster[0] + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
    assert login.status_code == 200
    return fetch("GET", cluster[0] + "/api/user/token", cookies=login.cookies.get_dict()).json()["token"]


def _rows_per_table(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            counts = {name: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(name))) for name in names}
            admins = conn.scalar(sa.text("SELECT count(*) FROM users WHERE role IN ('ADMIN', 'SUPERADMIN')"))
    finally:
        engine.dispose()
    return {name: n for name, n in counts.items() if n} | {"admins": admins}


@pytest.mark.parametrize("attempt", range(3))
def test_one_admin_is_created_when_both_start_together(redis_url, tmp_path, attempt):
    # An empty database: both processes migrate it and bootstrap the first administrator at the same time.
    with new_postgres_database("zipshort_fresh") as (_, url):
        with started_together(tmp_path, url, redis_url) as (urls, outputs):
            # Everything the two first starts left in the database: one schema version, one user, an admin, and
            # one instance-metrics snapshot (taken at start by whichever process came first), one maintenance
            # lease (held by one of them: services/leadership.py); the audit log's
            # entry for the user is written off the start-up path, so it is counted once both have stopped.
            rows = _rows_per_table(url)
            assert {k: n for k, n in rows.items() if k != "audit_log"} == \
                {"alembic_version": 1, "users": 1, "admins": 1, "metrics": 1, "leaders": 1}
            logins = [fetch("POST", u + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
                      for u in urls]
            assert [r.status_code for r in logins] == [200, 200]
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                audited = sorted(conn.execute(sa.text("SELECT action, details FROM audit_log")).all())
        finally:
            engine.dispose()
        assert [a for a, _ in audited] == ["login.succeeded", "login.succeeded", "user.created"]
        assert audited[-1][1] == {"role": "SUPERADMIN", "via": "setup"}
    assert sum("Created the first administrator" in out for out in outputs) == 1, outputs


def test_session_from_one_process_works_on_the_other(cluster):
    login = fetch("POST", cluster[0] + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
    assert fetch("GET", cluster[1] + "/api/user", cookies=login.cookies.get_dict()).status_code == 200


@pytest.mark.parametrize("attempt", range(3))
def test_max_views_hold_across_processes(cluster, token, attempt):
    created = fetch("POST", cluster[0] + "/api/user/urls", headers={"Authorization": token, "x-zipline-max-views": "7"},
                    json={"destination": "https://example.com/", "vanity": f"split{attempt}"})
    assert created.status_code == 200
    urls = itertools.cycle(cluster)
    targets = [next(urls) for _ in range(100)]
    statuses = Counter(r.status_code for r in burst(100, lambda i: fetch("GET", f"{targets[i]}/go/split{attempt}"),
                                                    workers=32))
    assert statuses == {302: 7, 404: 93}


@pytest.mark.parametrize("attempt", range(3))
def test_one_vanity_winner_across_processes(cluster, token, attempt):
    def create(i: int):
        return fetch("POST", cluster[i % 2] + "/api/user/urls", headers={"Authorization": token},
                     json={"destination": f"https://example.com/{i}", "vanity": f"race{attempt}"})

    assert Counter(r.status_code for r in burst(30, create, workers=30)) == {200: 1, 400: 29}


def test_password_rate_limit_is_shared_through_redis(cluster, token):
    fetch("POST", cluster[0] + "/api/user/urls", headers={"Authorization": token, "x-zipline-password": "right-one"},
          json={"destination": "https://example.com/", "vanity": "shared-pw"})
    page = fetch("GET", cluster[0] + "/go/shared-pw")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cookies = page.cookies.get_dict()
    statuses = [fetch("POST", f"{cluster[i % 2]}/go/shared-pw", cookies=cookies,
                      data={"password": "wrong", "csrf_token": csrf}).status_code for i in range(12)]
    assert statuses == [403] * 10 + [429, 429]


def shared_database(database: str, postgres_url: str, tmp_path: Path) -> str:
    """The database URL both processes share: the run's PostgreSQL database emptied, or a new SQLite file."""
    if database == "postgresql":
        truncate_all(postgres_url)
        return postgres_url
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_failed_logins_on_two_processes_are_all_audited(postgres_url, redis_url, tmp_path, database):
    """Failed logins spread over both processes are each one audit entry (each process writes its own), and one
    process's administrator API lists the other's."""
    database_url = shared_database(database, postgres_url, tmp_path)
    with started_together(tmp_path, database_url, redis_url) as (urls, _):
        statuses = burst(8, lambda i: fetch("POST", urls[i % 2] + "/api/auth/login",
                                            json={"username": "admin", "password": f"wrong-{i}"}).status_code,
                         workers=8)
        assert statuses == [401] * 8  # the login limit (10 a minute per address) is shared through Redis
        login = fetch("POST", urls[1] + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
        deadline, listed = time.monotonic() + 15, {}
        while time.monotonic() < deadline:
            listed = fetch("GET", urls[0] + "/api/server/audit?action=login.failed",
                           cookies=login.cookies.get_dict()).json()
            if listed["total"] == 8:
                break
            time.sleep(0.1)  # entries are written off the request path; poll for them
        assert listed["total"] == 8 and {e["reason"] for e in listed["page"]} == {"wrong_password"}
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            failed = conn.execute(sa.text("SELECT request_id FROM audit_log WHERE action = 'login.failed'")).all()
            succeeded = conn.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = 'login.succeeded'"))
    finally:
        engine.dispose()
    assert len({row[0] for row in failed}) == len(failed) == 8 and succeeded == 1


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_parallel_visits_on_two_processes_are_stored_exactly(postgres_url, redis_url, tmp_path, database):
    """2,000 visits of a plain link and 2,000 of a link limited to 1,500, spread over both processes: after
    both stop (which stores what they queued), exactly as many visits as views, in the raw table and in
    the rollups, and the visits the limit refused are orphan visits."""
    database_url = shared_database(database, postgres_url, tmp_path)
    with started_together(tmp_path, database_url, redis_url) as (urls, _):
        login = fetch("POST", urls[0] + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
        key = fetch("GET", urls[0] + "/api/user/token", cookies=login.cookies.get_dict()).json()["token"]
        for vanity, extra in (("many", {}), ("capped", {"x-zipline-max-views": "1500"})):
            assert fetch("POST", urls[0] + "/api/user/urls", headers={"Authorization": key, **extra},
                         json={"destination": "https://example.com/", "vanity": vanity}).status_code == 200
        agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
                  "Safari/537.36", "curl/8.4.0"]
        statuses = burst(4000, lambda i: fetch("GET", f"{urls[i % 2]}/go/{'many' if i % 4 < 2 else 'capped'}",
                                               headers={"User-Agent": agents[i % 3 == 0]},
                                               allow_redirects=False).status_code, workers=32)
    assert Counter(statuses) == {302: 3500, 404: 500}
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            views = dict(conn.execute(sa.text("SELECT vanity, views FROM links")).all())
            stored = dict(conn.execute(sa.text(
                "SELECT l.vanity, count(*) FROM visits v JOIN links l ON l.id = v.link_id GROUP BY l.vanity")).all())
            hourly = dict(conn.execute(sa.text(
                "SELECT l.vanity, sum(h.count) FROM visit_hours h JOIN links l ON l.id = h.link_id "
                "GROUP BY l.vanity")).all())
            browsers = conn.scalar(sa.text(
                "SELECT sum(count) FROM visit_days WHERE dimension = 'browser' AND kind = 'link'"))
            orphans = conn.scalar(sa.text("SELECT count(*) FROM visits WHERE orphan_type = 'invalid_short_url'"))
    finally:
        engine.dispose()
    assert views == {"many": 2000, "capped": 1500}
    assert stored == hourly == {"many": 2000, "capped": 1500}
    assert browsers == 3500 and orphans == 500
