"""Doors publish their events once, after the commit, and never for a change that rolled back."""

from __future__ import annotations

import io

import pytest

from tests.public.test_redirect import csrf_from
from zipshort.database import publish_after_commit, write_transaction
from zipshort.errors import Conflict, Forbidden, Unauthorized
from zipshort.events import (
    LoginFailed,
    LoginSucceeded,
    QuotaChanged,
    RoleChanged,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from zipshort.extensions import db
from zipshort.models import Role
from zipshort.services import accounts
from zipshort.services.accounts import Quota, UserChanges


def test_publish_after_commit_publishes_on_commit_only(rt, events_seen):
    event = UserCreated(user_id="u", username="x", role="USER")
    with write_transaction(db.session):
        publish_after_commit(db.session, rt.events, event)
        assert events_seen.drained() == []  # not before the commit
    assert events_seen.drained() == [event]
    with pytest.raises(RuntimeError), write_transaction(db.session):
        publish_after_commit(db.session, rt.events, UserCreated(user_id="v", username="y", role="USER"))
        raise RuntimeError("rolled back")
    with write_transaction(db.session):
        pass  # a later commit does not resurrect the rolled-back event
    assert events_seen.drained() == [event]


def test_a_savepoint_rollback_keeps_the_outer_transactions_events(rt, events_seen):
    event = UserCreated(user_id="u", username="x", role="USER")
    with write_transaction(db.session):
        publish_after_commit(db.session, rt.events, event)
        savepoint = db.session.begin_nested()
        savepoint.rollback()
    assert events_seen.drained() == [event]


def test_creating_a_user_publishes_once_with_who_and_how(rt, make_user, events_seen):
    admin = make_user("root", role=Role.SUPERADMIN)
    events_seen.clear()
    user = accounts.create_user(rt, "bob", "correct horse", Role.USER, actor=admin)
    [created] = events_seen.of(UserCreated)
    assert (created.user_id, created.username, created.role, created.via, created.actor_id) == (
        user.id, "bob", "USER", "admin", admin.id)
    assert "correct horse" not in repr(created)


def test_a_refused_user_creation_publishes_nothing(rt, make_user, events_seen):
    make_user("bob")
    events_seen.clear()
    with pytest.raises(Conflict):
        accounts.create_user(rt, "BOB", "correct horse")
    assert events_seen.names() == []


def test_updates_name_the_changed_fields_and_role_and_quota_apart(rt, make_user, events_seen):
    admin = make_user("root", role=Role.SUPERADMIN)
    bob = make_user("bob")
    events_seen.clear()
    accounts.update_user(rt, bob, UserChanges(username="robert", password="new password here", role=Role.ADMIN,
                                              quota=Quota(files_type="BY_FILES", max_files=3)), actor=admin)
    seen = events_seen.drained()
    assert [e.name for e in seen] == ["user.updated", "user.role_changed", "user.quota_changed",
                                      "user.password_changed", "settings.changed"]  # the last two for the audit log
    updated, role, quota, password, settings = seen
    assert isinstance(updated, UserUpdated) and updated.changed == ("username", "password")
    assert isinstance(role, RoleChanged) and (role.old, role.new) == ("USER", "ADMIN")
    assert isinstance(quota, QuotaChanged) and quota.actor_id == admin.id
    assert password.user_id == bob.id and settings.settings == ("username",)
    assert "new password here" not in repr(seen)


def test_a_refused_update_publishes_nothing(rt, make_user, events_seen):
    bob = make_user("bob")
    carol = make_user("carol")
    events_seen.clear()
    with pytest.raises(Conflict):
        accounts.update_user(rt, bob, UserChanges(username="carol"), actor=None)
    with pytest.raises(Forbidden):
        accounts.update_user(rt, carol, UserChanges(role=Role.ADMIN), actor=carol)
    assert events_seen.names() == []


def test_deleting_a_user_publishes_once(rt, make_user, events_seen):
    admin = make_user("root", role=Role.SUPERADMIN)
    bob = make_user("bob")
    bob_id = bob.id
    events_seen.clear()
    accounts.delete_user(rt, bob, actor=admin)
    [deleted] = events_seen.of(UserDeleted)
    assert (deleted.user_id, deleted.username, deleted.actor_id) == (bob_id, "bob", admin.id)
    with pytest.raises(Forbidden):
        accounts.delete_user(rt, admin, actor=admin)
    assert events_seen.names() == ["user.deleted"]


def test_failed_logins_are_published_without_the_password(rt, make_user, events_seen):
    make_user("bob", password="the right one")
    for name, password in (("bob", "the wrong one"), ("nobody", "whatever pw")):
        with pytest.raises(Unauthorized):
            accounts.authenticate(rt, name, password, "198.51.100.7")
    failed = events_seen.of(LoginFailed)
    assert [(e.username, e.reason) for e in failed] == [("bob", "wrong_password"), ("nobody", "unknown_user")]
    assert "the wrong one" not in repr(failed) and "198.51.100.7" not in repr(failed)


def test_signing_in_publishes_once_per_sign_in_and_not_for_a_refused_one(client, make_user, events_seen):
    bob = make_user("bob", password="the right one")
    events_seen.clear()
    res = client.post("/api/auth/login", json={"username": "bob", "password": "the right one"})
    assert res.status_code == 200
    assert client.post("/api/auth/login", json={"username": "bob", "password": "nope nope"}).status_code == 401
    [ok] = events_seen.of(LoginSucceeded)
    assert (ok.user_id, ok.method, ok.actor_id) == (bob.id, "password", bob.id)
    assert ok.request_id == res.headers["X-Request-ID"]
    assert events_seen.names() == ["login.succeeded", "login.failed"]


def test_a_wrong_second_factor_is_published_and_a_right_one_signs_in(rt, client, make_user, events_seen):
    import pyotp

    from zipshort.extensions import db as database

    bob = make_user("bob", password="the right one")
    secret = pyotp.random_base32()
    bob.totp_secret = secret
    database.session.commit()
    events_seen.clear()
    body = {"username": "bob", "password": "the right one"}
    assert client.post("/api/auth/login", json={**body, "code": "000000"}).status_code == 400
    assert client.post("/api/auth/login", json={**body, "code": pyotp.TOTP(secret).now()}).status_code == 200
    failed, succeeded = events_seen.drained()
    assert (failed.name, failed.reason) == ("login.failed", "wrong_code")
    assert (succeeded.name, succeeded.method) == ("login.succeeded", "totp")


def test_keys_created_and_revoked_are_published_without_the_key(rt, user, events_seen):
    from zipshort.events import KeyCreated, KeyRevoked
    from zipshort.services import apikeys

    events_seen.clear()
    with pytest.raises(Forbidden):
        apikeys.create_key(rt, apikeys.Actor.of(user), user, name="wide", scopes=["admin"])
    row, plaintext = apikeys.create_key(rt, apikeys.Actor.of(user), user, name="ci", scopes=["links:read"])
    apikeys.revoke_key(rt, apikeys.Actor.of(user), user, row.id)
    apikeys.revoke_key(rt, apikeys.Actor.of(user), user, row.id)  # already revoked: no second event
    created, revoked = events_seen.drained()
    assert isinstance(created, KeyCreated) and (created.key_id, created.scopes, created.actor_id) == (
        row.id, ("links:read",), user.id)
    assert isinstance(revoked, KeyRevoked) and revoked.key_id == row.id
    assert plaintext not in repr(created) and row.key_hash not in repr(created)


def test_files_uploaded_updated_viewed_and_deleted_are_published_once(rt, api, user, events_seen):
    from zipshort.events import FileDeleted, FileUpdated, FileUploaded, FileViewed

    events_seen.clear()
    res = api.post("/api/upload", data={"file": (io.BytesIO(b"hello"), "a.txt")}, content_type="multipart/form-data")
    assert res.status_code == 200, res.text
    [uploaded] = events_seen.of(FileUploaded)
    assert (uploaded.owner_id, uploaded.size, uploaded.actor_id) == (user.id, 5, user.id)
    name = uploaded.filename
    assert api.client.get(f"/u/{name}").status_code == 200
    assert api.client.head(f"/u/{name}").status_code == 200  # HEAD counts no view
    [viewed] = events_seen.of(FileViewed)
    assert (viewed.file_id, viewed.filename) == (uploaded.file_id, name)
    assert api.patch(f"/api/user/files/{uploaded.file_id}", json={"password": "file secret 1"}).status_code == 200
    [updated] = events_seen.of(FileUpdated)
    assert updated.changed == ("password",) and "file secret 1" not in repr(updated)
    assert api.delete(f"/api/user/files/{uploaded.file_id}").status_code == 200
    assert api.delete(f"/api/user/files/{uploaded.file_id}").status_code == 404
    [deleted] = events_seen.of(FileDeleted)
    assert (deleted.file_id, deleted.size) == (uploaded.file_id, 5)
    assert events_seen.names() == ["file.uploaded", "file.viewed", "file.updated", "file.deleted"]


def test_a_refused_upload_publishes_nothing(rt, api, events_seen):
    events_seen.clear()
    res = api.post("/api/upload", headers={"x-zipline-max-views": "-3"},
                   data={"file": (io.BytesIO(b"hello"), "a.txt")}, content_type="multipart/form-data")
    assert res.status_code == 400
    assert events_seen.names() == []


def test_links_created_updated_visited_and_deleted_are_published_once(rt, api, user, client, events_seen):
    from zipshort.events import LinkCreated, LinkDeleted, LinkUpdated, LinkVisited

    events_seen.clear()
    res = api.post("/api/user/urls", headers={"x-zipline-password": "link secret 9"},
                   json={"destination": "https://example.com/?token=abc", "vanity": "evt"})
    assert res.status_code == 200, res.text
    [created] = events_seen.of(LinkCreated)
    assert (created.code, created.owner_id, created.has_password) == ("evt", user.id, True)
    assert "token=abc" not in str(created.details()) and "link secret 9" not in repr(created)
    token = csrf_from(client.get("/go/evt"))  # the password page counts nothing
    assert client.post("/go/evt", data={"password": "wrong one", "csrf_token": token}).status_code == 403
    assert client.post("/go/evt", data={"password": "link secret 9", "csrf_token": token}).status_code == 302
    [visited] = events_seen.of(LinkVisited)
    assert (visited.link_id, visited.code) == (created.link_id, "evt")
    assert api.patch(f"/api/user/urls/{created.link_id}", json={"maxViews": 5, "password": None}).status_code == 200
    [updated] = events_seen.of(LinkUpdated)
    assert set(updated.changed) == {"max_views", "password"}
    assert api.delete(f"/api/user/urls/{created.link_id}").status_code == 200
    assert api.delete(f"/api/user/urls/{created.link_id}").status_code == 404
    [deleted] = events_seen.of(LinkDeleted)
    assert deleted.link_id == created.link_id
    assert events_seen.names() == ["link.created", "link.visited", "link.updated", "link.deleted"]


def test_a_taken_vanity_publishes_nothing_and_plain_visits_publish_from_the_cache_too(rt, api, client, events_seen):
    from zipshort.events import LinkVisited

    assert api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "plain"}).status_code \
        == 200
    events_seen.clear()
    assert api.post("/api/user/urls", json={"destination": "https://example.org/", "vanity": "plain"}).status_code \
        == 400
    for _ in range(3):  # the first visit caches the link; the next two are served from the cache
        assert client.get("/go/plain").status_code == 302
    assert client.head("/go/plain").status_code == 302  # HEAD counts nothing
    assert [e.code for e in events_seen.of(LinkVisited)] == ["plain"] * 3
    assert events_seen.names() == ["link.visited"] * 3


