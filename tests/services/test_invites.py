"""Invites: administrators create them; each use is one conditional UPDATE; expiry and max uses hold."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import count, fresh
from zipshort.database import write_transaction
from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import Invite, Role
from zipshort.services import invites


@pytest.fixture
def admin(make_user):
    return make_user("boss", role=Role.ADMIN)


def redeem(code, now=None) -> None:
    with write_transaction(db.session):
        invites.redeem(code, now)


def test_an_admin_creates_lists_finds_and_deletes(rt, admin):
    invite = invites.create_invite(rt, admin, "never", 2)
    assert len(invite.code) >= 6 and invite.max_uses == 2 and invite.expires_at is None
    assert [i.id for i in invites.list_invites(admin)] == [invite.id]
    assert invites.get_invite(admin, invite.code).id == invites.get_invite(admin, invite.id).id == invite.id
    invites.delete_invite(admin, invite.id)
    assert count(Invite) == 0


def test_a_plain_user_may_not_create_or_list(rt, user):
    with pytest.raises(Forbidden):
        invites.create_invite(rt, user)
    with pytest.raises(Forbidden):
        invites.list_invites(user)
    assert count(Invite) == 0


def test_an_admin_does_not_see_a_superadmins_invites(rt, admin, make_user):
    root = make_user("root", role=Role.SUPERADMIN)
    theirs = invites.create_invite(rt, root)
    assert invites.list_invites(admin) == []
    with pytest.raises(NotFound):
        invites.delete_invite(admin, theirs.id)
    assert [i.id for i in invites.list_invites(root)] == [theirs.id]


@pytest.mark.parametrize("expires,max_uses", [("tomorrow", None), (5, None), ("never", 0), ("never", "many"),
                                              ("never", 1_000_001)])
def test_bad_expiry_or_uses_are_refused(rt, admin, expires, max_uses):
    with pytest.raises(ValidationError):
        invites.create_invite(rt, admin, expires, max_uses)
    assert count(Invite) == 0


def test_uses_stop_at_max_uses(rt, admin):
    invite = invites.create_invite(rt, admin, "never", 2)
    redeem(invite.code)
    redeem(invite.id)  # the id works as well as the code
    with pytest.raises(ValidationError, match="Invalid invite code"):
        redeem(invite.code)
    assert fresh(Invite, invite.id).uses == 2 and invites.check_invite(invite.code) is None


def test_an_invite_expires(rt, admin, clock):
    invite = invites.create_invite(rt, admin, "1h", None, now=clock.now())
    clock.advance(3599)
    assert invites.check_invite(invite.code, now=clock.now()).id == invite.id
    clock.advance(1)
    assert invites.check_invite(invite.code, now=clock.now()) is None
    with pytest.raises(ValidationError):
        redeem(invite.code, now=clock.now())
    assert fresh(Invite, invite.id).uses == 0


def test_prune_removes_expired_and_used_up_invites_only(rt, admin, clock):
    keep = invites.create_invite(rt, admin, "never", 5, now=clock.now())
    expired = invites.create_invite(rt, admin, "1h", None, now=clock.now())
    used = invites.create_invite(rt, admin, "never", 1, now=clock.now())
    redeem(used.code)
    clock.advance(dt.timedelta(hours=2).total_seconds())
    assert invites.prune_invites(now=clock.now()) == 2
    assert [i.id for i in invites.list_invites(admin)] == [keep.id] and expired.id != keep.id
