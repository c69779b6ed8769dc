"""Zipline's auth and self-service API: login, logout, setup, /api/user, the token, API keys."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import Credentials, LoginAnswer, UserAnswer, ZiplineUser, iso, user_json
from zipshort.auth import (
    actor,
    begin_browser_session,
    browser_session_id,
    client_address,
    end_browser_session,
    public_route,
    require_user,
)
from zipshort.dates import parse_datetime
from zipshort.errors import Conflict, Forbidden, ValidationError
from zipshort.http import runtime
from zipshort.services import accounts, apikeys, mfa, sessions


class TotpState(Open):
    """A new secret and its QR code, or ``enabled`` with no secret once TOTP is on."""

    secret: str | None
    qrcode: str | None = None
    enabled: bool | None = None


class TotpInput(Open):
    secret: str | None = None
    code: str


class TotpAnswer(Open):
    user: ZiplineUser
    enabled: bool


class LoggedOut(Open):
    loggedOut: bool


class SessionObject(Open):
    id: str
    current: bool
    createdAt: str | None
    lastSeenAt: str | None
    expiresAt: str | None
    userAgent: str | None


class SessionList(Open):
    current: SessionObject | None
    other: list[SessionObject]


class SessionsToEnd(Open):
    all: bool | None = Field(None, description="true: every session but this one")
    sessionId: str | None = None


class Ended(Open):
    ended: int


class FirstSetup(Open):
    firstSetup: bool
    user: ZiplineUser | None = None


class SelfEdit(Open):
    username: str | None = None
    password: str | None = None
    view: dict[str, Any] | None = None


class TokenAnswer(Open):
    """The Zipline token (a key holding every scope); a reset also sends the user."""

    token: str
    user: ZiplineUser | None = None


@bp.post("/auth/login")
@documented("Log in (a session cookie)", body=Credentials, responses={200: LoginAnswer})
@public_route("username and password (and TOTP code); rate limited")
def login():
    if request.mimetype != "application/json":
        raise ValidationError("Request body must be JSON", code="invalid_body")
    body = json_body()
    rt = runtime()
    user = accounts.authenticate(rt, body.get("username"), body.get("password"), client_address())
    method = "password"
    if accounts.needs_second_factor(rt, user):
        code = body.get("code")
        if code in (None, ""):
            return jsonify({"totp": True})
        mfa.check_login_code(rt, user, code)
        method = "totp"
    begin_browser_session(user, method)  # a fresh session (no fixation)
    return jsonify({"user": user_json(user)})


@bp.post("/auth/register")
@documented("Register (a session cookie)", body=Credentials, responses={200: UserAnswer})
@public_route("open registration or an invite code; rate limited")
def register():
    body = json_body()
    user = accounts.register(runtime(), body.get("username"), body.get("password"), body.get("code"),
                             client_address())
    begin_browser_session(user, "registration")
    return jsonify({"user": user_json(user)})


@bp.get("/user/mfa/totp")
@documented("TOTP: a new secret, or whether it is on", responses={200: TotpState})
@require_user("account", person=True)
def totp_state():
    rt = runtime()
    mfa.require_enabled(rt)
    if g.user.totp_secret:
        return jsonify({"secret": None, "enabled": True})
    secret = mfa.new_secret()
    return jsonify({"secret": secret, "qrcode": mfa.qr_svg_data_url(mfa.provisioning_uri(rt, g.user, secret))})


@bp.post("/user/mfa/totp")
@documented("Switch TOTP on", body=TotpInput, responses={200: TotpAnswer})
@require_user("account", person=True)
def totp_enable():
    body = json_body()
    mfa.enable(runtime(), g.user, body.get("secret"), body.get("code"))
    return jsonify({"user": user_json(g.user), "enabled": True})


@bp.delete("/user/mfa/totp")
@documented("Switch TOTP off", body=TotpInput, responses={200: TotpAnswer})
@require_user("account", person=True)
def totp_disable():
    body = json_body()
    mfa.disable(runtime(), g.user, body.get("code"))
    return jsonify({"user": user_json(g.user), "enabled": False})


@bp.get("/auth/logout")
@documented("Log out (ends this browser session)", responses={200: LoggedOut})
@require_user(note="a cross-site request logs nobody out")
def logout():
    # Zipline logs out on a GET; a link or image on another site must not be able to do it.
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise Forbidden("Cross-site logout refused", code="csrf_failed")
    end_browser_session()
    return jsonify({"loggedOut": True})


def session_json(row, current_id: str | None) -> dict:
    """A browser session as JSON (never its secret)."""
    return {"id": row.id, "current": row.id == current_id, "createdAt": iso(row.created_at),
            "lastSeenAt": iso(row.last_seen_at), "expiresAt": iso(row.expires_at), "userAgent": row.user_agent}


@bp.get("/user/sessions")
@documented("Your browser sessions", responses={200: SessionList})
@require_user("account", person=True)
def list_sessions():
    current = browser_session_id()
    rows = sessions.list_sessions(g.user)
    return jsonify({"current": next((session_json(r, current) for r in rows if r.id == current), None),
                    "other": [session_json(r, current) for r in rows if r.id != current]})


@bp.delete("/user/sessions")
@documented("End browser sessions", body=SessionsToEnd, responses={200: Ended})
@require_user("account", person=True)
def revoke_sessions():
    body = json_body()
    current = browser_session_id()
    if body.get("all") is True:
        ended = sessions.end_all_sessions(runtime(), g.user, keep_id=current)
        return jsonify({"ended": ended})
    sessions.revoke_session(runtime(), g.user, body.get("sessionId"), current)
    return jsonify({"ended": 1})


@bp.get("/setup")
@documented("Whether the first user may still be made", responses={200: FirstSetup})
@public_route("only until the first user exists")
def setup_state():
    if accounts.count_users():
        raise Forbidden("Setup has already been completed", code="setup_done")
    return jsonify({"firstSetup": True})


@bp.post("/setup")
@documented("Make the first user (a SUPERADMIN)", body=Credentials, responses={200: FirstSetup})
@public_route("only until the first user exists")
def setup():
    if accounts.count_users():
        raise Forbidden("Setup has already been completed", code="setup_done")
    body = json_body()
    user = accounts.setup_first_user(runtime(), body.get("username"), body.get("password"))
    begin_browser_session(user, "setup")
    return jsonify({"firstSetup": False, "user": user_json(user)})


@bp.get("/user")
@documented("You", responses={200: UserAnswer})
@require_user()
def get_self():
    return jsonify({"user": user_json(g.user)})


@bp.patch("/user")
@documented("Change your username, password or view", body=SelfEdit, responses={200: UserAnswer})
@require_user("account", person=True)
def update_self():
    body = json_body()
    changes = accounts.UserChanges(
        username=_optional_str(body, "username"),
        password=_optional_str(body, "password"),
        view=body.get("view"),
    )
    try:
        user = accounts.update_user(runtime(), g.user, changes, actor=g.user)
    except Conflict as exc:
        raise exc.with_message("Username already exists", 400) from None
    if changes.password is not None and g.api_key is None:
        begin_browser_session(user)  # this session survives its own password change; every other one ends
    return jsonify({"user": user_json(user)})


def _optional_str(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string", field=key)
    return value


@bp.get("/user/token")
@documented("Your Zipline token", responses={200: TokenAnswer})
@require_user("account", person=True)
def get_token():
    return jsonify({"token": apikeys.get_token(runtime(), g.user)})


@bp.patch("/user/token")
@documented("Reset your Zipline token", responses={200: TokenAnswer})
@require_user("account", person=True)
def reset_token():
    token = apikeys.rotate_token(runtime(), g.user)
    return jsonify({"user": user_json(g.user), "token": token})


class ApiKeyObject(Open):
    """``key_json``: ``key`` (the plaintext) only in the answer that created it."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    bot: bool
    authoredOnly: bool
    domain: str | None
    createdAt: str | None
    expiresAt: str | None
    lastUsedAt: str | None
    revokedAt: str | None
    key: str | None = None


