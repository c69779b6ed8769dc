"""Zipline admin user API: who may act on whom, quotas with Zipline's texts."""

from __future__ import annotations

import pytest

from tests.conftest import Api, count, fresh
from zipshort.models import Role, User


@pytest.fixture
def superadmin(make_user):
    return make_user("root", role=Role.SUPERADMIN)


@pytest.fixture
def admin(make_user):
    return make_user("boss", role=Role.ADMIN)


@pytest.fixture
def as_super(client, superadmin, make_key):
    return Api(client, make_key(superadmin, scopes=["admin", "links:read"]))


@pytest.fixture
def as_admin(client, admin, make_key):
    return Api(client, make_key(admin, scopes=["admin"]))


def test_list_users_needs_an_administrator(api):
    assert api.get("/api/users").status_code == 403


def test_list_users_needs_the_admin_scope_on_a_key(client, admin, make_key):
    assert Api(client, make_key(admin, scopes=["links:read"])).get("/api/users").status_code == 403


def test_list_users_noincl_leaves_out_the_caller(as_super, superadmin, user):
    everyone = {u["username"] for u in as_super.get("/api/users").get_json()}
    others = {u["username"] for u in as_super.get("/api/users?noincl=true").get_json()}
    assert everyone == {"root", "alice"} and others == {"alice"}


def test_create_user_as_admin(as_admin):
    res = as_admin.post("/api/users", json={"username": "carol", "password": "pw-123456"})
    assert res.status_code == 200 and res.get_json()["role"] == "USER"


def test_create_admin_as_admin_is_refused(as_admin):
    res = as_admin.post("/api/users", json={"username": "carol", "password": "pw-123456", "role": "ADMIN"})
    assert res.status_code == 403 and res.get_json()["error"] == "You cannot create this role"


def test_create_admin_as_superadmin(as_super):
    res = as_super.post("/api/users", json={"username": "carol", "password": "pw-123456", "role": "ADMIN"})
    assert res.get_json()["role"] == "ADMIN"


@pytest.mark.parametrize("role", ["SUPERADMIN", "ROOT", 1])
def test_create_user_with_invalid_role_is_400(as_super, role):
    res = as_super.post("/api/users", json={"username": "carol", "password": "pw-123456", "role": role})
    assert res.status_code == 400 and res.get_json()["error"] == "Invalid role (USER, ADMIN)"


def test_create_user_taken_username_is_refused(as_super, user):
    res = as_super.post("/api/users", json={"username": "ALICE", "password": "pw-123456"})
    assert res.status_code == 400 and res.get_json()["error"] == "Username is taken" and count(User) == 2


@pytest.mark.parametrize("username", ["", "a b", "x" * 65, "../x", None])
def test_create_user_bad_username_is_400(as_super, username):
    assert as_super.post("/api/users", json={"username": username, "password": "pw"}).status_code == 400


def test_admin_cannot_edit_another_admin(as_admin, make_user):
    other = make_user("peer", role=Role.ADMIN)  # 404: users an admin may not manage are out of sight (roles.py)
    assert as_admin.patch(f"/api/users/{other.id}", json={"username": "x"}).status_code == 404


def test_admin_cannot_delete_superadmin(as_admin, superadmin):
    assert as_admin.delete(f"/api/users/{superadmin.id}").status_code == 404
    assert fresh(User, superadmin.id) is not None


def test_delete_yourself_is_refused(as_super, superadmin):
    res = as_super.delete(f"/api/users/{superadmin.id}")
    assert res.status_code == 403 and res.get_json()["error"] == "You cannot delete yourself"


def test_delete_user_removes_their_links(as_super, user, make_link):
    from zipshort.models import Link

    make_link(user)
    assert as_super.delete(f"/api/users/{user.id}").status_code == 200
    assert fresh(User, user.id) is None and count(Link) == 0


def test_get_unknown_user_is_404(as_super):
    assert as_super.get("/api/users/nope").status_code == 404


def test_patch_quota_by_bytes_keeps_zipline_shape(as_super, user):
    res = as_super.patch(f"/api/users/{user.id}", json={"quota": {"filesType": "BY_BYTES", "maxBytes": "10gb",
                                                                   "maxUrls": 5}})
    quota = res.get_json()["quota"]
    assert (quota["filesQuota"], quota["maxBytes"], quota["maxUrls"], quota["maxFiles"]) == \
        ("BY_BYTES", "10gb", 5, None)
    assert fresh(User, user.id).quota_max_bytes == 10 * 1024 ** 3


@pytest.mark.parametrize("quota,message", [
    ({"filesType": "ALL"}, "Invalid filesType (BY_BYTES, BY_FILES, NONE)"),
    ({"filesType": "BY_BYTES"}, "maxBytes is required"),
    ({"filesType": "BY_FILES"}, "maxFiles is required"),
    ({"filesType": "BY_FILES", "maxFiles": "many"}, "Invalid maxFiles"),
    ({"filesType": "NONE", "maxUrls": "lots"}, "Invalid maxUrls"),
])
def test_patch_quota_errors_use_zipline_texts(as_super, user, quota, message):
    res = as_super.patch(f"/api/users/{user.id}", json={"quota": quota})
    assert res.status_code == 400 and res.get_json()["error"] == message


def test_patch_quota_max_urls_zero_clears_the_limit(as_super, user):
    as_super.patch(f"/api/users/{user.id}", json={"quota": {"filesType": "NONE", "maxUrls": 3}})
    res = as_super.patch(f"/api/users/{user.id}", json={"quota": {"filesType": "NONE", "maxUrls": 0}})
    assert res.get_json()["quota"] is None


def test_quota_set_by_admin_applies_to_the_user(as_super, user, client, make_key):
    as_super.patch(f"/api/users/{user.id}", json={"quota": {"filesType": "NONE", "maxUrls": 1}})
    mine = Api(client, make_key(user))
    assert mine.post("/api/user/urls", json={"destination": "https://e.com/"}).status_code == 200
    assert mine.post("/api/user/urls", json={"destination": "https://e.com/"}).status_code == 403


def test_patch_role_to_superadmin_is_refused(as_super, user):
    assert as_super.patch(f"/api/users/{user.id}", json={"role": "SUPERADMIN"}).status_code == 403


def test_patch_disable_blocks_the_user_at_once(as_super, client, user, make_key):
    key = make_key(user)
    assert as_super.patch(f"/api/users/{user.id}", json={"disabled": True}).get_json()["disabled"] is True
    assert Api(client, key).get("/api/user").status_code == 401


def test_demoted_admin_key_loses_admin_routes(as_super, client, admin, make_key):
    key = make_key(admin, scopes=["admin"])
    assert Api(client, key).get("/api/users").status_code == 200
    as_super.patch(f"/api/users/{admin.id}", json={"role": "USER"})
    assert Api(client, key).get("/api/users").status_code == 403
