"""Invites: created by administrators, redeemed once per use by registration (race-safe)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import ColumnElement, delete, or_, select, update

from zipshort.codes import could_be_code
from zipshort.database import rowcount, write_transaction
from zipshort.dates import parse_expiry
from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import Invite, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services.roles import managed_by

INVITE_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INVALID_INVITE = "Invalid invite code"


def _require_admin(actor: User) -> None:
    if not actor.is_administrator:
        raise Forbidden("Forbidden", code="not_admin")


def create_invite(rt: Runtime, actor: User, expires: object = "never", max_uses: object = None,
                  now: dt.datetime | None = None) -> Invite:
    """A new invite by an administrator; ``expires`` uses the upload expiry grammar (``never``, ``7d``, ``date=``).

    Raises:
        Forbidden (not an administrator), ValidationError (bad expiry or max uses).
    """
    _require_admin(actor)
    now = now or utcnow()
    if expires is None or expires == "":
        expires = "never"
    if not isinstance(expires, str):
        raise ValidationError("expiresAt must be a string", field="expiresAt")
    try:
        expires_at = parse_expiry(expires, now, "expiresAt")
    except ValidationError as exc:
        raise exc.with_message(f"expiresAt: {exc.message}") from None
    limit: int | None = None
    if max_uses not in (None, ""):
        try:
            limit = int(max_uses)  # type: ignore[call-overload]  # any JSON value: int() refuses the wrong ones
        except (TypeError, ValueError):
            raise ValidationError("maxUses must be a whole number", field="maxUses") from None
        if not 1 <= limit <= 1_000_000:
            raise ValidationError("maxUses must be between 1 and 1000000", field="maxUses")
    length = max(6, rt.settings.features.invites_length)
    with write_transaction(db.session):
        invite = Invite(id=new_id(), code="".join(secrets.choice(INVITE_ALPHABET) for _ in range(length)),
                        created_by_id=actor.id, uses=0, max_uses=limit, expires_at=expires_at)
        db.session.add(invite)
    return invite


def list_invites(actor: User) -> list[Invite]:
    """The invites ``actor`` manages (``accounts.can_manage`` of their creator), newest first (administrators only)."""
    _require_admin(actor)
    return list(db.session.scalars(select(Invite).where(managed_by(actor, Invite.created_by_id))
                                   .order_by(Invite.created_at.desc(), Invite.id.desc())))


def get_invite(actor: User, ident: str) -> Invite:
    """One invite ``actor`` manages, by id or code (administrators only), or NotFound."""
    _require_admin(actor)
    invite = None
    if isinstance(ident, str) and could_be_code(ident):
        invite = db.session.scalar(select(Invite).where(or_(Invite.id == ident, Invite.code == ident),
                                                        managed_by(actor, Invite.created_by_id)))
    if invite is None:
        raise NotFound("Invite not found", code="invite_not_found")
    return invite


def delete_invite(actor: User, ident: str) -> Invite:
    """Delete one invite (administrators only)."""
    invite = get_invite(actor, ident)
    with write_transaction(db.session):
        db.session.execute(delete(Invite).where(Invite.id == invite.id))
    return invite


def _usable(now: dt.datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (or_(Invite.expires_at.is_(None), Invite.expires_at > now),
            or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses))


def check_invite(code: object, now: dt.datetime | None = None) -> Invite | None:
    """The usable invite with this code or id, or None (for the register page's hint)."""
    if not isinstance(code, str) or not could_be_code(code):
        return None
    return db.session.scalar(select(Invite).where(or_(Invite.code == code, Invite.id == code),
                                                  *_usable(now or utcnow())))


def redeem(code: object, now: dt.datetime | None = None) -> None:
    """Use the invite once, inside the caller's write transaction: one conditional UPDATE, so parallel
    registrations can never use it more often than ``max_uses``.

    Raises:
        ValidationError: no such invite, expired or used up.
    """
    if not isinstance(code, str) or not code or not could_be_code(code):
        raise ValidationError(INVALID_INVITE, code="invalid_invite", field="code")
    result = db.session.execute(update(Invite).where(or_(Invite.code == code, Invite.id == code),
                                                     *_usable(now or utcnow()))
                                .values(uses=Invite.uses + 1).execution_options(synchronize_session=False))
    if rowcount(result) != 1:
        raise ValidationError(INVALID_INVITE, code="invalid_invite", field="code")


def prune_invites(now: dt.datetime | None = None) -> int:
    """Delete expired and used-up invites (Zipline's clearinvites task); how many went."""
    now = now or utcnow()
    with write_transaction(db.session):
        result = db.session.execute(delete(Invite).where(or_(
            Invite.expires_at <= now, Invite.uses >= Invite.max_uses)).execution_options(synchronize_session=False))
    return rowcount(result)
