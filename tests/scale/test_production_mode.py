"""The production mode: ``zipshort serve --workers 2`` (granian) is one server to its clients — limits exact across
its worker processes, every view and visit written when it stops, maintenance run by one worker, the same health
check and the same body limits."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from tests.cli.test_cli import launch_server, stop, wait_ready
from tests.conftest import burst, fetch
from tests.e2e.uploads import send_chunk
from tests.scale.test_two_processes import ENV, shared_database

DATABASES = ["sqlite", "postgresql"]


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


@contextlib.contextmanager
def production(instance: Path, database_url: str, **extra: str) -> Iterator[tuple[subprocess.Popen, str, list[str]]]:
    """``zipshort serve --workers 2`` on ``database_url``; yields the process, its URL and a list that receives its
    output once it stopped (SIGTERM, as a service manager stops it)."""
    env = {**ENV, "DATABASE_URL": database_url, "ZIPSHORT_SERVER_WORKERS": "2", **extra}
    proc, url = launch_server(instance, env)
    outputs: list[str] = []
    try:
        wait_ready(proc, url)
        yield proc, url, outputs
    finally:
        if proc.returncode is None:
            outputs.append(stop(proc))


def _token(url: str) -> str:
    login = fetch("POST", url + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
    return fetch("GET", url + "/api/user/token", cookies=login.cookies.get_dict()).json()["token"]


def _query(database_url: str, sql: str) -> list:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", DATABASES)
def test_workers_share_limits_and_write_every_view_and_visit_when_stopped(postgres_url, tmp_path, database):
    """4,000 visits of a plain link and of a link limited to 1,500 spread over two workers by the kernel: the
    limit holds exactly, and after a SIGTERM every view and visit is in the database (each worker flushed on its
    way out), equal in the raw table and the rollups."""
    database_url = shared_database(database, postgres_url, tmp_path)
    with production(tmp_path / "i", database_url) as (proc, url, outputs):
        workers = _children(proc.pid)
        assert len([p for p in workers if "zipshort" in Path(f"/proc/{p}/cmdline").read_text()]) >= 2
        key = _token(url)
        for vanity, extra in (("many", {}), ("capped", {"x-zipline-max-views": "1500"})):
            assert fetch("POST", url + "/api/user/urls", headers={"Authorization": key, **extra},
                         json={"destination": "https://example.com/", "vanity": vanity}).status_code == 200
        statuses = burst(4000, lambda i: fetch("GET", f"{url}/go/{'many' if i % 2 else 'capped'}").status_code,
                         workers=32)
        assert Counter(statuses) == {302: 3500, 404: 500}
        os.kill(proc.pid, signal.SIGTERM)  # at once: the last views are still in the workers' buffers
        outputs.append(stop(proc))
    assert proc.returncode == 0, outputs
    database_url = database_url or f"sqlite:///{tmp_path / 'i' / 'zipshort.db'}"
    views = dict(_query(database_url, "SELECT vanity, views FROM links"))
    stored = dict(_query(database_url, "SELECT l.vanity, count(*) FROM visits v JOIN links l ON l.id = v.link_id "
                                       "GROUP BY l.vanity"))
    hourly = dict(_query(database_url, "SELECT l.vanity, sum(h.count) FROM visit_hours h "
                                       "JOIN links l ON l.id = h.link_id GROUP BY l.vanity"))
    leases = _query(database_url, "SELECT count(*) FROM view_leases")[0][0]
    assert views == stored == hourly == {"many": 2000, "capped": 1500}
    assert leases == 0  # every worker gave its leases back on its way out


@pytest.mark.parametrize("database", DATABASES)
def test_one_worker_leads_the_maintenance_and_a_stop_hands_it_back(postgres_url, tmp_path, database):
    database_url = shared_database(database, postgres_url, tmp_path)
    with production(tmp_path / "i", database_url, ZIPSHORT_FILES_PRUNE_INTERVAL_SECONDS="1") as (proc, url, outputs):
        workers = _children(proc.pid)
        db_url = database_url or f"sqlite:///{tmp_path / 'i' / 'zipshort.db'}"
        rows = _query(db_url, "SELECT role, holder FROM leaders")
        assert [role for role, _ in rows] == ["maintenance"]
        assert int(rows[0][1].split(":")[1]) in workers  # host:pid:random, a worker of this server
        # An expired file goes within a round or two: the leader runs maintenance.
        key = _token(url)
        up = fetch("POST", url + "/api/upload", headers={"Authorization": key, "x-zipline-deletes-at": "2s"},
                   files={"file": ("gone.txt", b"soon gone", "text/plain")})
        assert up.status_code == 200, up.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _query(db_url, "SELECT count(*) FROM files")[0][0]:
            time.sleep(0.2)
        assert _query(db_url, "SELECT count(*) FROM files")[0][0] == 0
        outputs.append(stop(proc))
    (until,) = _query(db_url, "SELECT until FROM leaders")[0]
    assert until is not None
    assert "leadership maintenance: taken" in outputs[0]
    assert outputs[0].count("leadership maintenance: taken") == 1  # one worker, never both


@pytest.mark.parametrize("database", ["sqlite"])
def test_uploads_stream_with_the_same_limits(tmp_path, database):
    """Under granian the app reads the body as it arrives: a file within the limit is stored whole, one past
    ``files.max_file_size`` is refused with Zipline's 413 and leaves nothing behind; the health check is the same."""
    limits = {"ZIPSHORT_FILES_MAX_FILE_SIZE": str(3 * 1024 * 1024),
              "ZIPSHORT_SERVER_MAX_REQUEST_BODY_SIZE": str(4 * 1024 * 1024)}
    with production(tmp_path / "i", "", **limits) as (proc, url, outputs):
        assert fetch("GET", url + "/api/healthcheck").json() == {"pass": True}
        key = _token(url)
        data = os.urandom(2 * 1024 * 1024 + 17)
        up = fetch("POST", url + "/api/upload", headers={"Authorization": key},
                   files={"file": ("ok.bin", data, "application/octet-stream")})
        assert up.status_code == 200, up.text
        got = fetch("GET", up.json()["files"][0]["url"])
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
        for size in (3 * 1024 * 1024 + 1, 5 * 1024 * 1024):  # past the file limit; past the body limit
            refused = fetch("POST", url + "/api/upload", headers={"Authorization": key},
                            files={"file": ("big.bin", os.urandom(size), "application/octet-stream")})
            assert refused.status_code == 413, (size, refused.status_code, refused.text)
        assert _query(f"sqlite:///{tmp_path / 'i' / 'zipshort.db'}", "SELECT count(*) FROM files")[0][0] == 1
        temp = tmp_path / "i" / "files" / ".tmp"
        assert not temp.exists() or not any(temp.iterdir())


