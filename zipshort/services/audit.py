"""The audit log: who did what to whom, when, from where and how it ended, kept for ``audit.retention_days``.

``recorder`` is an event subscriber (``create_app`` subscribes it to ``AUDITED``): it runs on the dispatcher's
thread and writes one row per event on the engine directly (its own connection and short transaction, no app
context, as the view flusher does). The client's address comes with the event (``events.client_field``: read
from the acting request when the event was made) and is stored only as the analytics privacy settings
allow (``analytics.kept_address``). ``list_entries`` is the administrators' paged, filtered view,
``account_entries`` a person's own account's, ``prune`` the maintenance loop's retention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, func, insert, or_, select

from zipshort.database import exclusive_writer, rowcount, write_transaction
from zipshort.errors import ValidationError
from zipshort.events import (
    BulkDeleted,
    DomainAdded,
    DomainDeleted,
    DomainVerificationFailed,
    DomainVerified,
    Event,
    KeyCreated,
    KeyRevoked,
    LoginFailed,
    LoginSucceeded,
    PasswordChanged,
    QuotaChanged,
    RoleChanged,
    SessionsEnded,
    SettingsChanged,
    TokenReset,
    TotpChangeFailed,
    TotpDisabled,
    TotpEnabled,
    UserCreated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
)
from zipshort.extensions import db
from zipshort.inputs import check_offset, check_text
from zipshort.models import AuditEntry, Role, User
from zipshort.models.audit import FAILURE, SUCCESS
from zipshort.runtime import Runtime
from zipshort.services.analytics import kept_address
from zipshort.services.roles import managed_by

_table = AuditEntry.__table__


# Where each event type keeps the entry's parts: the account it concerns, the target's kind, id and name (attribute
# names; None: none), and whether it reports a failure (its ``reason``).
_USER = ("user_id", "user", "user_id", "username", False)
_KEY = ("owner_id", "key", "key_id", "key_name", False)
_DOMAIN = ("owner_id", "domain", "domain_id", "hostname", False)
SHAPES: Mapping[type[Event], tuple[str | None, str, str | None, str | None, bool]] = MappingProxyType({
    LoginSucceeded: _USER, LoginFailed: ("actor_id", "user", "actor_id", "username", True),
    PasswordChanged: _USER, TokenReset: _USER, TotpEnabled: _USER, TotpDisabled: _USER, SessionsEnded: _USER,
    TotpChangeFailed: ("user_id", "user", "user_id", "username", True),
    RoleChanged: _USER, QuotaChanged: _USER, UserCreated: _USER, UserDisabled: _USER, UserEnabled: _USER,
    UserDeleted: _USER, SettingsChanged: _USER,
    KeyCreated: _KEY, KeyRevoked: _KEY,
    DomainAdded: _DOMAIN, DomainVerified: _DOMAIN, DomainDeleted: _DOMAIN,
    DomainVerificationFailed: ("owner_id", "domain", "domain_id", "hostname", True),
    BulkDeleted: ("owner_id", "files", None, None, False),
})
AUDITED: tuple[type[Event], ...] = tuple(SHAPES)
ACTIONS: tuple[str, ...] = tuple(sorted(kind.name for kind in AUDITED))
RESULTS = (SUCCESS, FAILURE)
MAX_PER_PAGE = 100


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def entry_of(rt: Runtime, event: Event) -> dict[str, Any]:
    """The audit row ``event`` makes (the actor's name still to be looked up when it is not the account's)."""
    account_attr, kind, id_attr, name_attr, failure = SHAPES[type(event)]
    account = getattr(event, account_attr) if account_attr else None
    used = {account_attr, id_attr, name_attr, "reason"}
    details = {key: _plain(value) for key, value in event.details().items() if key not in used and value is not None}
    name = getattr(event, name_attr) if name_attr else None
    return {
        "at": event.at, "action": event.name, "result": FAILURE if failure else SUCCESS,
        "reason": getattr(event, "reason", None) if failure else None,
        "actor_id": event.actor_id,
        "actor_name": getattr(event, "username", None) if event.actor_id is not None and event.actor_id == account
        else None,
        "account_id": account, "target_type": "server" if isinstance(event, SettingsChanged) and account is None
        else kind,
        "target_id": getattr(event, id_attr) if id_attr else None,
        "target_name": name[:260] if isinstance(name, str) else None,
        "address": kept_address(rt.settings.analytics, getattr(event, "client", None)),
        "request_id": event.request_id, "details": details or None,
    }


def write_entry(engine: Engine, row: dict[str, Any]) -> None:
    """Store one audit row in its own short transaction (the actor's name looked up first when missing)."""
    if row["actor_id"] is not None and row["actor_name"] is None:
        with engine.connect() as conn:
            row["actor_name"] = conn.scalar(select(User.username).where(User.id == row["actor_id"]))
    with exclusive_writer(engine), engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(insert(_table).values(**row))


def recorder(rt: Runtime, engine: Engine) -> Callable[[Event], None]:
    """The subscriber that keeps every ``AUDITED`` event (runs on the dispatcher's thread)."""

    def record(event: Event) -> None:
        if type(event) in SHAPES:
            write_entry(engine, entry_of(rt, event))

    return record


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the administrators' view: ``actor`` and ``target`` match an id or a name (any case); ``action``
    one of ``ACTIONS``; ``result`` success or failure; ``since`` (inclusive) and ``until`` (exclusive) bound ``at``."""

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    result: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    page: int = 1
    per_page: int = 50


def _matches(id_column: Any, name_column: Any, value: str, field: str) -> ColumnElement[bool]:
    if len(value) > 260:
        raise ValidationError(f"{field} must be at most 260 characters", field=field)
    check_text(value, field)
    return or_(id_column == value, func.lower(name_column) == value.lower())


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    if query.action is not None and query.action not in ACTIONS:
        raise ValidationError(f"action must be one of: {', '.join(ACTIONS)}", code="invalid_action", field="action")
    if query.result is not None and query.result not in RESULTS:
        raise ValidationError("result must be success or failure", code="invalid_result", field="result")
    if query.since is not None and query.until is not None and query.since > query.until:
        raise ValidationError("since must not be after until", code="invalid_range", field="since")
    cond: list[ColumnElement[bool]] = []
    if query.actor:
        cond.append(_matches(AuditEntry.actor_id, AuditEntry.actor_name, query.actor, "actor"))
    if query.target:
        cond.append(_matches(AuditEntry.target_id, AuditEntry.target_name, query.target, "target"))
    if query.action is not None:
        cond.append(AuditEntry.action == query.action)
    if query.result is not None:
        cond.append(AuditEntry.result == query.result)
    if query.since is not None:
        cond.append(AuditEntry.at >= query.since)
    if query.until is not None:
        cond.append(AuditEntry.at < query.until)
    return cond


def list_entries(viewer: User, query: AuditQuery) -> tuple[list[AuditEntry], int]:
    """A page of the entries ``viewer`` may see that match ``query``, newest first, and how many match in all.

    A SUPERADMIN sees every entry; an ADMIN those about their own account and the accounts they manage
    (services/roles.py), not those about deleted accounts, unknown usernames or the server's settings.

    Raises:
        ValidationError: an unknown action or result, a bad range, page or page size.
    """
    if query.page < 1 or not 1 <= query.per_page <= MAX_PER_PAGE:
        raise ValidationError(f"page must be at least 1 and perpage between 1 and {MAX_PER_PAGE}",
                              code="invalid_page", field="page")
    offset = check_offset((query.page - 1) * query.per_page, "page")
    cond = _conditions(query)
    if viewer.role != Role.SUPERADMIN.value:
        cond.append(managed_by(viewer, AuditEntry.account_id))
    total = db.session.scalar(select(func.count()).select_from(AuditEntry).where(*cond)) or 0
    rows = list(db.session.scalars(select(AuditEntry).where(*cond)
                                   .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                   .offset(offset).limit(query.per_page)))
    return rows, total


def account_entries(user: User, limit: int = 25) -> list[AuditEntry]:
    """The newest entries about ``user``'s own account (their Settings page)."""
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.account_id == user.id)
                                   .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


def prune(rt: Runtime, now: dt.datetime) -> int:
    """Delete entries older than ``audit.retention_days``; return how many went."""
    cutoff = now - dt.timedelta(days=rt.settings.audit.retention_days)
    with write_transaction(db.session):
        return rowcount(db.session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)))
