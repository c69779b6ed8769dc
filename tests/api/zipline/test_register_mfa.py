"""Registration (the whole flag matrix), invites (admin API, single use under concurrency) and TOTP."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest

from tests.conftest import Api, burst, count, fetch, fresh
from zipshort.models import Invite, Role, User
from zipshort.services import invites, mfa


def flags(registration: bool, invites_on: bool) -> dict:
    return {"features": {"user_registration": registration, "invites_enabled": invites_on},
            "ratelimit": {"register": ""}}


@pytest.fixture
def admin(make_user):
    return make_user("boss", role=Role.ADMIN)


@pytest.fixture
def admin_api(client, admin, make_key):
    return Api(client, make_key(admin, scopes=["admin", "links:read", "links:write", "files:read", "files:write"]))


# (registration, invites) × (no code, bad code, valid code) → expected (status, error or None)
MATRIX = [
    (False, False, "none", 403, "User registration is disabled"),
    (False, False, "valid", 403, "Invites aren't enabled"),
    (True, False, "none", 200, None),
    (True, False, "valid", 403, "Invites aren't enabled"),
    (False, True, "none", 403, "User registration is disabled"),
    (False, True, "bad", 400, "Invalid invite code"),
    (False, True, "used", 400, "Invalid invite code"),
    (False, True, "valid", 200, None),
    (True, True, "none", 403, "An invite code is required"),  # GHSA-j2cw-9fvc-wr4r: invites on ⇒ invite needed
    (True, True, "bad", 400, "Invalid invite code"),
    (True, True, "valid", 200, None),
]


@pytest.mark.parametrize("overrides,code,status,error",
                         [(flags(registration, invites_on), code, status, error)
                          for registration, invites_on, code, status, error in MATRIX])
def test_registration_matrix(client, rt, admin, overrides, code, status, error):
    body = {"username": "newbie", "password": "pw-123456"}
    if code in ("valid", "used"):
        invite = invites.create_invite(rt, admin, "never", 1)
        if code == "used":
            invites.redeem(invite.code)
            from zipshort.extensions import db
            db.session.commit()
        body["code"] = invite.code
    elif code == "bad":
        body["code"] = "nope1234"
    res = client.post("/api/auth/register", json=body)
    assert res.status_code == status, res.get_json()
    if error:
        assert res.get_json()["error"] == error
        assert count(User) == 1
    else:
        assert res.get_json()["user"]["role"] == "USER"
        assert client.get("/api/user").status_code == 200  # logged in
        assert count(User) == 2


def test_registration_validates_fields_and_spends_no_invite_on_failure(client, rt, admin, make_user):
    invite = invites.create_invite(rt, admin, "never", 1)
    make_user("taken")
    for body, status, message in [({"username": "", "password": "pw"}, 400, "Username is required"),
                                  ({"username": "ok", "password": ""}, 400, "Password is required"),
                                  ({"username": "Taken", "password": "pw-123456"}, 409, "Username is taken")]:
        res = client.post("/api/auth/register", json={**body, "code": invite.code})
        assert res.status_code == status and res.get_json()["error"] == message
    assert fresh(Invite, invite.id).uses == 0
    assert client.post("/api/auth/register", json={"username": "fine", "password": "pw-123456",
                                                     "code": invite.code}).status_code == 200
    assert fresh(Invite, invite.id).uses == 1


@pytest.mark.parametrize("overrides", [{"ratelimit": {"register": "2/minute"}}])
def test_register_is_rate_limited(client, rt, admin):
    codes = [client.post("/api/auth/register", json={"username": f"u{i}", "password": "x", "code": "bad12345"})
             .status_code for i in range(4)]
    assert codes == [400, 400, 429, 429]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{"ratelimit": {"register": ""}}])
def test_one_single_use_invite_redeemed_by_20_parallel_registrations_makes_one_user(app, rt, admin, live_server):
    invite = invites.create_invite(rt, admin, "never", 1)
    code = invite.code
    results = burst(20, lambda i: fetch("POST", live_server.url + "/api/auth/register",
                                        json={"username": f"racer{i}", "password": "pw-123456", "code": code}))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1 and statuses.count(400) == 19, statuses
    assert count(User) == 2 and fresh(Invite, invite.id).uses == 1


def test_invites_api_admin_only_crud_and_public_check(client, admin_api, api, rt):
    assert api.post("/api/auth/invites", json={}).status_code == 403
    res = admin_api.post("/api/auth/invites", json={"expiresAt": "1d", "maxUses": 3})
    assert res.status_code == 200
    body = res.get_json()
    assert set(body) >= {"id", "code", "createdAt", "expiresAt", "uses", "maxUses", "inviter"}
    assert len(body["code"]) == rt.settings.features.invites_length and body["maxUses"] == 3
    assert admin_api.post("/api/auth/invites", json={"expiresAt": "soon"}).status_code == 400
    assert admin_api.post("/api/auth/invites", json={"maxUses": 0}).status_code == 400
    assert [i["id"] for i in admin_api.get("/api/auth/invites").get_json()] == [body["id"]]
    assert admin_api.get(f"/api/auth/invites/{body['code']}").get_json()["id"] == body["id"]
    check = client.get(f"/api/auth/invites/web?code={body['code']}")
    assert check.status_code == 200 and check.get_json()["invite"]["maxUses"] == 3
    assert client.get("/api/auth/invites/web?code=wrong").status_code == 404
    assert admin_api.delete(f"/api/auth/invites/{body['id']}").status_code == 200
    assert admin_api.get(f"/api/auth/invites/{body['id']}").status_code == 404


def test_invite_page_redirects_to_register(client):
    res = client.get("/invite/abc123XY")
    assert res.status_code == 302 and res.headers["Location"].endswith("/auth/register?code=abc123XY")


def test_expired_and_used_up_invites_are_pruned(rt, admin):
    now = dt.datetime.now(dt.timezone.utc)
    keep = invites.create_invite(rt, admin, "never", 2)
    short = invites.create_invite(rt, admin, "1s", None, now=now - dt.timedelta(seconds=5))
    used = invites.create_invite(rt, admin, "never", 1)
    invites.redeem(used.code)
    from zipshort.extensions import db
    db.session.commit()
    assert invites.check_invite(short.code) is None
    assert invites.prune_invites() == 2
    assert count(Invite) == 1 and fresh(Invite, keep.id) is not None


def enrol(client, rt, user) -> str:
    """Turn TOTP on for the logged-in client; return the secret."""
    state = client.get("/api/user/mfa/totp").get_json()
    assert state["qrcode"].startswith("data:image/svg+xml")
    secret = state["secret"]
    code = pyotp.TOTP(secret).now()
    res = client.post("/api/user/mfa/totp", json={"secret": secret, "code": code})
    assert res.status_code == 200, res.get_json()
    return secret


def test_totp_enrol_login_replay_and_disable(client, app, rt, user):
    assert client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"}).status_code == 200
    assert client.post("/api/user/mfa/totp", json={"secret": mfa.new_secret(), "code": "000000"}).get_json()[
        "error"] == "Invalid code"
    assert client.post("/api/user/mfa/totp", json={"secret": mfa.new_secret()}).get_json()["error"] == "Missing code"
    secret = enrol(client, rt, user)
    assert fresh(User, user.id).totp_secret == secret
    other = app.test_client()
    step1 = other.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    assert step1.get_json() == {"totp": True} and other.get("/api/user").status_code == 401
    bad = other.post("/api/auth/login", json={"username": "alice", "password": "correct horse", "code": "123456"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "Invalid code"
    # The enrolment code's step is used; the next step's code logs in once, and only once.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(later)
    ok = other.post("/api/auth/login", json={"username": "alice", "password": "correct horse", "code": code})
    assert ok.status_code == 200 and other.get("/api/user").status_code == 200
    replay = app.test_client().post("/api/auth/login",
                                    json={"username": "alice", "password": "correct horse", "code": code})
    assert replay.status_code == 400
    assert client.get("/api/user/mfa/totp").get_json()["enabled"] is True
    user_row = fresh(User, user.id)
    assert client.delete("/api/user/mfa/totp", json={"code": "000000"}).status_code == 400
    mfa.disable(rt, user_row, pyotp.TOTP(secret).at(later + dt.timedelta(seconds=30)),
                now=later + dt.timedelta(seconds=30))
    assert fresh(User, user.id).totp_secret is None
    assert client.delete("/api/user/mfa/totp", json={"code": "000000"}).get_json()["error"] == \
        "You don't have TOTP enabled"


@pytest.mark.parametrize("overrides", [{"features": {"totp_enabled": False}}])
def test_totp_disabled_on_server(client, rt, user):
    client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    res = client.get("/api/user/mfa/totp")
    assert res.status_code == 403 and res.get_json()["error"] == "TOTP is disabled"


def test_transaction_moves_files_into_a_folder_and_out(api, user):
    import io

    ids = [api.post("/api/upload", data={"file": (io.BytesIO(b"x"), f"{i}.txt")},
                    content_type="multipart/form-data").get_json()["files"][0]["id"] for i in range(2)]
    folder = api.post("/api/user/folders", json={"name": "box"}).get_json()
    res = api.patch("/api/user/files/transaction", json={"files": ids, "folder": folder["id"]})
    assert res.status_code == 200 and res.get_json() == {"count": 2}
    from zipshort.models import File
    assert {fresh(File, i).folder_id for i in ids} == {folder["id"]}
    assert api.patch("/api/user/files/transaction", json={"files": ids, "folder": "nope"}).status_code == 404
    assert api.patch("/api/user/files/transaction", json={"files": ids, "folder": None}).get_json() == {"count": 2}
    assert {fresh(File, i).folder_id for i in ids} == {None}
