"""`zipshort serve` stores visits through a writer process of its own (analytics.writer = "process")."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import sqlalchemy as sa

from tests.cli.test_cli import launch_server, stop, wait_ready
from tests.conftest import burst, fetch

ENV = {"ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "writer-pass",
       "ZIPSHORT_ANALYTICS_FLUSH_SECONDS": "0.2"}


def _children(pid: int) -> list[int]:
    """The server's visit writer processes."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return [p for p in found if b"writer_child" in Path(f"/proc/{p}/cmdline").read_bytes()]


def _stored(url: str) -> tuple[int, int, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.scalar(sa.text("SELECT views FROM links")),
                    conn.scalar(sa.text("SELECT count(*) FROM visits WHERE kind = 'link'")),
                    conn.scalar(sa.text("SELECT sum(count) FROM visit_hours WHERE kind = 'link'")))
    finally:
        engine.dispose()


def _wait_for(check, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_visits_go_through_a_writer_process_that_is_restarted_when_killed(tmp_path):
    database = f"sqlite:///{tmp_path / 'zipshort.db'}"
    proc, url = wait_ready(*launch_server(tmp_path / "instance", {**ENV, "DATABASE_URL": database}))
    try:
        login = fetch("POST", url + "/api/auth/login", json={"username": "admin", "password": "writer-pass"})
        key = fetch("GET", url + "/api/user/token", cookies=login.cookies.get_dict()).json()["token"]
        assert fetch("POST", url + "/api/user/urls", headers={"Authorization": key},
                     json={"destination": "https://example.com/", "vanity": "hot"}).status_code == 200
        visit = lambda _: fetch("GET", url + "/go/hot", allow_redirects=False).status_code  # noqa: E731
        assert burst(300, visit, workers=16) == [302] * 300
        assert _wait_for(lambda: _stored(database)[1:] == (300, 300)), _stored(database)
        writers = _children(proc.pid)
        assert len(writers) == 1  # the visit writer (it stored the first visits)
        os.kill(writers[0], signal.SIGKILL)
        assert burst(300, visit, workers=16) == [302] * 300
        assert _wait_for(lambda: _stored(database)[1:] == (600, 600)), _stored(database)
        assert len(_children(proc.pid)) == 1 and _children(proc.pid) != writers  # a new one took over
        assert burst(100, visit, workers=16) == [302] * 100
    finally:
        output = stop(proc)  # the last visits are written through the writer process on the way out
    assert _stored(database) == (700, 700, 700), output


def test_batches_never_wait_for_a_starting_child_and_then_go_through_it(app, rt, user):
    """Until the child has built its app, batches are written in the server's process; then by the child."""
    from zipshort.events import LinkVisited, Visitor
    from zipshort.extensions import db
    from zipshort.models import Visit
    from zipshort.services import analytics, links
    from zipshort.serving import WriterProcess

    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    db.session.commit()
    here: list[int] = []

    def fallback(batch) -> int:
        here.append(len(batch))
        return analytics.write_batch(rt, db.engine, batch)

    def visits(n: int) -> list:
        agent = Visitor(user_agent="curl/8.4.0")
        return [LinkVisited(link_id=link.id, code=link.slug, visitor=agent) for _ in range(n)]

    writer = WriterProcess(rt.settings, fallback).start()
    try:
        assert writer.write(visits(3)) == 3 and here == [3]  # the child is still starting
        sent, deadline = 3, time.monotonic() + 60
        while time.monotonic() < deadline:  # batches of 2 until one goes to the child
            before = sum(here)
            assert writer.write(visits(2)) == 2
            sent += 2
            if sum(here) == before:
                break
            time.sleep(0.05)
        local = sum(here)
        assert local < sent  # the child took over
        assert writer.write(visits(5)) == 5 and sum(here) == local  # and keeps the work
    finally:
        writer.close()
    db.session.rollback()
    assert db.session.query(Visit).filter_by(link_id=link.id).count() == sent + 5
