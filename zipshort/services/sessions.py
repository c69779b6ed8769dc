"""Browser sessions on the server: start, find, list, end one or all.

The cookie holds a random secret; the row holds its SHA-256 digest. A replayed cookie of an ended
session finds no row and is anonymous, whatever its signature says.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import Delete, delete, select, update

from zipshort.database import publish_after_commit, rowcount, write_transaction
from zipshort.errors import NotFound, ValidationError
from zipshort.events import LoginSucceeded, SessionsEnded
from zipshort.extensions import db
from zipshort.models import User, UserSession, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.security import key_digest

LIFETIME = dt.timedelta(days=14)  # as the cookie's Max-Age
SEEN_RESOLUTION = dt.timedelta(minutes=5)  # last-seen is written at most this often


def start_session(rt: Runtime, user: User, user_agent: str | None = None, now: dt.datetime | None = None,
                  method: str | None = None) -> str:
    """Open a session for ``user``; return the secret the browser's cookie carries.

    ``method`` says how the person proved who they are (password, totp, setup, registration): the session
    is a sign-in and ``login.succeeded`` is published. None for a session that continues one (after a
    password change).
    """
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    with write_transaction(db.session):
        db.session.add(UserSession(id=new_id(), user_id=user.id, token_hash=key_digest(secret), created_at=now,
                                   last_seen_at=now, expires_at=now + LIFETIME,
                                   user_agent=(user_agent or "")[:255] or None))
        # Forget this user's expired sessions while we hold the write lock anyway.
        db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now))
        if method is not None:
            publish_after_commit(db.session, rt.events, LoginSucceeded(user_id=user.id, username=user.username,
                                                                       method=method, actor_id=user.id))
    return secret


def session_user(user_id: str, secret: object, now: dt.datetime | None = None) -> User | None:
    """The live user behind a session cookie (one query), or None when the session has ended."""
    if not isinstance(secret, str) or not secret or len(secret) > 128:
        return None
    now = now or utcnow()
    row = db.session.execute(
        select(User, UserSession.id, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == key_digest(secret), User.id == user_id, UserSession.expires_at > now)
        .execution_options(populate_existing=True)).first()
    if row is None or row[0].disabled:
        return None
    user, session_id, seen = row
    if now - seen >= SEEN_RESOLUTION:
        with write_transaction(db.session):
            db.session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))
    return user


def current_session_id(secret: object) -> str | None:
    """The id of the session a cookie secret belongs to."""
    if not isinstance(secret, str) or not secret:
        return None
    return db.session.scalar(select(UserSession.id).where(UserSession.token_hash == key_digest(secret)))


def end_session(secret: object) -> None:
    """End the session a cookie secret belongs to (logout)."""
    if not isinstance(secret, str) or not secret:
        return
    with write_transaction(db.session):
        db.session.execute(delete(UserSession).where(UserSession.token_hash == key_digest(secret)))


def all_sessions_of(user_id: str, keep_id: str | None = None) -> Delete:
    """The statement that ends every session of a user (but ``keep_id``), for a transaction that changes the
    user too (password, disable)."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    return stmt.where(UserSession.id != keep_id) if keep_id else stmt


def _ended(rt: Runtime, user: User, count: int) -> None:
    """Publish ``user.sessions_ended`` on commit when a person's request ended ``count`` sessions."""
    if count:
        publish_after_commit(db.session, rt.events, SessionsEnded(user_id=user.id, username=user.username,
                                                                  count=count, actor_id=user.id))


def end_all_sessions(rt: Runtime, user: User, keep_id: str | None = None) -> int:
    """End every session of a user (but ``keep_id``); return how many."""
    with write_transaction(db.session):
        ended = rowcount(db.session.execute(all_sessions_of(user.id, keep_id)))
        _ended(rt, user, ended)
    return ended


def list_sessions(user: User, now: dt.datetime | None = None) -> list[UserSession]:
    """The user's live sessions, newest first."""
    now = now or utcnow()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id,
                                                             UserSession.expires_at > now)
                                   .order_by(UserSession.created_at.desc(), UserSession.id.desc())))


def revoke_session(rt: Runtime, user: User, session_id: object, current_id: str | None) -> None:
    """End one of the user's other sessions (Zipline's ``DELETE /api/user/sessions`` with ``sessionId``).

    Raises:
        ValidationError: it is the current session. NotFound: no such session of this user.
    """
    if not isinstance(session_id, str) or not session_id:
        raise ValidationError("sessionId is required", field="sessionId")
    if session_id == current_id:
        raise ValidationError("Cannot delete current session", code="current_session", field="sessionId")
    with write_transaction(db.session):
        gone = rowcount(db.session.execute(delete(UserSession).where(UserSession.id == session_id,
                                                                     UserSession.user_id == user.id)))
        _ended(rt, user, gone)
    if not gone:
        raise NotFound("Session not found in logged in sessions", code="session_not_found")


def prune_sessions(now: dt.datetime | None = None) -> int:
    """Forget expired sessions (maintenance); return how many."""
    with write_transaction(db.session):
        return rowcount(db.session.execute(delete(UserSession).where(UserSession.expires_at <= (now or utcnow()))))
