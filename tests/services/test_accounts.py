"""Accounts: creating, registering, signing in, changing and deleting users, with the role rule deciding
who may do what to whom."""

from __future__ import annotations

import pytest

from tests.conftest import count, fresh
from zipshort.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationError
from zipshort.models import File, Link, Role, User
from zipshort.services import accounts, invites, sessions


@pytest.fixture
def admin(make_user):
    return make_user("boss", role=Role.ADMIN)


def test_create_user_hashes_the_password_and_signs_in(rt, user):
    row = fresh(User, user.id)
    assert row.password_hash != "correct horse" and row.password_hash.startswith("$argon2")
    assert accounts.authenticate(rt, "ALICE", "correct horse", "203.0.113.5").id == user.id


@pytest.mark.parametrize("username,password", [("", "pw"), ("-dash", "pw"), ("sp ace", "pw"), ("x" * 65, "pw"),
                                               ("ok", ""), ("ok", "x" * 10_000), (None, "pw")])
def test_bad_usernames_and_passwords_are_refused(rt, username, password):
    with pytest.raises(ValidationError):
        accounts.create_user(rt, username, password)
    assert count(User) == 0


def test_a_taken_username_is_a_conflict_whatever_its_case(rt, user):
    with pytest.raises(Conflict):
        accounts.create_user(rt, "ALICE", "pw-123456")


@pytest.mark.parametrize("actor_role,role,allowed", [
    (Role.USER, Role.USER, False), (Role.ADMIN, Role.USER, True), (Role.ADMIN, Role.ADMIN, False),
    (Role.SUPERADMIN, Role.ADMIN, True), (Role.SUPERADMIN, Role.SUPERADMIN, False)])
def test_who_may_create_which_role(rt, make_user, actor_role, role, allowed):
    actor = make_user("actor", role=actor_role)
    if allowed:
        assert accounts.create_user(rt, "made", "pw-123456", role, actor=actor).role == role.value
    else:
        with pytest.raises(Forbidden):
            accounts.create_user(rt, "made", "pw-123456", role, actor=actor)
        assert count(User) == 1


def test_wrong_password_unknown_user_and_disabled_user_get_the_same_answer(rt, user, make_user):
    disabled = make_user("gone")
    accounts.update_user(rt, disabled, accounts.UserChanges(disabled=True))
    answers = []
    for username, password in (("alice", "wrong"), ("nobody", "correct horse"), ("gone", "correct horse")):
        with pytest.raises(Unauthorized) as refused:
            accounts.authenticate(rt, username, password, "203.0.113.5")
        answers.append((refused.value.message, refused.value.code))
    assert len(set(answers)) == 1


@pytest.mark.parametrize("overrides", [{"ratelimit": {"login": "2/minute"}}])
def test_logins_are_rate_limited_per_client(rt, user):
    for _ in range(2):
        with pytest.raises(Unauthorized):
            accounts.authenticate(rt, "alice", "wrong", "203.0.113.5")
    with pytest.raises(RateLimited):
        accounts.authenticate(rt, "alice", "correct horse", "203.0.113.5")
    assert accounts.authenticate(rt, "alice", "correct horse", "198.51.100.7").id == user.id


def test_the_first_user_is_superadmin_and_setup_happens_once(rt):
    first = accounts.setup_first_user(rt, "root", "pw-123456")
    assert first.role == Role.SUPERADMIN.value
    with pytest.raises(Forbidden):
        accounts.setup_first_user(rt, "second", "pw-123456")
    assert accounts.bootstrap_admin(rt, "third", None) is None and count(User) == 1


def test_bootstrap_generates_a_password_when_none_is_given(rt):
    user, password = accounts.bootstrap_admin(rt, None, None)
    assert user.username == "admin" and len(password) >= 20
    assert accounts.authenticate(rt, "admin", password, "203.0.113.5").id == user.id


@pytest.mark.parametrize("overrides", [{"features": {"invites_enabled": True}, "ratelimit": {"register": ""}}])
def test_registration_spends_an_invite_only_when_it_succeeds(rt, admin):
    invite = invites.create_invite(rt, admin, "never", 1)
    with pytest.raises(Conflict):
        accounts.register(rt, "boss", "pw-123456", invite.code, "203.0.113.5")  # the name is taken
    assert accounts.register(rt, "newbie", "pw-123456", invite.code, "203.0.113.5").role == Role.USER.value
    with pytest.raises(ValidationError, match="Invalid invite code"):
        accounts.register(rt, "late", "pw-123456", invite.code, "203.0.113.5")


