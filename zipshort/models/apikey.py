"""API keys: named, scoped, optionally expiring, revocable; only a SHA-256 digest is stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, utcnow
from zipshort.models.user import User

# Every scope a key can hold; the Zipline token holds them all, including ones added after it was made.
# ``account`` opens account management (password, username, token, 2FA, sessions); ``keys:*`` key management;
# ``admin`` the admin API.
SCOPES = ("links:read", "links:write", "files:read", "files:write", "stats:read", "domains:read", "domains:write",
          "webhooks:read", "webhooks:write", "keys:read", "keys:write", "account", "admin")
# What a key gets when its creator names no scopes: the workspace (links, files, stats, domains), never the
# account, its keys, its webhooks (an endpoint receives everything that happens to the workspace from then on) or
# the admin API; those must be asked for by name.
ACCOUNT_SCOPES = ("webhooks:read", "webhooks:write", "keys:read", "keys:write", "account", "admin")
DEFAULT_SCOPES = tuple(s for s in SCOPES if s not in ACCOUNT_SCOPES)


class ApiKey(IdMixin, Model):
    """One credential for the API; ``is_token`` marks the user's Zipline token (every scope)."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, shown in listings
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))  # space separated
    is_token: Mapped[bool] = mapped_column(default=False)
    # A bot key acts for the user's workspace, never as the person: no account, key or 2FA endpoints.
    bot: Mapped[bool] = mapped_column(default=False, server_default=false())
    # For the Zipline token: the nonce its value is derived from (with the server secret).
    token_nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    # Roles limiting what the key reaches (services/reach.py; Shlink's AUTHORED_SHORT_URLS and DOMAIN_SPECIFIC):
    # only the links it created; only the links of one domain (None = every domain, '' = the platform's
    # domain-less links, else a custom hostname).
    authored_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    domain: Mapped[str | None] = mapped_column(String(260))

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def scope_set(self) -> frozenset[str]:
        """Scopes as a set."""
        return frozenset(SCOPES) if self.is_token else frozenset(self.scopes.split())