@pytest.mark.parametrize("database", DATABASES)
def test_a_change_through_one_worker_reaches_every_worker_at_once(postgres_url, tmp_path, database):
    """Both workers hold the link in their caches; disabling it through whichever worker takes the request ends it
    on every worker at once (the instance's shared generation), not a cache lifetime later."""
    database_url = shared_database(database, postgres_url, tmp_path)
    with production(tmp_path / "i", database_url, ZIPSHORT_URLS_CACHE_SECONDS="60") as (proc, url, outputs):
        key = _token(url)
        made = fetch("POST", url + "/api/user/urls", headers={"Authorization": key},
                     json={"destination": "https://example.com/", "vanity": "flip"})
        assert made.status_code == 200
        assert Counter(burst(200, lambda i: fetch("GET", url + "/go/flip").status_code)) == {302: 200}
        changed = fetch("PATCH", f"{url}/api/user/urls/{made.json()['id']}", headers={"Authorization": key},
                        json={"enabled": False})
        assert changed.status_code == 200, changed.text
        assert Counter(burst(200, lambda i: fetch("GET", url + "/go/flip").status_code)) == {404: 200}


@pytest.mark.parametrize("database", DATABASES)
def test_chunked_uploads_across_workers_are_stored_with_their_hash(postgres_url, tmp_path, database):
    """Chunks sent one connection each land on either worker; a worker whose running hash ends before a chunk
    follows the chunks in between from the assembly file: two uploads at once, each stored whole with the SHA-256
    of what was sent (its ETag)."""
    database_url = shared_database(database, postgres_url, tmp_path)
    piece = 128 * 1024
    with production(tmp_path / "i", database_url) as (proc, url, outputs):
        key = _token(url)

        def upload(n: int) -> tuple[bytes, str]:
            data = os.urandom(24 * piece - n)
            answer: dict = {}
            for start in range(0, len(data), piece):
                end = min(start + piece, len(data)) - 1
                extra = {"x_zipline_p_token": answer["partialToken"]} if answer else {}
                sent = send_chunk(url, key, data[start:end + 1], start, end, len(data), last=end == len(data) - 1,
                                  **extra)
                assert sent.status_code == 200, sent.text
                answer = sent.json()
            return data, answer["files"][0]["url"]

        for data, file_url in burst(2, upload):
            got = fetch("GET", file_url)
            assert got.content == data and got.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
