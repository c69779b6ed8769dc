"""Zipline's invite API: administrators create, list and delete invites; anyone may check a code."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import iso
from zipshort.auth import public_route, require_user
from zipshort.errors import NotFound
from zipshort.http import runtime
from zipshort.models import Invite
from zipshort.services import invites


class InviteObject(Open):
    """``invite_json``."""

    id: str
    code: str
    expiresAt: str | None
    uses: int
    maxUses: int | None
    inviterId: str | None
    inviter: dict[str, Any] | None


class InviteCreate(Open):
    expiresAt: str | None = Field(None, description="a duration like 7d, or never")
    maxUses: int | None = None


class InviteCheck(Open):
    code: str


class CheckedInvite(Open):
    invite: dict[str, Any]


def invite_json(invite: Invite) -> dict:
    """Zipline's Invite object (``inviter`` is the creating user's id and name)."""
    creator = invite.created_by
    return {
        "id": invite.id,
        "code": invite.code,
        "createdAt": iso(invite.created_at),
        "updatedAt": iso(invite.updated_at),
        "expiresAt": iso(invite.expires_at) if invite.expires_at else None,
        "uses": invite.uses,
        "maxUses": invite.max_uses,
        "inviterId": invite.created_by_id,
        "inviter": {"id": creator.id, "username": creator.username, "role": creator.role} if creator else None,
    }


@bp.post("/auth/invites")
@documented("Create an invite", body=InviteCreate, responses={200: InviteObject})
@require_user(admin=True)
def create_invite():
    body = json_body()
    invite = invites.create_invite(runtime(), g.user, body.get("expiresAt", "never"), body.get("maxUses"))
    return jsonify(invite_json(invite))


@bp.get("/auth/invites")
@documented("List invites", responses={200: list[InviteObject]})
@require_user(admin=True)
def list_invites():
    return jsonify([invite_json(i) for i in invites.list_invites(g.user)])


@bp.get("/auth/invites/<ident>")
@documented("Get an invite", responses={200: InviteObject})
@require_user(admin=True)
def get_invite(ident: str):
    return jsonify(invite_json(invites.get_invite(g.user, ident)))


@bp.delete("/auth/invites/<ident>")
@documented("Delete an invite", responses={200: InviteObject})
@require_user(admin=True)
def delete_invite(ident: str):
    return jsonify(invite_json(invites.delete_invite(g.user, ident)))


@bp.get("/auth/invites/web")
@documented("Check an invite code", query=InviteCheck, responses={200: CheckedInvite})
@public_route("checks an invite code")
def check_invite():
    if not runtime().settings.features.invites_enabled:
        raise NotFound("Invites aren't enabled", code="invites_disabled")
    invite = invites.check_invite(request.args.get("code"))
    if invite is None:
        raise NotFound("Invalid invite code", code="invalid_invite")
    return jsonify({"invite": {"code": invite.code, "expiresAt": iso(invite.expires_at) if invite.expires_at
                               else None, "maxUses": invite.max_uses, "uses": invite.uses}})