class ApiKeyCreate(Open):
    name: str | None = None
    scopes: list[str] | None = None
    expiresAt: str | None = None
    bot: bool | None = None
    authoredOnly: bool | None = None
    domain: str | None = None


def key_json(key, plaintext: str | None = None) -> dict:
    """An API key as JSON; the plaintext only at creation."""
    data = {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes.split(),
        "bot": key.bot,
        "authoredOnly": key.authored_only,
        "domain": key.domain,
        "createdAt": iso(key.created_at),
        "expiresAt": iso(key.expires_at),
        "lastUsedAt": iso(key.last_used_at),
        "revokedAt": iso(key.revoked_at),
    }
    if plaintext is not None:
        data["key"] = plaintext
    return data


@bp.get("/user/keys")
@documented("List your API keys", responses={200: list[ApiKeyObject]})
@require_user("keys:read", person=True)
def list_keys():
    return jsonify([key_json(k) for k in apikeys.list_keys(g.user)])


@bp.post("/user/keys")
@documented("Mint an API key (shown once)", body=ApiKeyCreate, responses={201: ApiKeyObject})
@require_user("keys:write", person=True)
def create_key():
    body = json_body()
    expires_at = parse_datetime(body.get("expiresAt"), "expiresAt")
    bot = body.get("bot", False)
    if not isinstance(bot, bool):
        raise ValidationError("bot must be a boolean", field="bot")
    key, plaintext = apikeys.create_key(runtime(), actor(), g.user, name=body.get("name"), scopes=body.get("scopes"),
                                        expires_at=expires_at, bot=bot, authored_only=body.get("authoredOnly", False),
                                        domain=body.get("domain"), request_host=request.host)
    return jsonify(key_json(key, plaintext)), 201


@bp.delete("/user/keys/<key_id>")
@documented("Revoke an API key", responses={200: ApiKeyObject})
@require_user("keys:write", person=True)
def revoke_key(key_id: str):
    return jsonify(key_json(apikeys.revoke_key(runtime(), actor(), g.user, key_id)))
