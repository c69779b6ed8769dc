"""The audit log: one row per security-relevant or administrative event (services/audit.py writes them).

Rows are never changed; they are deleted only when older than ``audit.retention_days``. They point at
users, keys and domains by id without foreign keys, so an entry outlives what it names (a deleted user's
entries stay, with the names they had).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model
from zipshort.models.base import IdMixin

SUCCESS = "success"
FAILURE = "failure"


class AuditEntry(IdMixin, Model):
    """Who did what to whom, when, from where, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_account_id_at", "account_id", "at"),
        Index("ix_audit_log_actor_id_at", "actor_id", "at"),
    )

    at: Mapped[dt.datetime] = mapped_column()
    action: Mapped[str] = mapped_column(String(40))  # the event's name: login.failed, user.role_changed, …
    result: Mapped[str] = mapped_column(String(8))  # success or failure
    reason: Mapped[str | None] = mapped_column(String(64))  # why it failed (wrong_password, …)
    actor_id: Mapped[str | None] = mapped_column(String(36))  # None: the console, the system, an unknown user
    actor_name: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(36))  # whose account it concerns (their Settings list it)
    target_type: Mapped[str] = mapped_column(String(16))  # user, key, domain, files, server
    target_id: Mapped[str | None] = mapped_column(String(36))
    target_name: Mapped[str | None] = mapped_column(String(260))
    address: Mapped[str | None] = mapped_column(String(45))  # only with analytics.store_address (anonymised)
    request_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # facts beside the action (old and new role, …)
