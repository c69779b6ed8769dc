"""Administrators and whose things they may manage, on every admin route of the API and the dashboard.

The rule (``accounts.can_manage``, Zipline's canInteract plus one's own things): an ADMIN manages USERs'
things and their own, never another ADMIN's or a SUPERADMIN's; a SUPERADMIN manages USERs', ADMINs' and
their own, never another SUPERADMIN's. Whatever an administrator may not manage answers 404, exactly as if
it did not exist, and is left out of their listings: one answer everywhere, and no existence oracle.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import Api, fresh
from tests.web.test_pages import csrf, log_in
from zipshort.extensions import db
from zipshort.models import CustomDomain, Invite, Role, User
from zipshort.services import accounts, domains, invites

ROLES = {"root": Role.SUPERADMIN, "root2": Role.SUPERADMIN, "boss": Role.ADMIN, "peer": Role.ADMIN,
         "alice": Role.USER}
# (actor, owner, allowed): the rule, spelled out once for every route below.
CASES = [("boss", "root", False), ("boss", "root2", False), ("boss", "peer", False), ("boss", "alice", True),
         ("boss", "boss", True), ("root", "root2", False), ("root", "peer", True), ("root", "alice", True),
         ("root", "root", True)]


@pytest.fixture
def people(make_user) -> dict[str, User]:
    return {name: make_user(name, role=role) for name, role in ROLES.items()}


@pytest.fixture
def things(rt, people) -> dict[str, dict[str, str]]:
    """Everyone's custom domain, every administrator's invite; ids by owner."""
    out: dict[str, dict[str, str]] = {}
    for name, person in people.items():
        out[name] = {"user": person.id, "domain": domains.add_custom(rt, person, f"{name}.test").id}
        if person.is_administrator:
            out[name]["invite"] = invites.create_invite(rt, person).id
    return out


@pytest.fixture
def keys(client, people, make_key) -> dict[str, Api]:
    return {name: Api(client, make_key(people[name], scopes=["admin", "domains", "files:read"]))
            for name in ("boss", "root")}


def _user_changed(ids):
    return fresh(User, ids["user"]) is None or fresh(User, ids["user"]).avatar == "x" or \
        fresh(User, ids["user"]).quota_max_urls == 3


def _domain_changed(ids):
    row = fresh(CustomDomain, ids["domain"])
    return row is None or row.verified_at is not None


def _invite_gone(ids):
    return fresh(Invite, ids["invite"]) is None


# name → (method, path, JSON body, what must not have changed when refused; None for reads)
API_ACTIONS = {
    "get user": ("GET", "/api/users/{user}", None, None),
    "edit user": ("PATCH", "/api/users/{user}", {"avatar": "x"}, _user_changed),
    "edit quota": ("PATCH", "/api/users/{user}", {"quota": {"filesType": "NONE", "maxUrls": 3}}, _user_changed),
    "delete user": ("DELETE", "/api/users/{user}", None, _user_changed),
    "list their files": ("GET", "/api/user/files?page=1&id={user}", None, None),
    "get domain": ("GET", "/api/user/domains/{domain}", None, None),
    "verify domain": ("PATCH", "/api/user/domains/{domain}", {"verified": True}, _domain_changed),
    "delete domain": ("DELETE", "/api/user/domains/{domain}", None, _domain_changed),
    "get invite": ("GET", "/api/auth/invites/{invite}", None, None),
    "delete invite": ("DELETE", "/api/auth/invites/{invite}", None, _invite_gone),
}
SELF_REFUSED = {"delete user", "edit quota"}  # refused for yourself by their own rule (403), not by this one


def applies(path: str, owner: str, actor: str | None = None, action: str = "") -> bool:
    """Only administrators have invites; SELF_REFUSED actions on oneself are another rule's business."""
    if "{invite}" in path and ROLES[owner] == Role.USER:
        return False
    return not (actor == owner and action in SELF_REFUSED)


@pytest.mark.parametrize("action,actor,owner,allowed", [
    (action, actor, owner, allowed) for action, (_, path, _, _) in API_ACTIONS.items()
    for actor, owner, allowed in CASES if applies(path, owner, actor, action)])
def test_admin_api_action_follows_the_role_rule(keys, things, action, actor, owner, allowed):
    method, path, body, changed = API_ACTIONS[action]
    ids = things[owner]
    res = keys[actor].open(path.format(**ids), method=method, json=body)
    if allowed:
        assert res.status_code == 200, res.get_json()
    else:
        assert res.status_code == 404, res.get_json()
        assert changed is None or not changed(ids)


@pytest.mark.parametrize("actor,expected", [("boss", {"boss", "alice"}),
                                            ("root", {"root", "boss", "peer", "alice"})])
def test_admin_api_listings_hold_only_what_the_caller_manages(keys, things, actor, expected):
    api = keys[actor]
    assert {u["username"] for u in api.get("/api/users").get_json()} == expected
    assert {u["username"] for u in api.get("/api/users?noincl=true").get_json()} == expected - {actor}
    assert {d["hostname"] for d in api.get("/api/user/domains?all=1").get_json()} == {f"{n}.test" for n in expected}
    assert {i["inviterId"] for i in api.get("/api/auth/invites").get_json()} == \
        {things[n]["user"] for n in expected if "invite" in things[n]}


@pytest.fixture
def boss_browser(app, people):
    browser = app.test_client()
    assert log_in(browser, "boss").status_code == 303
    return browser


