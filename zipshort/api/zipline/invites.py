"""Zipline's invite API: administrators create, list and delete invites; anyone may check a code."""

from __future__ import annotations

from flask import g, jsonify, request

from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import iso
from zipshort.auth import public_route, require_user
from zipshort.errors import NotFound
from zipshort.http import runtime
from zipshort.models import Invite
from zipshort.services import invites


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
@require_user(admin=True)
def create_invite():
    body = json_body()
    invite = invites.create_invite(runtime(), g.user, body.get("expiresAt", "never"), body.get("maxUses"))
    return jsonify(invite_json(invite))


@bp.get("/auth/invites")
@require_user(admin=True)
def list_invites():
    return jsonify([invite_json(i) for i in invites.list_invites(g.user)])


@bp.get("/auth/invites/<ident>")
@require_user(admin=True)
def get_invite(ident: str):
    return jsonify(invite_json(invites.get_invite(g.user, ident)))


@bp.delete("/auth/invites/<ident>")
@require_user(admin=True)
def delete_invite(ident: str):
    return jsonify(invite_json(invites.delete_invite(g.user, ident)))


@bp.get("/auth/invites/web")
@public_route("checks an invite code")
def check_invite():
    if not runtime().settings.features.invites_enabled:
        raise NotFound("Invites aren't enabled", code="invites_disabled")
    invite = invites.check_invite(request.args.get("code"))
    if invite is None:
        raise NotFound("Invalid invite code", code="invalid_invite")
    return jsonify({"invite": {"code": invite.code, "expiresAt": iso(invite.expires_at) if invite.expires_at
                               else None, "maxUses": invite.max_uses, "uses": invite.uses}})
