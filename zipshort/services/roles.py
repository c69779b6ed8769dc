"""Who may act on whose things: the one role rule behind every administrative action.

Everyone manages their own things; an ADMIN also USERs', a SUPERADMIN also USERs' and ADMINs' (Zipline's
``canInteract``/``canManage``); nobody another SUPERADMIN's. Callers answer 404 for a thing the actor may not
manage, exactly as for one that does not exist, and leave it out of listings (no existence oracle).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select

from zipshort.models import Role, User

# Whose things each role manages besides its own (Zipline's interactableRoles): the one table behind
# can_manage and managed_by, so the Python and the SQL form of the rule cannot drift apart.
_MANAGES = {Role.SUPERADMIN.value: (Role.USER.value, Role.ADMIN.value), Role.ADMIN.value: (Role.USER.value,)}


def can_interact(actor: User, target: User) -> bool:
    """Zipline's canInteract: SUPERADMIN acts on USER and ADMIN, ADMIN on USER, nobody else on anyone."""
    return target.role in _MANAGES.get(actor.role, ())


def can_manage(actor: User, owner: User | None) -> bool:
    """THE rule for acting on someone's thing (their account, quota, files, links, folders, invites, domains).

    ``owner`` None is a thing whose owner is gone (an invite of a deleted administrator): SUPERADMINs' only.
    """
    if owner is None:
        return actor.role == Role.SUPERADMIN.value
    return actor.id == owner.id or can_interact(actor, owner)


def managed_by(actor: User, owner_id: Any) -> ColumnElement[bool]:
    """:func:`can_manage` as a SQL condition on an owner-id column, for listings and lookups."""
    cond = [owner_id == actor.id]
    roles = _MANAGES.get(actor.role, ())
    if roles:
        cond.append(owner_id.in_(select(User.id).where(User.role.in_(roles))))
    if actor.role == Role.SUPERADMIN.value:
        cond.append(owner_id.is_(None))
    return or_(*cond)
