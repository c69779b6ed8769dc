"""The audit log through the real app: every audited action driven through its route, the fields of its entry,
the client's address per the privacy settings, ``GET /api/server/audit`` (admin only, filters, pages, bad input),
the admin page, the user's own entries in Settings, and a burst of failed logins on a live server."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import Api, burst, dns_overrides, fetch
from zipshort.extensions import db
from zipshort.models import AuditEntry, Role
from zipshort.services import audit


@pytest.fixture
def overrides(dns_zone):
    return dns_overrides(dns_zone)


def entries(rt, **where) -> list[AuditEntry]:
    """Every stored entry (oldest first) matching ``where``, once the dispatcher delivered what was published."""
    assert rt.events.drain(10)
    db.session.rollback()
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id))
    return [row for row in rows if all(getattr(row, key) == value for key, value in where.items())]


def only(rt, **where) -> AuditEntry:
    found = entries(rt, **where)
    assert len(found) == 1, [(e.action, e.target_name, e.details) for e in found]
    return found[0]


def login(client, username: str, password: str = "correct horse", **extra):
    return client.post("/api/auth/login", json={"username": username, "password": password, **extra})


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.fixture
def root(make_user):
    return make_user("root", role=Role.SUPERADMIN)


@pytest.fixture
def admin_api(client, root, make_key):
    """The superadmin's key with every scope, admin included."""
    return Api(client, make_key(root, scopes=["admin", "links:read", "domains:write", "account"]))


def test_sign_ins_and_failures_are_recorded_with_their_reason(app, rt, user):
    assert login(app.test_client(), "alice").status_code == 200
    assert login(app.test_client(), "alice", "wrong").status_code == 401
    assert login(app.test_client(), "Mallory", "mallory-guess-7f3a").status_code == 401
    ok = only(rt, action="login.succeeded")
    assert (ok.result, ok.actor_id, ok.actor_name, ok.account_id, ok.target_type, ok.target_id, ok.target_name) == \
        ("success", user.id, "alice", user.id, "user", user.id, "alice")
    assert ok.details == {"method": "password"} and ok.request_id and ok.address is None
    wrong = only(rt, action="login.failed", reason="wrong_password")
    assert (wrong.result, wrong.account_id, wrong.target_name) == ("failure", user.id, "alice")
    unknown = only(rt, action="login.failed", reason="unknown_user")
    assert (unknown.account_id, unknown.actor_id, unknown.target_id, unknown.target_name) == \
        (None, None, None, "mallory")


def test_account_security_changes_are_recorded(app, rt, user, make_file):
    browser, other = app.test_client(), app.test_client()
    login(browser, "alice"), login(other, "alice")
    assert browser.delete("/api/user/sessions", json={"all": True}).get_json() == {"ended": 1}
    assert browser.patch("/api/user/token").status_code == 200
    secret = browser.get("/api/user/mfa/totp").get_json()["secret"]
    totp = pyotp.TOTP(secret)
    assert browser.post("/api/user/mfa/totp", json={"secret": secret, "code": totp.now()}).status_code == 200
    later = totp.at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))  # the step after (each step works once)
    assert browser.delete("/api/user/mfa/totp", json={"code": later}).status_code == 200
    assert browser.patch("/api/user", json={"view": {"embed": True, "embedTitle": "mine"}}).status_code == 200
    assert browser.patch("/api/user", json={"password": "a new one"}).status_code == 200
    key = browser.post("/api/user/keys", json={"name": "ci", "scopes": ["links:read"]}).get_json()
    assert browser.delete(f"/api/user/keys/{key['id']}").status_code == 200
    ids = [make_file(user, b"one").id, make_file(user, b"two").id]
    assert browser.delete("/api/user/files/transaction", json={"files": ids}).get_json() == {"count": 2}

    for action in ("user.sessions_ended", "user.token_reset", "user.totp_enabled", "user.totp_disabled",
                   "settings.changed", "user.password_changed"):
        row = only(rt, action=action)
        assert (row.result, row.actor_id, row.actor_name, row.account_id, row.target_id) == \
            ("success", user.id, "alice", user.id, user.id), action
    assert only(rt, action="user.sessions_ended").details == {"count": 1}
    assert only(rt, action="settings.changed").details == {"settings": ["view"]}
    created = only(rt, action="key.created", actor_id=user.id)
    assert (created.target_type, created.target_id, created.target_name, created.details) == \
        ("key", key["id"], "ci", {"scopes": ["links:read"]})
    assert only(rt, action="key.revoked").target_id == key["id"]
    bulk = only(rt, action="bulk.deleted")
    assert (bulk.target_type, bulk.account_id, bulk.details) == ("files", user.id, {"what": "files", "count": 2})


