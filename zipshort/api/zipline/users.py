"""Zipline's admin user API: /api/users and /api/users/<id>, quotas included."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import UserCreate, UserEdit, ZiplineUser, user_json
from zipshort.auth import require_user
from zipshort.errors import Conflict, Forbidden, ValidationError
from zipshort.http import runtime
from zipshort.models import Role
from zipshort.services import accounts


def _role(value: Any, message: str = "Invalid role (USER, ADMIN)") -> Role | None:
    if value is None:
        return None
    if value not in (Role.USER.value, Role.ADMIN.value, Role.SUPERADMIN.value):
        raise ValidationError(message, code="invalid_role", field="role")
    return Role(value)


def _target(user_id: str):
    """The user, when the caller may manage them (accounts.can_manage); 404 otherwise, as if absent."""
    return accounts.get_managed_user(g.user, user_id)


class UsersQuery(Open):
    noincl: str | None = Field(None, description="true: leave yourself out")


@bp.get("/users")
@documented("List the users you manage", query=UsersQuery, responses={200: list[ZiplineUser]})
@require_user(admin=True)
def list_users():
    exclude = g.user if request.args.get("noincl") == "true" else None
    return jsonify([user_json(u) for u in accounts.list_users(g.user, exclude)])


@bp.post("/users")
@documented("Create a user", body=UserCreate, responses={200: ZiplineUser})
@require_user(admin=True)
def create_user():
    body = json_body()
    role = _role(body.get("role")) or Role.USER
    if role == Role.SUPERADMIN:
        raise ValidationError("Invalid role (USER, ADMIN)", code="invalid_role", field="role")
    quota = accounts.parse_quota(body["quota"]) if body.get("quota") is not None else None  # before anything is written
    try:
        user = accounts.create_user(runtime(), body.get("username"), body.get("password"), role, actor=g.user)
    except Conflict as exc:
        raise exc.with_message("Username is taken", 400) from None
    if quota is not None:
        user = accounts.update_user(runtime(), user, accounts.UserChanges(quota=quota), actor=g.user)
    return jsonify(user_json(user))


@bp.get("/users/<user_id>")
@documented("Get a user", responses={200: ZiplineUser})
@require_user(admin=True)
def get_user(user_id: str):
    return jsonify(user_json(_target(user_id)))


@bp.patch("/users/<user_id>")
@documented("Edit a user", body=UserEdit, responses={200: ZiplineUser})
@require_user(admin=True)
def update_user(user_id: str):
    body = json_body()
    target = _target(user_id)
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise ValidationError("disabled must be a boolean", field="disabled")
    for key in ("username", "password", "avatar"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ValidationError(f"{key} must be a string", field=key)
    changes = accounts.UserChanges(
        username=body.get("username"),
        password=body.get("password") or None,
        role=_role(body.get("role"), "Invalid role (USER, ADMIN, SUPERADMIN)"),
        quota=accounts.parse_quota(body["quota"]) if body.get("quota") is not None else None,
        disabled=disabled,
        avatar=body.get("avatar"),
    )
    if changes.role == Role.SUPERADMIN:
        raise Forbidden("You cannot assign this role", code="role_forbidden")
    try:
        return jsonify(user_json(accounts.update_user(runtime(), target, changes, actor=g.user)))
    except Conflict as exc:
        raise exc.with_message("Username already exists", 400) from None


@bp.delete("/users/<user_id>")
@documented("Delete a user", responses={200: ZiplineUser})
@require_user(admin=True)
def delete_user(user_id: str):
    target = _target(user_id)
    data = user_json(target)
    accounts.delete_user(runtime(), target, actor=g.user)
    return jsonify(data)