@pytest.mark.parametrize("overrides", [{"features": {"user_registration": False, "invites_enabled": False},
                                        "ratelimit": {"register": ""}}])
def test_registration_is_closed_without_open_registration(rt):
    with pytest.raises(Forbidden, match="disabled"):
        accounts.register(rt, "newbie", "pw-123456", None, "203.0.113.5")
    assert count(User) == 0


def test_a_password_change_ends_every_session(rt, user):
    secret = sessions.start_session(rt, user)
    accounts.update_user(rt, user, accounts.UserChanges(password="new-pass-1"), actor=user)
    assert sessions.session_user(user.id, secret) is None
    assert accounts.authenticate(rt, "alice", "new-pass-1", "203.0.113.5").id == user.id


def test_change_password_needs_the_current_one(rt, user):
    with pytest.raises(ValidationError, match="current password is wrong"):
        accounts.change_password(rt, user, "wrong", "new-pass-1", "203.0.113.5")
    accounts.change_password(rt, user, "correct horse", "new-pass-1", "203.0.113.5")
    assert accounts.authenticate(rt, "alice", "new-pass-1", "203.0.113.5").id == user.id


@pytest.mark.parametrize("changes", [accounts.UserChanges(disabled=True), accounts.UserChanges(role=Role.ADMIN),
                                     accounts.UserChanges(quota=accounts.Quota(max_urls=100))])
def test_nobody_changes_their_own_role_quota_or_disabled_flag(rt, admin, changes):
    with pytest.raises(Forbidden):
        accounts.update_user(rt, admin, changes, actor=admin)
    row = fresh(User, admin.id)
    assert (row.disabled, row.role, row.quota_max_urls) == (False, Role.ADMIN.value, None)


def test_an_admin_manages_users_but_not_other_admins(rt, admin, user, make_user):
    accounts.update_user(rt, user, accounts.UserChanges(username="alicia"), actor=admin)
    assert fresh(User, user.id).username == "alicia"
    other = make_user("peer", role=Role.ADMIN)
    with pytest.raises(NotFound):
        accounts.update_user(rt, other, accounts.UserChanges(username="x"), actor=admin)
    with pytest.raises(NotFound):
        accounts.get_managed_user(admin, other.id)
    assert {u.id for u in accounts.list_users(admin)} == {admin.id, user.id}


@pytest.mark.parametrize("data,expected", [
    ({"filesType": "BY_BYTES", "maxBytes": "10mb"}, accounts.Quota("BY_BYTES", 10 * 1024 ** 2, "10mb")),
    ({"filesType": "BY_FILES", "maxFiles": 5, "maxUrls": 0}, accounts.Quota("BY_FILES", max_files=5)),
    ({"filesType": "BY_BYTES", "maxBytes": 0}, accounts.Quota()),  # zero bytes means no limit, as in Zipline
])
def test_quotas_are_parsed(data, expected):
    assert accounts.parse_quota(data) == expected


@pytest.mark.parametrize("data", [None, {"filesType": "BY_TIME"}, {"filesType": "BY_BYTES"},
                                  {"filesType": "BY_BYTES", "maxBytes": "lots"}, {"filesType": "BY_FILES"},
                                  {"filesType": "BY_FILES", "maxFiles": -1}, {"maxUrls": True},
                                  {"maxUrls": 2**40}])
def test_bad_quotas_are_refused(data):
    with pytest.raises(ValidationError):
        accounts.parse_quota(data)


@pytest.mark.parametrize("view", [{"embedTitle": "x" * 301}, {"embedColor": "red"}, {"embed": "yes"},
                                  {"embedTitle": "a\x00b"}, "not an object"])
def test_bad_view_settings_are_refused(rt, user, view):
    with pytest.raises(ValidationError):
        accounts.update_user(rt, user, accounts.UserChanges(view=view), actor=user)


def test_delete_removes_the_user_and_what_they_own(rt, admin, user, make_file, make_link):
    make_file(user)
    make_link(user)
    accounts.delete_user(rt, user, actor=admin)
    assert (count(User), count(File), count(Link)) == (1, 0, 0)


def test_nobody_deletes_themselves_or_someone_they_do_not_manage(rt, admin, make_user):
    with pytest.raises(Forbidden):
        accounts.delete_user(rt, admin, actor=admin)
    root = make_user("root", role=Role.SUPERADMIN)
    with pytest.raises(NotFound):
        accounts.delete_user(rt, root, actor=admin)
    assert count(User) == 2
