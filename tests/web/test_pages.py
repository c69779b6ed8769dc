"""Login, logout, setup and the dashboard home through the Flask client (the browser tests come with the UI)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import count
from zipshort.models import User


def csrf(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def log_in(client, username="alice", password="correct horse", next_url=None):
    token = csrf(client.get("/auth/login"))
    data = {"username": username, "password": password, "csrf_token": token}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/auth/login", data=data)


def test_first_visit_without_users_goes_to_setup_then_dashboard(client):
    assert client.get("/auth/login").headers["Location"] == "/setup"
    page = client.get("/setup")
    res = client.post("/setup", data={"username": "root", "password": "pw-123456", "csrf_token": csrf(page)})
    assert res.status_code == 303 and res.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.get("/setup").headers["Location"] == "/auth/login" and count(User) == 1


def test_setup_without_csrf_is_refused(client):
    client.get("/setup")
    assert client.post("/setup", data={"username": "root", "password": "pw"}).status_code == 400
    assert count(User) == 0


def test_login_page_form_fields(client, user):
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html and 'name="csrf_token"' in html


def test_login_then_dashboard_shows_own_data(client, user, make_link):
    make_link(user, destination="https://example.com/<script>", vanity="mine")
    res = log_in(client)
    assert res.status_code == 303 and res.headers["Location"] == "/dashboard"
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Hello, alice" in html and "/go/mine" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_wrong_password_rerenders_with_401(client, user):
    res = log_in(client, password="wrong")
    assert res.status_code == 401 and b"Invalid username or password" in res.data


def test_login_without_csrf_is_refused(client, user):
    client.get("/auth/login")
    res = client.post("/auth/login", data={"username": "alice", "password": "correct horse"})
    assert res.status_code == 400
    assert client.get("/dashboard").status_code == 302  # not logged in


@pytest.mark.parametrize("next_url,expected", [
    ("/dashboard/files", "/dashboard/files"), ("//evil.example", "/dashboard"), ("/\\evil.example", "/dashboard"),
    ("https://evil.example", "/dashboard"), ("javascript:alert(1)", "/dashboard"), ("%2F%2Fevil.example", "/dashboard"),
])
def test_next_accepts_local_paths_only(client, user, next_url, expected):
    assert log_in(client, next_url=next_url).headers["Location"] == expected


def test_dashboard_needs_login(client):
    res = client.get("/dashboard")
    assert res.status_code == 302 and res.headers["Location"] == "/auth/login?next=/dashboard"


def test_logout_is_a_post_with_csrf_and_ends_the_session(client, user):
    log_in(client)
    page = client.get("/dashboard")
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.post("/auth/logout", data={"csrf_token": csrf(page)}).status_code == 303
    assert client.get("/dashboard").status_code == 302


def test_session_dies_when_the_password_changes(app, rt, user):
    from zipshort.services import accounts

    browser = app.test_client()
    log_in(browser)
    accounts.update_user(rt, user, accounts.UserChanges(password="another one"))
    assert browser.get("/dashboard").status_code == 302