def test_refused_two_factor_changes_are_recorded_as_failures(app, rt, user):
    browser = app.test_client()
    login(browser, "alice")
    secret = browser.get("/api/user/mfa/totp").get_json()["secret"]
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    assert browser.post("/api/user/mfa/totp", json={"secret": secret, "code": wrong}).status_code == 400
    assert browser.post("/api/user/mfa/totp", json={"secret": secret, "code": pyotp.TOTP(secret).now()}).status_code \
        == 200
    assert browser.delete("/api/user/mfa/totp", json={"code": "000000"}).status_code == 400
    rows = entries(rt, action="user.totp_change_failed")
    assert [(e.result, e.reason, e.details, e.actor_id, e.account_id) for e in rows] == [
        ("failure", "wrong_code", {"change": "enable"}, user.id, user.id),
        ("failure", "wrong_code", {"change": "disable"}, user.id, user.id)]
    assert len(entries(rt, action="user.totp_enabled")) == 1 and not entries(rt, action="user.totp_disabled")


def test_the_dynamic_link_secret_rotation_is_a_settings_change(app, rt, user):
    browser = app.test_client()
    login(browser, "alice")
    token = csrf(browser.get("/dashboard/settings"))
    assert browser.post("/dashboard/settings/dynamic/rotate", data={"csrf_token": token}).status_code == 303
    assert only(rt, action="settings.changed").details == {"settings": ["dynamic_link_secret"]}


def test_administration_of_users_is_recorded(rt, admin_api, root):
    bob = admin_api.post("/api/users", json={"username": "bob", "password": "pw-123456"}).get_json()
    for change in ({"role": "ADMIN"}, {"quota": {"filesType": "BY_FILES", "maxFiles": 5}}, {"disabled": True},
                   {"disabled": False}, {"password": "reset-by-root"}):
        assert admin_api.patch(f"/api/users/{bob['id']}", json=change).status_code == 200, change
    assert admin_api.delete(f"/api/users/{bob['id']}").status_code == 200
    actions = [e.action for e in entries(rt, account_id=bob["id"])]
    assert actions == ["user.created", "user.role_changed", "user.quota_changed", "user.disabled", "user.enabled",
                       "user.password_changed", "user.deleted"]
    for row in entries(rt, account_id=bob["id"]):
        assert (row.actor_id, row.actor_name, row.target_name) == (root.id, "root", "bob")
    assert only(rt, action="user.role_changed").details == {"old": "USER", "new": "ADMIN"}
    assert only(rt, action="user.created", account_id=bob["id"]).details == {"role": "USER", "via": "admin"}
    # The entries outlive the account they are about.
    assert len(entries(rt, account_id=bob["id"])) == 7


def test_server_settings_changes_are_recorded(rt, admin_api, root):
    res = admin_api.patch("/rest/v3/domains/redirects", json={"domain": "localhost",
                                                              "baseUrlRedirect": "https://home.example/"})
    assert res.status_code == 200, res.get_json()
    row = only(rt, action="settings.changed")
    assert (row.target_type, row.account_id, row.actor_id) == ("server", None, root.id)
    assert row.details == {"settings": ["domain_redirects.base_url"]}


def test_domain_verification_is_recorded_refused_and_granted(rt, api, user, dns_zone):
    added = api.post("/api/user/domains", json={"hostname": "links.acme.test"}).get_json()
    assert api.post(f"/api/user/domains/{added['id']}/verify").status_code == 422
    record = added["txtRecord"]
    dns_zone.txt[record["name"]] = [record["value"]]
    assert api.post(f"/api/user/domains/{added['id']}/verify").status_code == 200
    assert api.delete(f"/api/user/domains/{added['id']}").status_code == 200
    rows = entries(rt, target_id=added["id"])
    assert [(e.action, e.result, e.reason) for e in rows] == [
        ("domain.added", "success", None), ("domain.verification_failed", "failure", "no_proof"),
        ("domain.verified", "success", None), ("domain.deleted", "success", None)]
    assert {(e.actor_id, e.account_id, e.target_type, e.target_name) for e in rows} == \
        {(user.id, user.id, "domain", "links.acme.test")}


