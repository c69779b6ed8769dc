"""Custom domains: hostnames a user brings for their own links (verified before links may use them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, utcnow
from zipshort.models.user import User

_VERIFIED = text("verified_at IS NOT NULL")


class CustomDomain(IdMixin, Model):
    """One user's claim on a hostname (lower-case, optionally with a port); ``verified_at`` set once proven.

    Several users may claim one hostname while none has proven it (so nobody can block a name by adding it
    first); at most one claim per hostname is ever verified (a partial unique index), and proving it removes
    the other claims.
    """

    __tablename__ = "custom_domains"
    __table_args__ = (
        UniqueConstraint("user_id", "hostname"),
        Index("uq_custom_domains_verified_hostname", "hostname", unique=True,
              sqlite_where=_VERIFIED, postgresql_where=_VERIFIED),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(260), index=True)
    verify_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def verified(self) -> bool:
        """Whether links may be created on it."""
        return self.verified_at is not None


class DomainRedirect(IdMixin, Model):
    """Where a visitor is sent instead of a 404 on one domain (Shlink's special redirects): to the base URL
    (``base_url``), to a code that is not a live link (``invalid_short_url``), to any other path that does not
    exist (``regular_404``). None = no redirect of that kind set here.

    ``domain`` is stored as ``links.domain`` is: ``''`` for the platform's own hosts (Shlink's default domain,
    where domain-less links answer), else a custom domain's hostname. The instance-wide fallbacks are settings
    (``urls.*_redirect``), not rows.
    """

    __tablename__ = "domain_redirects"

    domain: Mapped[str] = mapped_column(String(260), unique=True)
    base_url: Mapped[str | None] = mapped_column(Text)
    regular_404: Mapped[str | None] = mapped_column(Text)
    invalid_short_url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
