"""The key door: apikeys.create_key / revoke_key hold every rule about who may mint or revoke which key."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import count
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.models import ApiKey, Role, utcnow
from zipshort.models.apikey import DEFAULT_SCOPES, SCOPES
from zipshort.services import apikeys

Actor = apikeys.Actor
WORKSPACE = " ".join(DEFAULT_SCOPES)


def key_row(plaintext: str) -> ApiKey:
    row = apikeys.authenticate_key(plaintext)
    assert row is not None
    return row


def test_no_scopes_means_the_default_set(rt, user):
    row, plaintext = apikeys.create_key(rt, Actor.of(user), user, name="ci")
    assert row.scopes == WORKSPACE and row.user_id == user.id and key_row(plaintext).id == row.id
    assert "admin" not in row.scopes and "account" not in row.scopes and "keys:write" not in row.scopes


def test_aliases_expand_and_scopes_come_back_in_canonical_order(rt, user):
    row, _ = apikeys.create_key(rt, Actor.of(user), user, name="ci", scopes="stats, shortLinks:read")
    assert row.scopes == "links:read stats:read"


@pytest.mark.parametrize("scopes", [["root"], ["links:delete"], "everything", [1], {"links:read": True}])
def test_unknown_scopes_are_refused(rt, user, scopes):
    with pytest.raises(ValidationError) as err:
        apikeys.create_key(rt, Actor.of(user), user, name="ci", scopes=scopes)
    assert err.value.field == "scopes" and count(ApiKey) == 0


def test_a_plain_user_session_cannot_mint_an_admin_key(rt, user):
    with pytest.raises(Forbidden) as err:
        apikeys.create_key(rt, Actor.of(user), user, name="x", scopes=["admin"])
    assert err.value.code == "missing_scope" and count(ApiKey) == 0


def test_an_administrator_session_can(rt, make_user):
    boss = make_user("boss", role=Role.ADMIN)
    row, _ = apikeys.create_key(rt, Actor.of(boss), boss, name="x", scopes=["admin", "links:read"])
    assert row.scopes == "links:read admin"


def test_nobody_gives_a_plain_user_the_admin_scope_not_even_the_console(rt, user):
    with pytest.raises(Forbidden, match="Only administrators"):
        apikeys.create_key(rt, Actor.console(), user, name="x", scopes=["admin"])
    assert count(ApiKey) == 0


def test_a_key_mints_only_scopes_it_holds(rt, user, make_key):
    narrow = Actor.of(user, key_row(make_key(user, scopes=["links:read", "keys:write"])))
    with pytest.raises(Forbidden, match="more scopes") as err:
        apikeys.create_key(rt, narrow, user, name="x", scopes=["links:read", "links:write"])
    assert "links:write" in err.value.message and err.value.code == "missing_scope"
    with pytest.raises(Forbidden, match="more scopes"):  # the default set is wider than this key too
        apikeys.create_key(rt, narrow, user, name="x")
    row, _ = apikeys.create_key(rt, narrow, user, name="y", scopes=["links:read"])
    assert row.scopes == "links:read"


def test_the_zipline_token_holds_every_scope_of_its_user(rt, user, make_user):
    token = key_row(apikeys.get_token(rt, user))
    assert Actor.of(user, token).scopes == frozenset(SCOPES) - {"admin"}
    boss = make_user("boss", role=Role.ADMIN)
    assert Actor.of(boss, key_row(apikeys.get_token(rt, boss))).scopes == frozenset(SCOPES)


def test_an_admin_key_of_a_demoted_user_holds_no_admin_scope(rt, make_user, make_key):
    from zipshort.services import accounts

    boss = make_user("boss", role=Role.ADMIN)
    key = make_key(boss, scopes=["admin", "keys:write", "links:read"])
    accounts.update_user(rt, boss, accounts.UserChanges(role=Role.USER))
    demoted = Actor.of(boss, key_row(key))
    assert not demoted.admin and "admin" not in demoted.scopes
    with pytest.raises(Forbidden):
        apikeys.create_key(rt, demoted, boss, name="x", scopes=["admin"])


def test_a_bot_key_mints_and_revokes_nothing(rt, user, make_key):
    bot_row, _ = apikeys.create_key(rt, Actor.of(user), user, name="bot", scopes=["links:read"], bot=True)
    bot = Actor.of(user, bot_row)
    assert bot.bot
    with pytest.raises(Forbidden) as err:
        apikeys.create_key(rt, bot, user, name="x", scopes=["links:read"])
    assert err.value.code == "bot_key"
    with pytest.raises(Forbidden):
        apikeys.revoke_key(rt, bot, user, bot_row.id)


def test_a_bot_key_cannot_hold_the_admin_scope(rt, make_user):
    boss = make_user("boss", role=Role.ADMIN)
    with pytest.raises(ValidationError, match="bot key"):
        apikeys.create_key(rt, Actor.of(boss), boss, name="x", scopes=["admin"], bot=True)


def test_one_live_bot_key_per_user(rt, user):
    apikeys.create_key(rt, Actor.of(user), user, name="bot", bot=True)
    with pytest.raises(Conflict):
        apikeys.create_key(rt, Actor.of(user), user, name="bot 2", bot=True)


def test_a_user_cannot_mint_keys_for_someone_else(rt, user, make_user):
    bob = make_user("bob")
    with pytest.raises(NotFound):
        apikeys.create_key(rt, Actor.of(user), bob, name="x")
    assert count(ApiKey) == 0


def test_an_administrator_mints_for_users_they_manage_with_the_admin_scope_only(rt, make_user, make_key):
    boss, bob = make_user("boss", role=Role.ADMIN), make_user("bob")
    root = make_user("root", role=Role.SUPERADMIN)
    row, _ = apikeys.create_key(rt, Actor.of(boss), bob, name="for bob", scopes=["links:read"])
    assert row.user_id == bob.id
    without_admin = Actor.of(boss, key_row(make_key(boss, scopes=["links:read", "keys:write"])))
    with pytest.raises(NotFound):
        apikeys.create_key(rt, without_admin, bob, name="x", scopes=["links:read"])
    with pytest.raises(NotFound):  # an ADMIN does not manage a SUPERADMIN
        apikeys.create_key(rt, Actor.of(boss), root, name="x", scopes=["links:read"])


def test_the_console_mints_for_anyone(rt, user):
    row, _ = apikeys.create_key(rt, Actor.console(), user, name="cli", scopes=["account"])
    assert row.user_id == user.id and row.scopes == "account"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\nb", None, 5])
def test_bad_names_are_refused(rt, user, name):
    with pytest.raises(ValidationError) as err:
        apikeys.create_key(rt, Actor.of(user), user, name=name)
    assert err.value.field == "name"


def test_an_expiry_must_be_in_the_future(rt, user):
    now = utcnow()
    with pytest.raises(ValidationError, match="future"):
        apikeys.create_key(rt, Actor.of(user), user, name="x", expires_at=now - dt.timedelta(seconds=1), now=now)
    row, plaintext = apikeys.create_key(rt, Actor.of(user), user, name="x", expires_at=now + dt.timedelta(days=1))
    assert row.expires_at is not None and apikeys.authenticate_key(plaintext) is not None


def test_revoke_own_key_and_not_someone_elses(rt, user, make_user):
    bob = make_user("bob")
    mine, plaintext = apikeys.create_key(rt, Actor.of(user), user, name="mine")
    bobs, _ = apikeys.create_key(rt, Actor.of(bob), bob, name="bobs")
    with pytest.raises(NotFound):  # as bob's owner: not alice's to act for
        apikeys.revoke_key(rt, Actor.of(user), bob, bobs.id)
    with pytest.raises(NotFound):  # as her own: bob's key is not among hers
        apikeys.revoke_key(rt, Actor.of(user), user, bobs.id)
    assert apikeys.revoke_key(rt, Actor.of(user), user, mine.id).revoked_at is not None
    assert apikeys.authenticate_key(plaintext) is None


def test_an_administrator_revokes_a_managed_users_key(rt, make_user):
    boss, bob = make_user("boss", role=Role.ADMIN), make_user("bob")
    bobs, plaintext = apikeys.create_key(rt, Actor.of(bob), bob, name="bobs")
    apikeys.revoke_key(rt, Actor.of(boss), bob, bobs.id)
    assert apikeys.authenticate_key(plaintext) is None
