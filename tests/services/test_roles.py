"""The role rule: who manages whose things (in Python and as the SQL condition of listings)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from zipshort.extensions import db
from zipshort.models import Role, User
from zipshort.services import roles


@pytest.fixture
def people(make_user):
    return {role: make_user(role.value.lower(), role=role) for role in (Role.USER, Role.ADMIN, Role.SUPERADMIN)}


# actor → the roles whose things they manage besides their own
MANAGES = {Role.USER: set(), Role.ADMIN: {Role.USER}, Role.SUPERADMIN: {Role.USER, Role.ADMIN}}


@pytest.mark.parametrize("actor", list(MANAGES))
def test_each_role_manages_its_own_and_the_roles_below(people, actor):
    for role, owner in people.items():
        assert roles.can_manage(people[actor], owner) is (role == actor or role in MANAGES[actor]), role


def test_nobody_manages_another_superadmin(people, make_user):
    other = make_user("root2", role=Role.SUPERADMIN)
    assert not roles.can_manage(people[Role.SUPERADMIN], other)
    assert not roles.can_interact(people[Role.SUPERADMIN], other)


def test_a_thing_without_owner_belongs_to_superadmins_only(people):
    assert roles.can_manage(people[Role.SUPERADMIN], None)
    assert not roles.can_manage(people[Role.ADMIN], None) and not roles.can_manage(people[Role.USER], None)


@pytest.mark.parametrize("actor", list(MANAGES))
def test_the_sql_condition_selects_exactly_whom_can_manage_allows(people, make_user, actor):
    make_user("root2", role=Role.SUPERADMIN)
    everyone = db.session.scalars(sa.select(User)).all()
    expected = {u.id for u in everyone if roles.can_manage(people[actor], u)}
    selected = set(db.session.scalars(sa.select(User.id).where(roles.managed_by(people[actor], User.id))))
    assert selected == expected and people[actor].id in selected
