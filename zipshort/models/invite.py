"""Invites: codes an administrator hands out so someone may create an account."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, TimestampMixin
from zipshort.models.user import User


class Invite(IdMixin, TimestampMixin, Model):
    """One invite code; used up when ``uses`` reaches ``max_uses`` (None = unlimited), dead after ``expires_at``."""

    __tablename__ = "invites"
    __table_args__ = (CheckConstraint("uses >= 0", name="invite_uses_nonnegative"),)

    code: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime | None] = mapped_column()

    created_by: Mapped[User | None] = relationship(lazy="joined")
