"""Shared column helpers: time-ordered UUID keys and UTC timestamps."""

from __future__ import annotations

import datetime as dt

import uuid6
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column


def new_id() -> str:
    """A time-ordered UUID (version 7) as text."""
    return str(uuid6.uuid7())


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class IdMixin:
    """UUIDv7 primary key."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


class TimestampMixin:
    """createdAt/updatedAt, set by the database layer on insert and update."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