def test_every_audited_action_has_a_test_here():
    tested = {"login.succeeded", "login.failed", "user.sessions_ended", "user.token_reset", "user.totp_enabled",
              "user.totp_change_failed",
              "user.totp_disabled", "settings.changed", "user.password_changed", "key.created", "key.revoked",
              "bulk.deleted", "user.created", "user.role_changed", "user.quota_changed", "user.disabled",
              "user.enabled", "user.deleted", "domain.added", "domain.verification_failed", "domain.verified",
              "domain.deleted"}
    assert tested == set(audit.ACTIONS)


# The client's address, per the analytics privacy settings ----------------------------------------------------------

@pytest.mark.parametrize("privacy,stored", [
    ({}, None),
    ({"store_address": True}, "127.0.0.0"),
    ({"store_address": True, "anonymize_address": False}, "127.0.0.1"),
])
def test_the_address_is_kept_only_as_the_analytics_settings_allow(backend, overrides, privacy, stored, request):
    overrides["analytics"] = privacy
    app, rt = request.getfixturevalue("app"), request.getfixturevalue("rt")
    request.getfixturevalue("user")
    assert login(app.test_client(), "alice", "wrong").status_code == 401
    assert only(rt, action="login.failed").address == stored


def test_a_forwarded_address_is_the_one_kept_behind_a_trusted_proxy(backend, overrides, request):
    overrides["analytics"] = {"store_address": True, "anonymize_address": False}
    overrides["core"] = {"trust_proxy": 1}
    app, rt = request.getfixturevalue("app"), request.getfixturevalue("rt")
    request.getfixturevalue("user")
    app.test_client().post("/api/auth/login", json={"username": "alice", "password": "wrong"},
                           headers={"X-Forwarded-For": "203.0.113.9"})
    assert only(rt, action="login.failed").address == "203.0.113.9"


def test_the_address_never_reaches_a_log_line(backend, overrides, request, caplog):
    overrides["analytics"] = {"store_address": True, "anonymize_address": False}
    app, rt = request.getfixturevalue("app"), request.getfixturevalue("rt")
    request.getfixturevalue("user")
    caplog.set_level("DEBUG")
    app.test_client().post("/api/auth/login", json={"username": "alice", "password": "wrong"},
                           environ_base={"REMOTE_ADDR": "198.51.100.77"})
    assert only(rt, action="login.failed").address == "198.51.100.77"
    assert "198.51.100.77" not in caplog.text and "login.failed" in caplog.text


def test_nothing_is_recorded_with_the_audit_log_off(backend, overrides, request):
    overrides["audit"] = {"enabled": False}
    app, rt = request.getfixturevalue("app"), request.getfixturevalue("rt")
    request.getfixturevalue("user")
    login(app.test_client(), "alice", "wrong")
    assert entries(rt) == []


# GET /api/server/audit ----------------------------------------------------------------------------------------------

def test_the_audit_api_is_for_administrators_with_the_admin_scope(app, client, user, root, make_key):
    assert client.get("/api/server/audit").status_code == 401
    assert Api(client, make_key(user, scopes=["account"])).get("/api/server/audit").status_code == 403
    no_admin_scope = Api(client, make_key(root, scopes=["account", "links:read"])).get("/api/server/audit")
    assert no_admin_scope.status_code == 403 and no_admin_scope.get_json()["code"] == "missing_scope"
    alice = app.test_client()
    login(alice, "alice")
    assert alice.get("/api/server/audit").get_json()["code"] == "not_admin"
    res = Api(client, make_key(root, scopes=["admin"])).get("/api/server/audit")
    assert res.status_code == 200 and {"page", "total", "pages"} <= set(res.get_json())


