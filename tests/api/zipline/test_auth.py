"""Zipline auth API: setup, login, logout, /api/user, the token, API keys, sessions and CSRF."""

from __future__ import annotations

import pytest

from tests.conftest import Api, count
from zipshort.models import ApiKey, Role, User
from zipshort.services import accounts

USER_KEYS = {"id", "username", "createdAt", "updatedAt", "role", "view", "avatar", "totpSecret", "sessions", "quota",
             "oauthProviders", "passkeys"}


def login(client, username="alice", password="correct horse"):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_setup_creates_superadmin_only_while_no_user_exists(client):
    assert client.get("/api/setup").get_json() == {"firstSetup": True}
    res = client.post("/api/setup", json={"username": "root", "password": "pw-123456"})
    assert res.status_code == 200 and res.get_json()["user"]["role"] == "SUPERADMIN"
    again = client.post("/api/setup", json={"username": "other", "password": "pw-123456"})
    assert again.status_code == 403 and client.get("/api/setup").status_code == 403
    assert count(User) == 1


def test_setup_then_login_then_token_bootstrap_like_zipline_cli(client, app):
    client.post("/api/setup", json={"username": "root", "password": "pw-123456"})
    fresh_client = app.test_client()
    assert login(fresh_client, "root", "pw-123456").status_code == 200
    token = fresh_client.get("/api/user/token").get_json()["token"]
    res = app.test_client().post("/api/user/urls", json={"destination": "https://e.com/"},
                                 headers={"Authorization": token})
    assert res.status_code == 200


def test_login_returns_user_with_every_zipline_key_and_a_hardened_cookie(client, user):
    res = login(client)
    assert res.status_code == 200
    assert USER_KEYS <= set(res.get_json()["user"])
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "password" not in res.get_json()["user"] and res.get_json()["user"]["totpSecret"] is None


