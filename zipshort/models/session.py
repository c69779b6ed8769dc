"""Browser sessions kept on the server: the cookie carries a random secret, the row its digest.

A session ends when its row goes (logout, revocation, password change, disable, delete), whatever
the cookie says; the signed cookie alone never proves a login.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, utcnow


class UserSession(IdMixin, Model):
    """One logged-in browser."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"), Index("ix_user_sessions_expires_at", "expires_at"))

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the cookie's secret
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    user_agent: Mapped[str | None] = mapped_column(String(255))