def test_domains_added_verified_and_deleted_are_published(rt, make_user, events_seen):
    from zipshort.services import domains

    admin = make_user("root", role=Role.SUPERADMIN)
    bob = make_user("bob")
    events_seen.clear()
    row = domains.add_custom(rt, bob, "events.example")
    domains.set_verified(rt, admin, row.id, True)
    domains.delete_custom(rt, bob, row.id)
    assert events_seen.names() == ["domain.added", "domain.verified", "domain.deleted"]
    verified = events_seen.drained()[1]
    assert (verified.hostname, verified.owner_id, verified.actor_id) == ("events.example", bob.id, admin.id)


def test_expired_files_pruned_by_the_maintenance_round_are_published(rt, user, make_file, events_seen):
    import datetime as dt

    from zipshort.events import FileDeleted
    from zipshort.services.maintenance import prune_expired

    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    item = make_file(user, name="old.txt", expires_at=soon)
    events_seen.clear()
    assert prune_expired(rt, now=soon + dt.timedelta(seconds=1)) == 1
    [deleted] = events_seen.of(FileDeleted)
    assert (deleted.file_id, deleted.actor_id) == (item.id, None)


@pytest.mark.parametrize("overrides", [{"analytics": {"enabled": False}, "logging": {"access": False}}])
def test_without_analytics_visits_reach_the_log_only_at_debug_so_the_redirect_builds_no_event(rt, client, make_link,
                                                                                               user):
    from zipshort.events import FileViewed, LinkCreated, LinkVisited, OrphanVisited

    assert not rt.events.wants(LinkVisited) and not rt.events.wants(FileViewed) and rt.events.wants(LinkCreated)
    assert not rt.events.wants(OrphanVisited)
    make_link(user, destination="https://example.com/", vanity="quiet")
    res = client.get("/go/quiet")
    assert res.status_code == 302 and "X-Request-ID" not in res.headers  # no id made on the hot path
    assert client.get("/api/healthcheck").headers["X-Request-ID"]


