"""Browser sessions live on the server: logout, password change, disable and delete end them for good;
Zipline's session list and revocation; a cross-site GET logout does nothing."""

from __future__ import annotations

import pytest

from tests.conftest import count
from zipshort.models import Role, UserSession
from zipshort.services import accounts


def login(app, username="alice", password="correct horse"):
    browser = app.test_client()
    res = browser.post("/api/auth/login", json={"username": username, "password": password},
                       headers={"User-Agent": f"browser-{id(browser)}"})
    assert res.status_code == 200
    return browser


def cookie_of(browser) -> str:
    return browser.get_cookie("zipshort_session").value


def replay(app, cookie: str):
    """A new browser holding a copied cookie."""
    thief = app.test_client()
    thief.set_cookie("zipshort_session", cookie)
    return thief


@pytest.mark.parametrize("how", ["api", "web"])
def test_logout_ends_the_session_so_a_copied_cookie_is_anonymous(app, user, how):
    browser = login(app)
    stolen = cookie_of(browser)
    assert replay(app, stolen).get("/api/user").status_code == 200
    if how == "api":
        assert browser.get("/api/auth/logout").status_code == 200
    else:
        page = browser.get("/dashboard")
        token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
        assert browser.post("/auth/logout", data={"csrf_token": token}).status_code == 303
    assert replay(app, stolen).get("/api/user").status_code == 401
    assert replay(app, stolen).get("/dashboard").status_code == 302
    assert count(UserSession) == 0


def test_password_change_ends_every_other_session(app, user):
    mine, other = login(app), login(app)
    other_cookie = cookie_of(other)
    assert mine.patch("/api/user", json={"password": "a new password"}).status_code == 200
    assert mine.get("/api/user").status_code == 200  # the changer's own session goes on
    assert replay(app, other_cookie).get("/api/user").status_code == 401
    assert count(UserSession) == 1


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_disabling_or_deleting_a_user_ends_their_sessions(app, rt, user, make_user, change):
    stolen = cookie_of(login(app))
    if change == "disable":
        accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
        accounts.update_user(rt, user, accounts.UserChanges(disabled=False))  # enabling again revives nothing
    else:
        accounts.delete_user(rt, user, actor=make_user("root", role=Role.SUPERADMIN))
    assert replay(app, stolen).get("/api/user").status_code == 401
    assert count(UserSession) == 0


def test_sessions_are_listed_and_others_revoked(app, user):
    mine, other, third = login(app), login(app), login(app)
    listed = mine.get("/api/user/sessions").get_json()
    assert listed["current"]["current"] is True and len(listed["other"]) == 2
    assert listed["current"]["userAgent"].startswith("browser-")
    assert "token" not in str(listed) and "hash" not in str(listed)
    victim = listed["other"][0]["id"]
    assert mine.delete("/api/user/sessions", json={"sessionId": victim}).get_json() == {"ended": 1}
    refused = mine.delete("/api/user/sessions", json={"sessionId": listed["current"]["id"]})
    assert refused.status_code == 400 and refused.get_json()["error"] == "Cannot delete current session"
    unknown = mine.delete("/api/user/sessions", json={"sessionId": victim})
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "Session not found in logged in sessions"
    assert [other.get("/api/user").status_code, third.get("/api/user").status_code].count(401) == 1
    assert mine.delete("/api/user/sessions", json={"all": True}).get_json() == {"ended": 1}
    assert other.get("/api/user").status_code == 401 and third.get("/api/user").status_code == 401
    assert mine.get("/api/user").status_code == 200


def test_another_users_session_cannot_be_revoked(app, user, make_user):
    make_user("bob")
    alice, bob = login(app), login(app, "bob")
    bobs = bob.get("/api/user/sessions").get_json()["current"]["id"]
    assert alice.delete("/api/user/sessions", json={"sessionId": bobs}).status_code == 404
    assert bob.get("/api/user").status_code == 200


def test_cross_site_get_logout_does_nothing(app, user):
    browser = login(app)
    res = browser.get("/api/auth/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403 and res.get_json()["code"] == "csrf_failed"
    assert browser.get("/api/user").status_code == 200
    assert browser.get("/api/auth/logout", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert browser.get("/api/user").status_code == 401


def test_forged_session_secret_is_anonymous(app, user):
    browser = login(app)
    with browser.session_transaction() as session:
        session["sid"] = "not-a-real-session"
    assert browser.get("/api/user").status_code == 401
