"""Browser sessions: a cookie secret finds its user until the session ends, expires or the user is disabled."""

from __future__ import annotations

import pytest

from tests.conftest import count, fresh
from zipshort.errors import NotFound, ValidationError
from zipshort.models import UserSession
from zipshort.services import accounts, sessions


def test_a_started_session_finds_its_user_and_only_its_user(rt, user, make_user):
    secret = sessions.start_session(rt, user, "Firefox")
    assert sessions.session_user(user.id, secret).id == user.id
    assert sessions.session_user(make_user("bob").id, secret) is None  # another user's id with this cookie
    assert sessions.session_user(user.id, secret + "x") is None
    row = fresh(UserSession, sessions.current_session_id(secret))
    assert row.user_agent == "Firefox" and row.token_hash != secret  # only the digest is stored


def test_a_session_ends_at_logout(rt, user):
    secret = sessions.start_session(rt, user)
    sessions.end_session(secret)
    assert sessions.session_user(user.id, secret) is None and count(UserSession) == 0


def test_a_session_expires_after_its_lifetime(rt, user, clock):
    secret = sessions.start_session(rt, user, now=clock.now())
    clock.advance(sessions.LIFETIME.total_seconds() - 1)
    assert sessions.session_user(user.id, secret, now=clock.now()) is not None
    clock.advance(1)
    assert sessions.session_user(user.id, secret, now=clock.now()) is None
    assert sessions.list_sessions(user, now=clock.now()) == []
    assert sessions.prune_sessions(now=clock.now()) == 1


def test_last_seen_is_written_at_most_every_few_minutes(rt, user, clock):
    secret = sessions.start_session(rt, user, now=clock.now())
    started = clock.now()
    clock.advance(sessions.SEEN_RESOLUTION.total_seconds() - 1)
    sessions.session_user(user.id, secret, now=clock.now())
    ident = sessions.current_session_id(secret)
    assert fresh(UserSession, ident).last_seen_at == started
    clock.advance(1)
    sessions.session_user(user.id, secret, now=clock.now())
    assert fresh(UserSession, ident).last_seen_at == clock.now()


def test_a_disabled_users_session_finds_nobody(rt, user):
    secret = sessions.start_session(rt, user)
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    assert sessions.session_user(user.id, secret) is None


def test_end_all_keeps_the_one_asked_for(rt, user):
    keep, *others = [sessions.start_session(rt, user) for _ in range(3)]
    assert sessions.end_all_sessions(rt, user, keep_id=sessions.current_session_id(keep)) == 2
    assert sessions.session_user(user.id, keep) is not None
    assert all(sessions.session_user(user.id, s) is None for s in others)


def test_revoke_ends_another_session_but_not_the_current_one(rt, user, make_user):
    current, other = sessions.start_session(rt, user), sessions.start_session(rt, user)
    current_id, other_id = sessions.current_session_id(current), sessions.current_session_id(other)
    assert {s.id for s in sessions.list_sessions(user)} == {current_id, other_id}
    with pytest.raises(ValidationError, match="current session"):
        sessions.revoke_session(rt, user, current_id, current_id)
    bobs = sessions.current_session_id(sessions.start_session(rt, make_user("bob")))
    with pytest.raises(NotFound):
        sessions.revoke_session(rt, user, bobs, current_id)
    sessions.revoke_session(rt, user, other_id, current_id)
    assert [s.id for s in sessions.list_sessions(user)] == [current_id]
