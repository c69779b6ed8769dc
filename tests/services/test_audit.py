"""services/audit.py directly: the entry each event makes, writing, listing, retention; and the new events come
once per committed change and never for a refused one."""

from __future__ import annotations

import contextvars
import datetime as dt

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import count
from zipshort.errors import NotFound, ValidationError
from zipshort.events import (
    BulkDeleted,
    LoginFailed,
    PasswordChanged,
    SessionsEnded,
    SettingsChanged,
    TokenReset,
    TotpDisabled,
    TotpEnabled,
    UserDisabled,
    UserEnabled,
    begin_request,
    client_address,
)
from zipshort.extensions import db
from zipshort.models import AuditEntry, Role, utcnow
from zipshort.services import accounts, apikeys, audit, files, maintenance, mfa, sessions


def stored(rt) -> list[AuditEntry]:
    assert rt.events.drain(10)
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)))


def test_an_entry_names_actor_account_target_and_result(rt):
    failed = audit.entry_of(rt, LoginFailed(username="eve", reason="wrong_password", actor_id="u1", client="10.1.2.3"))
    assert {k: failed[k] for k in ("action", "result", "reason", "actor_id", "actor_name", "account_id",
                                   "target_type", "target_id", "target_name", "address", "details")} == {
        "action": "login.failed", "result": "failure", "reason": "wrong_password", "actor_id": "u1",
        "actor_name": "eve", "account_id": "u1", "target_type": "user", "target_id": "u1", "target_name": "eve",
        "address": None, "details": None}
    bulk = audit.entry_of(rt, BulkDeleted(owner_id="u1", what="files", count=3, actor_id="u1"))
    assert (bulk["target_type"], bulk["target_id"], bulk["details"], bulk["actor_name"]) == \
        ("files", None, {"what": "files", "count": 3}, None)  # the name is looked up when written
    server = audit.entry_of(rt, SettingsChanged(user_id=None, username=None, settings=("domain_redirects.base_url",),
                                                actor_id="a1"))
    assert (server["target_type"], server["account_id"]) == ("server", None)


def test_every_audited_event_makes_an_entry(rt):
    for kind in audit.AUDITED:
        assert kind.name in audit.ACTIONS
        assert "client" in kind.__dataclass_fields__, kind  # the address travels with it


def test_a_written_entry_finds_the_actors_name(rt, user, make_user):
    admin = make_user("root", role=Role.SUPERADMIN)
    audit.write_entry(db.engine, audit.entry_of(rt, UserDisabled(user_id=user.id, username="alice",
                                                                 actor_id=admin.id)))
    row = [e for e in stored(rt) if e.action == "user.disabled"][0]
    assert (row.actor_name, row.target_name, row.account_id) == ("root", "alice", user.id)


def test_the_client_address_comes_from_the_request_scope_only():
    def in_a_request() -> None:
        begin_request(None, lambda: "192.0.2.1")
        assert client_address() == "192.0.2.1"
        assert TokenReset(user_id="u", username="n").client == "192.0.2.1"
        assert "client" not in TokenReset(user_id="u", username="n").details(include_quiet=True)

    contextvars.copy_context().run(in_a_request)  # a request's scope, as the app's hook begins it
    assert client_address() is None and TokenReset(user_id="u", username="n").client is None


def test_list_entries_checks_its_filters(user):
    for bad in (audit.AuditQuery(action="nope"), audit.AuditQuery(result="partly"), audit.AuditQuery(page=0),
                audit.AuditQuery(per_page=101), audit.AuditQuery(actor="a\x00b"),
                audit.AuditQuery(since=utcnow(), until=utcnow() - dt.timedelta(seconds=1))):
        with pytest.raises(ValidationError):
            audit.list_entries(user, bad)


def test_retention_prunes_old_entries_in_the_maintenance_round(rt, user, app):
    old = audit.entry_of(rt, TokenReset(user_id=user.id, username="alice", actor_id=user.id,
                                        at=utcnow() - dt.timedelta(days=366)))
    audit.write_entry(db.engine, old)
    audit.write_entry(db.engine, audit.entry_of(rt, TokenReset(user_id=user.id, username="alice", actor_id=user.id,
                                                               at=utcnow() - dt.timedelta(days=364))))
    stored(rt)
    before = count(AuditEntry)
    maintenance.maintenance_round(rt)
    assert count(AuditEntry) == before - 1
    assert audit.prune(rt, utcnow() + dt.timedelta(days=2)) == 1  # the other one's year is up two days later


# The new events: once per committed change, never for a refused one -----------------------------------------------

def test_account_changes_publish_their_audit_events(rt, user, events_seen):
    accounts.update_user(rt, user, accounts.UserChanges(password="another one", disabled=True, username="alicia"))
    accounts.update_user(rt, user, accounts.UserChanges(disabled=False))
    accounts.update_user(rt, user, accounts.UserChanges(disabled=False))  # no change: no event
    assert [type(e) for e in events_seen.of(PasswordChanged)] == [PasswordChanged]
    assert len(events_seen.of(UserDisabled)) == 1 and len(events_seen.of(UserEnabled)) == 1
    assert [e.settings for e in events_seen.of(SettingsChanged)] == [("username",)]


def test_refused_changes_publish_nothing(rt, user, make_user, make_file, events_seen):
    with pytest.raises(ValidationError):
        mfa.enable(rt, user, pyotp.random_base32(32), "000000")
    with pytest.raises(NotFound):
        files.delete_files(rt, user, [make_file(user).id, "no-such-file"], bulk=True)
    with pytest.raises(ValidationError):
        sessions.revoke_session(rt, user, "", None)
    assert sessions.end_all_sessions(rt, user) == 0  # nothing ended: nothing to tell
    assert not [e for e in events_seen.drained() if isinstance(e, (TotpEnabled, BulkDeleted, SessionsEnded))]


def test_totp_token_and_sessions_publish_once(rt, user, events_seen):
    secret = pyotp.random_base32(32)
    totp = pyotp.TOTP(secret)
    mfa.enable(rt, user, secret, totp.now())
    mfa.disable(rt, user, totp.at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)))
    apikeys.get_token(rt, user)  # made on first use: not a reset
    apikeys.rotate_token(rt, user)
    sessions.start_session(rt, user), sessions.start_session(rt, user)
    assert sessions.end_all_sessions(rt, user) == 2
    assert [len(events_seen.of(kind)) for kind in (TotpEnabled, TotpDisabled, TokenReset)] == [1, 1, 1]
    assert [e.count for e in events_seen.of(SessionsEnded)] == [2]


def test_a_users_own_entries_are_theirs_only(rt, user, make_user):
    bob = make_user("bob")
    for who in (user, bob):
        audit.write_entry(db.engine, audit.entry_of(rt, TokenReset(user_id=who.id, username=who.username,
                                                                   actor_id=who.id)))
    stored(rt)
    assert {e.account_id for e in audit.account_entries(user)} == {user.id}
