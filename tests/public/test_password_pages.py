"""The password pages of links and files (GET): what they cost in SQL, their session-less CSRF token, the same
answer from Flask and from the redirect lane, and the cache of protected links and files; /view and downloads
reading a file's row once."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from zipshort.errors import PasswordRequired
from zipshort.extensions import db
from zipshort.security import form_nonce, form_token

WRITES = re.compile(r"^\s*(UPDATE|INSERT|DELETE|BEGIN IMMEDIATE)", re.IGNORECASE)


@pytest.fixture(params=[0.0, 60.0], ids=["views-one-by-one", "views-batched"])
def overrides(request):
    return {"urls": {"view_flush_seconds": request.param, "cache_seconds": 600}}


@pytest.fixture
def statements(app) -> list[str]:
    """Every statement the database driver runs from now on (the hot path's raw connections included).

    SQLAlchemy's pool events hand over each connection as it is made or checked out: SQLite's gets a trace
    callback, psycopg's a cursor class that records what it executes (hot statements bypass the cursor events).
    """
    seen: list[str] = []
    engine = db.engine

    def hook(dbapi_connection, record, *proxy) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.set_trace_callback(seen.append)
        else:
            import psycopg

            class Recording(psycopg.Cursor):
                def execute(self, query, params=None, **kwargs):
                    seen.append(str(query))
                    return super().execute(query, params, **kwargs)

            dbapi_connection.cursor_factory = Recording

    sa.event.listen(engine, "connect", hook)
    sa.event.listen(engine, "checkout", hook)
    db.session.remove()
    engine.dispose()  # every connection from here on is a new one, hot-path connections included
    yield seen
    sa.event.remove(engine, "connect", hook)
    sa.event.remove(engine, "checkout", hook)


def _sql(seen: list[str]) -> list[str]:
    """The statements that touch rows (not the driver's transaction bookkeeping or SQLite's pragmas)."""
    return [s for s in seen if not re.match(r"^\s*(BEGIN|COMMIT|ROLLBACK|PRAGMA|SET|SHOW|SELECT pg_)", s, re.I)
            or WRITES.match(s)]


def _token(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def put(api, name, content, ctype, headers=None) -> str:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["files"][0]["name"]


# --- what a GET costs ----------------------------------------------------------------------------------------

def test_link_password_page_reads_the_link_once_and_writes_nothing(client, make_link, user, statements):
    make_link(user, vanity="pw", password="letmein1")
    statements.clear()
    assert client.get("/go/pw").status_code == 200
    sql = _sql(statements)
    assert len(sql) == 1 and "FROM links" in sql[0] and not WRITES.match(sql[0]), statements
    statements.clear()
    for _ in range(3):  # remembered as protected: no SQL at all
        assert client.get("/go/pw").status_code == 200
    assert _sql(statements) == [], statements


def test_a_limited_protected_link_is_read_each_time_never_written(client, make_link, user, statements):
    make_link(user, vanity="pwl", password="letmein1", max_views=5)
    for _ in range(2):
        statements.clear()
        assert client.get("/go/pwl").status_code == 200
        sql = _sql(statements)
        assert len(sql) == 1 and not WRITES.match(sql[0]), statements


def test_file_password_page_reads_the_file_once_and_writes_nothing(api, client, statements):
    name = put(api, "a.txt", b"secret text", "text/plain", {"x-zipline-password": "pw-12345"})
    for path in (f"/u/{name}", f"/raw/{name}", f"/view/{name}"):
        statements.clear()
        res = client.get(path)
        assert res.status_code == 200 and 'type="password"' in res.get_data(as_text=True) \
            and b"secret text" not in res.data
        assert len([s for s in _sql(statements) if "files" in s]) <= 1, (path, statements)
        assert not [s for s in statements if WRITES.match(s)], (path, statements)
    statements.clear()
    for path in (f"/u/{name}", f"/raw/{name}"):  # remembered as protected
        assert client.get(path).status_code == 200
    assert _sql(statements) == [], statements


def test_text_view_reads_the_file_row_once(api, client, rt, statements):
    name = put(api, "notes.txt", b"hello notes", "text/plain")
    statements.clear()
    res = client.get(f"/view/{name}")
    assert res.status_code == 200 and "hello notes" in res.get_data(as_text=True)
    reads = [s for s in _sql(statements) if "FROM files" in s and not WRITES.match(s)]
    writes = [s for s in statements if WRITES.match(s)]
    assert len(reads) == 1, statements
    if rt.settings.urls.view_flush_seconds > 0:  # the view joins the batch
        assert writes == [] and sum(rt.file_views.drain().values()) == 1, statements
    else:  # counted in the request: the one conditional UPDATE
        assert len(writes) == 1 and writes[0].lstrip().upper().startswith("UPDATE FILES"), statements
    assert not [s for s in _sql(statements) if "FROM users" in s and "files" not in s], statements


def test_text_view_of_a_limited_file_is_one_read_and_one_counting_update(api, client, statements):
    name = put(api, "once.txt", b"only twice", "text/plain", {"x-zipline-max-views": "2"})
    statements.clear()
    assert "only twice" in client.get(f"/view/{name}").get_data(as_text=True)
    reads = [s for s in _sql(statements) if "FROM files" in s and not WRITES.match(s)]
    writes = [s for s in statements if WRITES.match(s)]
    assert len(reads) == 1 and len(writes) == 1, statements


def test_download_of_a_file_without_limit_reads_once(api, client, rt, statements):
    name = put(api, "plain.txt", b"plain bytes", "text/plain")
    statements.clear()
    res = client.get(f"/raw/{name}")
    assert res.status_code == 200 and res.data == b"plain bytes"
    reads = [s for s in _sql(statements) if "FROM files" in s and not WRITES.match(s)]
    writes = [s for s in statements if WRITES.match(s)]
    if rt.settings.urls.view_flush_seconds > 0:  # batched like a plain link's: no write lock
        assert len(reads) == 1 and writes == [] and sum(rt.file_views.drain().values()) == 1, statements
    else:
        assert len(reads) == 1 and len(writes) == 1, statements


# --- the form's CSRF token without a session -----------------------------------------------------------------

def test_the_page_sets_a_form_cookie_and_no_session(client, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    first = client.get("/go/pw")
    cookies = first.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith("zipshort_form=")
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0] and "Path=/" in cookies[0]
    assert not any(c.startswith("zipshort_session=") for c in cookies)
    again = client.get("/go/pw")  # the browser sends its cookie: same token, nothing set
    assert again.headers.getlist("Set-Cookie") == [] and _token(again) == _token(first)


def test_the_page_headers_are_the_html_pages(client, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    for res in (client.get("/go/pw"), client.get("/go/pw")):  # from Flask, then from the redirect lane
        assert res.status_code == 200 and res.mimetype == "text/html"
        assert res.headers["Cache-Control"] == "no-store" and res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in \
            res.headers["Content-Security-Policy"]
        assert res.headers["Referrer-Policy"] == "strict-origin-when-cross-origin" and res.headers["X-Request-ID"]
        assert int(res.headers["Content-Length"]) == len(res.data)


@pytest.mark.parametrize("path", ["/go/pw", "/u/{name}"])
def test_flask_and_the_lane_answer_the_same_page(app, api, make_link, user, path):
    make_link(user, vanity="pw", password="letmein1")
    path = path.format(name=put(api, "a.txt", b"x", "text/plain", {"x-zipline-password": "pw-12345"}))
    browser = app.test_client()
    from_flask = browser.get(path)  # a miss: Flask answers and remembers the password
    from_lane = browser.get(path)
    assert from_lane.data == from_flask.data
    def shape(res):
        return sorted((k, v) for k, v in res.headers.items() if k not in ("X-Request-ID", "Set-Cookie"))
    assert shape(from_lane) == shape(from_flask)


def _unlock(client, path, password, token):
    return client.post(path, data={"password": password, "csrf_token": token})


@pytest.mark.parametrize("kind", ["link", "file"])
def test_unlock_needs_the_token_of_the_browsers_own_cookie(app, api, make_link, user, kind):
    if kind == "link":
        make_link(user, destination="https://secret.example/", vanity="pw", password="letmein1")
        path, password, unlocked = "/go/pw", "letmein1", 302
    else:
        path, password, unlocked = f"/u/{put(api, 'a.txt', b'x', 'text/plain', {'x-zipline-password': 'pw-1'})}", \
            "pw-1", 200
    visitor, attacker = app.test_client(), app.test_client()
    token = _token(visitor.get(path))
    stolen = _token(attacker.get(path))
    assert _unlock(app.test_client(), path, password, token).status_code == 400  # no cookie at all
    assert _unlock(visitor, path, password, stolen).status_code == 400  # another browser's token
    assert _unlock(visitor, path, password, "").status_code == 400
    planted = form_nonce()  # a nonce the attacker chose, with a token made without the server's secret
    forged = app.test_client()
    forged.set_cookie("zipshort_form", planted)
    assert _unlock(forged, path, password, form_token("not the secret", planted)).status_code == 400
    assert visitor.post(path, data={"password": password}).status_code == 400  # no token
    res = _unlock(visitor, path, password, token)
    assert res.status_code == unlocked
    if kind == "link":
        assert res.headers["Location"] == "https://secret.example/"
    else:
        assert res.data == b"x"


def test_refused_unlocks_count_nothing(client, make_link, user):
    link = make_link(user, vanity="pw", password="letmein1")
    client.get("/go/pw")
    assert client.post("/go/pw", data={"password": "letmein1", "csrf_token": "x" * 40}).status_code == 400
    db.session.refresh(link)
    assert link.views == 0


def test_wrong_password_page_keeps_the_browsers_token(client, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    token = _token(client.get("/go/pw"))
    wrong = _unlock(client, "/go/pw", "nope", token)
    assert wrong.status_code == 403 and b"Incorrect password" in wrong.data and _token(wrong) == token
    assert wrong.headers.getlist("Set-Cookie") == []


# --- the cache of protected links and files ------------------------------------------------------------------

def test_removing_a_links_password_is_seen_at_once(client, make_link, rt, user):
    from zipshort.services import links

    link = make_link(user, destination="https://open.example/", vanity="pw", password="letmein1")
    assert client.get("/go/pw").status_code == 200
    assert client.get("/go/pw").status_code == 200  # from the cache
    links.update_link(rt, user, link.id, links.LinkChanges(password=None))
    res = client.get("/go/pw")
    assert res.status_code == 302 and res.headers["Location"] == "https://open.example/"


def test_removing_a_files_password_or_the_file_is_seen_at_once(api, client, rt, user):
    from zipshort.services import files

    name = put(api, "a.txt", b"now open", "text/plain", {"x-zipline-password": "pw-12345"})
    for _ in range(2):
        assert 'type="password"' in client.get(f"/u/{name}").get_data(as_text=True)
    files.update_file(rt, user, name, files.FileChanges(password=None))
    assert client.get(f"/u/{name}").data == b"now open"
    other = put(api, "b.txt", b"gone soon", "text/plain", {"x-zipline-password": "pw-12345"})
    for _ in range(2):
        assert client.get(f"/raw/{other}").status_code == 200
    files.delete_files(rt, user, [other])
    assert client.get(f"/raw/{other}").status_code == 404


def test_a_remembered_protected_file_expires_with_the_file(app, api, rt):
    from zipshort.services import downloads

    name = put(api, "a.txt", b"x", "text/plain", {"x-zipline-password": "pw-12345", "x-zipline-deletes-at": "1h"})
    with pytest.raises(PasswordRequired):
        downloads.find_file(rt, name)
    with pytest.raises(PasswordRequired):
        downloads.protected_file(rt, name)  # remembered
    downloads.protected_file(rt, name, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))  # expired


def test_disabling_the_owner_forgets_protected_files(api, client, rt, user):
    from zipshort.services import accounts

    name = put(api, "a.txt", b"x", "text/plain", {"x-zipline-password": "pw-12345"})
    for _ in range(2):
        assert client.get(f"/u/{name}").status_code == 200
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))  # by the CLI
    assert client.get(f"/u/{name}").status_code != 200
