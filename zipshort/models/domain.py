"""Custom domains: hostnames a user brings for their own links (verified before links may use them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import db
from zipshort.models.base import IdMixin, utcnow
from zipshort.models.user import User


class CustomDomain(IdMixin, db.Model):
    """One user's hostname (lower-case, optionally with a port); ``verified_at`` set once proven to reach us."""

    __tablename__ = "custom_domains"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(260), unique=True)
    verify_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def verified(self) -> bool:
        """Whether links may be created on it."""
        return self.verified_at is not None