def test_login_unknown_user_and_wrong_password_give_the_same_error(client, user):
    unknown, wrong = login(client, "nobody"), login(client, "alice", "wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()
    assert wrong.get_json()["error"] == "Invalid username or password"


@pytest.mark.parametrize("body,message", [({"password": "x"}, "Username is required"),
                                          ({"username": "alice"}, "Password is required")])
def test_login_missing_field_is_400(client, body, message):
    res = client.post("/api/auth/login", json=body)
    assert res.status_code == 400 and res.get_json()["error"] == message


def test_login_form_encoded_is_refused(client, user):
    res = client.post("/api/auth/login", data={"username": "alice", "password": "correct horse"})
    assert res.status_code == 400


def test_login_disabled_user_is_refused(client, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    assert login(client).status_code == 401


def test_login_is_rate_limited_per_client(client, user):
    statuses = [login(client, "alice", "wrong").status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert login(client).status_code == 429


def test_login_rate_limit_ignores_forwarded_for_when_no_proxy_is_trusted(client, user):
    statuses = [client.post("/api/auth/login", json={"username": "alice", "password": "x"},
                            headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(11)]
    assert statuses[-1] == 429


def test_login_rate_limit_response_has_retry_after(client, user):
    for _ in range(10):
        login(client, "alice", "wrong")
    res = login(client, "alice", "wrong")
    assert res.status_code == 429 and int(res.headers["Retry-After"]) >= 1


def test_login_rehashes_password_when_parameters_change(client, app, rt, user):
    from zipshort.extensions import db
    from zipshort.security import Passwords

    old = Passwords(1, 16, 1).hash("correct horse")
    db.session.query(User).filter_by(id=user.id).update({"password_hash": old})
    db.session.commit()
    assert login(client).status_code == 200
    db.session.rollback()
    assert db.session.get(User, user.id, populate_existing=True).password_hash != old


def test_get_user_with_session(client, user):
    login(client)
    assert client.get("/api/user").get_json()["user"]["username"] == "alice"


def test_get_user_without_auth_is_401(client):
    res = client.get("/api/user")
    assert res.status_code == 401 and res.get_json() == {"error": "not logged in", "statusCode": 401,
                                                         "code": "not_logged_in"}


def test_logout_ends_the_session(client, user):
    login(client)
    assert client.get("/api/auth/logout").status_code == 200
    assert client.get("/api/user").status_code == 401


def test_password_change_ends_other_sessions_but_keeps_this_one(app, user):
    first, second = app.test_client(), app.test_client()
    login(first), login(second)
    res = first.patch("/api/user", json={"password": "new password"})
    assert res.status_code == 200
    assert first.get("/api/user").status_code == 200
    assert second.get("/api/user").status_code == 401


def test_disable_ends_sessions_and_keys(app, rt, user, make_key):
    session_client = app.test_client()
    login(session_client)
    key = make_key(user)
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    assert session_client.get("/api/user").status_code == 401
    assert app.test_client().get("/api/user", headers={"Authorization": key}).status_code == 401


def test_session_state_change_without_json_or_csrf_header_is_refused(client, user):
    login(client)
    res = client.post("/api/user/urls", data="destination=https://e.com/",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 403 and res.get_json()["code"] == "csrf_failed"


def test_session_state_change_cross_site_is_refused(client, user):
    login(client)
    res = client.post("/api/user/urls", json={"destination": "https://e.com/"},
                      headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403


def test_session_state_change_with_json_is_allowed(client, user):
    login(client)
    assert client.post("/api/user/urls", json={"destination": "https://e.com/"}).status_code == 200


def test_token_is_stable_across_reads_and_works_in_every_style(client, app, user):
    login(client)
    token = client.get("/api/user/token").get_json()["token"]
    assert client.get("/api/user/token").get_json()["token"] == token
    for header in ({"Authorization": token}, {"Authorization": f"Bearer {token}"}, {"x-api-key": token}):
        assert app.test_client().get("/api/user", headers=header).status_code == 200


def test_token_is_stored_only_as_a_digest(client, user):
    from zipshort.extensions import db

    login(client)
    token = client.get("/api/user/token").get_json()["token"]
    db.session.rollback()
    row = db.session.query(ApiKey).filter_by(user_id=user.id, is_token=True).one()
    assert token not in (row.key_hash, row.prefix, row.token_nonce) and len(row.key_hash) == 64


def test_token_reset_invalidates_the_old_token(client, app, user):
    login(client)
    old = client.get("/api/user/token").get_json()["token"]
    res = client.patch("/api/user/token")
    new = res.get_json()["token"]
    assert res.status_code == 200 and new != old and res.get_json()["user"]["id"] == user.id
    assert app.test_client().get("/api/user", headers={"Authorization": old}).status_code == 401
    assert app.test_client().get("/api/user", headers={"Authorization": new}).status_code == 200


def test_keys_create_list_revoke(client, app, user):
    login(client)
    res = client.post("/api/user/keys", json={"name": "ci", "scopes": ["links:read"]})
    assert res.status_code == 201
    created = res.get_json()
    key = created["key"]
    assert created["scopes"] == ["links:read"]
    listed = client.get("/api/user/keys").get_json()
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    reader = Api(app.test_client(), key)
    assert reader.get("/api/user/urls").status_code == 200
    assert client.get("/api/user/keys").get_json()[0]["lastUsedAt"] is not None
    assert client.delete(f"/api/user/keys/{created['id']}").status_code == 200
    assert reader.get("/api/user/urls").status_code == 401


def test_keys_unknown_scope_is_400(client, user):
    login(client)
    assert client.post("/api/user/keys", json={"name": "x", "scopes": ["everything"]}).status_code == 400


def test_keys_admin_scope_needs_an_administrator(client, user):
    login(client)
    assert client.post("/api/user/keys", json={"name": "x", "scopes": ["admin"]}).status_code == 403


def test_keys_cannot_be_widened_by_a_narrow_key(client, user, make_key):
    narrow = Api(client, make_key(user, scopes=["links:read", "keys:write", "account"]))
    res = narrow.post("/api/user/keys", json={"name": "x", "scopes": ["links:write"]})
    assert res.status_code == 403 and "more scopes" in res.get_json()["error"]


def test_keys_revoking_another_users_key_is_404(client, user, make_user, rt):
    from zipshort.services import apikeys

    bob = make_user("bob")
    other_key, _ = apikeys.create_key(rt, apikeys.Actor.of(bob), bob, name="bobs")
    login(client)
    assert client.delete(f"/api/user/keys/{other_key.id}").status_code == 404


def test_expired_key_is_401(client, user, make_key):
    import datetime as dt

    from zipshort.extensions import db

    key = make_key(user)
    db.session.query(ApiKey).filter_by(user_id=user.id).update(
        {"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
    db.session.commit()
    assert Api(client, key).get("/api/user").status_code == 401


def test_healthcheck_passes_after_a_database_round_trip(client):
    assert client.get("/api/healthcheck").get_json() == {"pass": True}


def test_role_enum_is_zipline_role_names():
    assert [r.value for r in Role] == ["USER", "ADMIN", "SUPERADMIN"]