def test_the_audit_api_filters_and_pages(app, rt, admin_api, user, root):
    for _ in range(5):
        login(app.test_client(), "alice", "wrong")
    login(app.test_client(), "alice")
    rt.events.drain(10)
    body = admin_api.get("/api/server/audit?action=login.failed&perpage=2").get_json()
    assert (body["total"], body["pages"], len(body["page"])) == (5, 3, 2)
    third = admin_api.get("/api/server/audit?action=login.failed&perpage=2&page=3").get_json()["page"]
    seen = [e["id"] for page in (1, 2, 3) for e in admin_api.get(
        f"/api/server/audit?action=login.failed&perpage=2&page={page}").get_json()["page"]]
    assert len(set(seen)) == 5 and third[0]["id"] == seen[-1]
    entry = body["page"][0]
    assert entry["result"] == "failure" and entry["reason"] == "wrong_password"
    assert entry["target"] == {"type": "user", "id": user.id, "name": "alice"} and entry["account"] == user.id
    assert admin_api.get("/api/server/audit?result=success&actor=ALICE").get_json()["total"] == 1
    assert admin_api.get(f"/api/server/audit?target={user.id}").get_json()["total"] == 7  # created, 5 failed, 1 ok
    assert admin_api.get("/api/server/audit?actor=root").get_json()["total"] == 0  # root made nothing yet
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert admin_api.get(f"/api/server/audit?since={future}").get_json()["total"] == 0
    assert admin_api.get(f"/api/server/audit?until={future}&action=login.succeeded").get_json()["total"] == 1


@pytest.mark.parametrize("query", ["action=nope", "result=maybe", "page=0", "page=x", "perpage=101", "perpage=0",
                                   "since=yesterday", "until=2026-13-01", "since=2026-02-02&until=2026-01-01",
                                   "actor=%00", "target=" + "x" * 300, "page=99999999999999999"])
def test_bad_audit_queries_are_refused_with_400(admin_api, query):
    res = admin_api.get(f"/api/server/audit?{query}")
    assert res.status_code == 400, (query, res.get_json())


def test_an_admin_sees_only_the_accounts_they_manage(app, rt, make_user, make_key, client, root):
    boss = make_user("boss", role=Role.ADMIN)
    make_user("carol")
    for name in ("carol", "root", "ghost"):
        login(app.test_client(), name, "wrong")
    rt.events.drain(10)
    seen = Api(client, make_key(boss, scopes=["admin"])).get("/api/server/audit?action=login.failed").get_json()
    assert [e["target"]["name"] for e in seen["page"]] == ["carol"]
    everything = Api(client, make_key(root, scopes=["admin"])).get("/api/server/audit?action=login.failed")
    assert sorted(e["target"]["name"] for e in everything.get_json()["page"]) == ["carol", "ghost", "root"]


# Pages ----------------------------------------------------------------------------------------------------------------

def test_the_admin_page_lists_and_filters_entries(app, rt, root, user):
    login(app.test_client(), "alice", "wrong")
    browser = app.test_client()
    login(browser, "root")
    rt.events.drain(10)
    page = browser.get("/dashboard/admin/audit?result=failure")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "wrong_password" in text and "login.succeeded" not in text.split("<table")[-1]
    assert 'href="/dashboard/admin/audit"' in browser.get("/dashboard").get_data(as_text=True)
    assert browser.get("/dashboard/admin/audit?action=nope").status_code == 400
    alice = app.test_client()
    login(alice, "alice")
    assert alice.get("/dashboard/admin/audit").status_code == 403


def test_settings_show_the_users_own_entries_only(app, rt, user, make_user):
    make_user("bob")
    login(app.test_client(), "bob", "wrong")
    login(app.test_client(), "alice", "wrong")
    browser = app.test_client()
    login(browser, "alice")
    rt.events.drain(10)
    text = browser.get("/dashboard/settings").get_data(as_text=True)
    section = text[text.index('id="audit-h"'):]
    assert "login.failed" in section and "login.succeeded" in section and "wrong_password" in section
    assert section.count("login.failed") == 1  # bob's failure is not alice's


# Under load ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_burst_of_failed_logins_is_recorded_in_full(backend, overrides, request):
    overrides["ratelimit"] = {"login": "1000/minute"}
    live_server, rt = request.getfixturevalue("live_server"), request.getfixturevalue("rt")
    request.getfixturevalue("user")

    def attempt(i: int) -> int:
        return fetch("POST", live_server.url + "/api/auth/login",
                     json={"username": "alice", "password": f"wrong-{i}"}).status_code

    assert burst(40, attempt) == [401] * 40
    failed = entries(rt, action="login.failed")
    assert len(failed) == 40 and len({e.request_id for e in failed}) == 40
    assert {(e.account_id, e.reason) for e in failed} == {(failed[0].account_id, "wrong_password")}
