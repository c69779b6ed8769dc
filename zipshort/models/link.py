"""Short links: one row per link, designed for every dialect (docs/api/README.md, "One model").

``slug`` is the public code (the vanity when one was given, else the random ``code``);
``slug_key`` is its lower-cased form and is unique per ``domain`` ('' = every host), so
random codes and vanities share one case-insensitive namespace.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, TimestampMixin
from zipshort.models.folder import Tag  # noqa: F401  (the tags relationship)

_CRAWLABLE = text("crawlable")


class Link(IdMixin, TimestampMixin, Model):
    """A short link and everything the four dialects attach to it."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("domain", "slug_key", name="uq_links_domain_slug_key"),
        UniqueConstraint("user_id", "external_id", name="uq_links_user_id_external_id"),
        Index("ix_links_slug_key", "slug_key"),
        Index("ix_links_user_id_created_at", "user_id", "created_at", "id"),
        Index("ix_links_user_id_destination", "user_id", "destination", "created_at", "id"),
        Index("ix_links_crawlable", "slug", sqlite_where=_CRAWLABLE, postgresql_where=_CRAWLABLE),
        CheckConstraint("views >= 0", name="views_nonnegative"),
        CheckConstraint("max_views IS NULL OR max_views > 0", name="max_views_positive"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253), default="")
    slug: Mapped[str] = mapped_column(String(255))
    slug_key: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(64))
    vanity: Mapped[str | None] = mapped_column(String(255))
    destination: Mapped[str] = mapped_column(Text)
    destination_type: Mapped[str] = mapped_column(String(8), default="link")  # link | email | phone
    views: Mapped[int] = mapped_column(Integer, default=0)
    max_views: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    title: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    utm: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    external_id: Mapped[str | None] = mapped_column(String(255))
    tenant_id: Mapped[str | None] = mapped_column(String(255))
    partner_id: Mapped[str | None] = mapped_column(String(255))
    folder_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id", ondelete="SET NULL"))
    cloaking: Mapped[bool] = mapped_column(default=False)
    deep_linking: Mapped[bool] = mapped_column(default=False)
    qr_options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # True when a visit needs more than a plain 302 (rules, UTM, cloaking, e-mail/phone, preview tags):
    # the redirect's fast path then hands over to services/smart.py.
    smart: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Not live before this moment (Shlink's validSince); None = live from creation.
    valid_since: Mapped[dt.datetime | None] = mapped_column()
    # Merge the visitor's query string into the destination (Shlink's forwardQuery).
    forward_query: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Listed as allowed in /robots.txt (Shlink's crawlable).
    crawlable: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The API key that created the link (None: a browser session, the CLI, or a key since deleted): what an
    # authored-only key may see (services/reach.py).
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), index=True)

    tags: Mapped[list["Tag"]] = relationship(secondary="link_tags", lazy="selectin", order_by="Tag.name")


class ViewLease(Model):
    """Views of a limited link granted in advance to one server process (``holder``), which hands them out from
    memory and writes back what it used, returning the rest, at every view flush (services/redirects.py).

    ``views + SUM(amount)`` never exceeds ``max_views``. A lease its holder stopped renewing (the process died)
    is counted as used by the maintenance loop: a limit is never exceeded, at the cost of ending early.
    """

    __tablename__ = "view_leases"

    link_id: Mapped[str] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(36), primary_key=True)
    amount: Mapped[int] = mapped_column(Integer)
    renewed_at: Mapped[dt.datetime] = mapped_column(index=True)