WEB_ACTIONS = {  # name → (path, form fields, what must not have changed when refused)
    "edit user": ("/dashboard/admin/users/{user}", {"role": "USER", "disabled": "on"},
                  lambda ids: fresh(User, ids["user"]).disabled),
    "delete user": ("/dashboard/admin/users/{user}/delete", {}, lambda ids: fresh(User, ids["user"]) is None),
    "verify domain": ("/dashboard/admin/domains/{domain}/verify", {}, _domain_changed),
    "delete domain": ("/dashboard/admin/domains/{domain}/delete", {}, _domain_changed),
    "delete invite": ("/dashboard/admin/invites/{invite}/delete", {}, _invite_gone),
}


@pytest.mark.parametrize("action,owner,allowed", [
    (action, owner, allowed) for action, (path, _, _) in WEB_ACTIONS.items()
    for owner, allowed in (("root", False), ("peer", False), ("alice", True)) if applies(path, owner)])
def test_admin_page_action_follows_the_role_rule(boss_browser, things, action, owner, allowed):
    path, form, changed = WEB_ACTIONS[action]
    ids = things[owner]
    token = csrf(boss_browser.get("/dashboard/admin/users"))
    res = boss_browser.post(path.format(**ids), data={"csrf_token": token, **form})
    assert changed(ids) is allowed
    if allowed:
        assert res.status_code == 303
    else:  # the refused form's page again, with the reason
        assert res.status_code == 404 and "not found" in res.get_data(as_text=True)


def test_admin_pages_list_only_what_the_admin_manages(boss_browser, things):
    users = boss_browser.get("/dashboard/admin/users").get_data(as_text=True)
    assert "alice" in users and "peer" not in users and "root" not in users
    listed = boss_browser.get("/dashboard/admin/domains").get_data(as_text=True)
    assert "alice.test" in listed and "boss.test" in listed
    assert "peer.test" not in listed and "root.test" not in listed
    page = boss_browser.get("/dashboard/admin/invites").get_data(as_text=True)
    codes = {name: db.session.get(Invite, ids["invite"]).code for name, ids in things.items() if "invite" in ids}
    assert codes["boss"] in page and codes["peer"] not in page and codes["root"] not in page


def test_ownerless_invites_belong_to_superadmins_only(rt, people, keys):
    invite = invites.create_invite(rt, people["peer"])
    accounts.delete_user(rt, people["peer"])
    assert fresh(Invite, invite.id).created_by_id is None
    assert keys["boss"].get(f"/api/auth/invites/{invite.id}").status_code == 404
    assert keys["root"].get(f"/api/auth/invites/{invite.id}").status_code == 200


@pytest.mark.parametrize("actor", list(ROLES))
def test_the_sql_form_of_the_rule_matches_the_rule(people, actor):
    me = people[actor]
    rows = db.session.scalars(sa.select(User).where(accounts.managed_by(me, User.id))).all()
    assert {u.username for u in rows} == {name for name, u in people.items() if accounts.can_manage(me, u)}


# Routes a plain user is refused (403) while an administrator is not; each must appear in the tables above.
PROBE_SKIP = {"/api/auth/logout", "/auth/logout"}
COVERED = {("GET", "/api/users/<user_id>"), ("PATCH", "/api/users/<user_id>"), ("DELETE", "/api/users/<user_id>"),
           ("GET", "/api/users"), ("POST", "/api/users"),  # creation: accounts.can_grant, tests/api/zipline
           ("PATCH", "/api/user/domains/<ident>"), ("GET", "/api/auth/invites"), ("POST", "/api/auth/invites"),
           ("GET", "/api/auth/invites/<ident>"), ("DELETE", "/api/auth/invites/<ident>"),
           ("GET", "/dashboard/admin/users"), ("POST", "/dashboard/admin/users"),
           ("POST", "/dashboard/admin/users/<user_id>"), ("POST", "/dashboard/admin/users/<user_id>/delete"),
           ("GET", "/dashboard/admin/domains"), ("POST", "/dashboard/admin/domains/<ident>/verify"),
           ("POST", "/dashboard/admin/domains/<ident>/delete"), ("GET", "/dashboard/admin/invites"),
           ("POST", "/dashboard/admin/invites"), ("POST", "/dashboard/admin/invites/<invite_id>/delete"),
           ("GET", "/dashboard/admin/visits"),  # a shell over /api/server/stats/visits: tests/web/test_stats_pages.py
           ("GET", "/api/server/stats/visits"),  # administrators only: tests/api/test_visit_stats.py
           ("GET", "/api/server/audit"), ("GET", "/dashboard/admin/audit")}  # who sees what: tests/api/test_audit.py


def _probe(app, username: str):
    browser = app.test_client()
    assert log_in(browser, username).status_code == 303
    token = csrf(browser.get("/dashboard/settings"))
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in PROBE_SKIP or rule.rule.startswith("/static"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", "0190a0a0-0000-7000-8000-000000000000")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if path.startswith("/api/"):
                res = browser.open(path, method=method, json={})
            else:
                res = browser.open(path, method=method, data={"csrf_token": token})
            out[(method, rule.rule)] = res.status_code
    return out


def test_every_admin_only_route_is_covered_by_the_role_tests(app, people):
    as_user, as_admin = _probe(app, "alice"), _probe(app, "boss")
    admin_only = {route for route, status in as_user.items() if status == 403 and as_admin[route] != 403}
    assert admin_only and admin_only <= COVERED, admin_only - COVERED