@pytest.mark.parametrize("overrides", [{"logging": {"access": False}}])  # the access log gives every request an id
def test_with_analytics_visits_are_published_but_logged_only_at_debug(rt, client, make_link, user, caplog):
    import logging

    from zipshort.events import LinkVisited

    assert rt.events.wants(LinkVisited)  # analytics listens (on by default)
    make_link(user, destination="https://example.com/", vanity="quiet2")
    with caplog.at_level(logging.DEBUG, logger="zipshort.changes"):
        res = client.get("/go/quiet2")
        assert rt.events.drain(10)
    assert res.status_code == 302 and "X-Request-ID" not in res.headers  # a visit makes no request id
    assert "link.visited" not in caplog.text and "link.created" in caplog.text


@pytest.mark.parametrize("overrides", [{"logging": {"level": "DEBUG"}}])
def test_at_debug_visits_are_logged(rt, client, make_link, user, caplog):
    import logging

    from zipshort.events import LinkVisited

    assert rt.events.wants(LinkVisited)
    make_link(user, destination="https://example.com/?token=t0ken", vanity="loud")
    with caplog.at_level(logging.DEBUG, logger="zipshort.changes"):
        res = client.get("/go/loud", headers={"User-Agent": "secret-agent/1.0", "Referer": "https://r.example/?s=1"})
        assert rt.events.drain(10)
    assert res.status_code == 302
    assert "secret-agent" not in caplog.text and "r.example" not in caplog.text  # the visitor's facts stay quiet
    assert "link.visited" in caplog.text and "code=loud" in caplog.text and "t0ken" not in caplog.text
