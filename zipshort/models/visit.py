"""Visit analytics: raw visits (kept ``analytics.retention_days``) and the rollups kept forever.

A visit belongs to a link, a file, or nobody (an orphan visit: ``orphan_type`` says which of Shlink's
three kinds). The rollups are keyed by ``target``: the link's or file's id, or ``orphan:<type>``; their
``link_id``/``file_id``/``user_id`` columns exist so deleting a link, a file or a user removes its
statistics with it (``ON DELETE CASCADE``). ``visitor_key`` is a hash of address and user agent under a
salt that lives one day (``visit_salts``), so unique visitors are countable per day and no address is kept.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model

# SQLite only aliases its rowid for INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for years of visits
BigId = BigInteger().with_variant(Integer(), "sqlite")

LINK, FILE, ORPHAN = "link", "file", "orphan"
ORPHAN_TYPES = ("base_url", "invalid_short_url", "regular_404")
DEVICES = ("desktop", "mobile", "tablet", "bot", "other")
DIMENSIONS = ("referrer", "country", "browser", "os", "device", "language", "destination", "url")


class Visit(Model):
    """One visit, as recorded by the analytics writer (services/analytics.py)."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_link_id_at", "link_id", "at"),
        Index("ix_visits_file_id_at", "file_id", "at"),
        Index("ix_visits_kind_at", "kind", "at"),
        Index("ix_visits_at", "at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(8))  # link, file, orphan
    link_id: Mapped[str | None] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    file_id: Mapped[str | None] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    orphan_type: Mapped[str | None] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2048), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    referrer: Mapped[str] = mapped_column(String(1024), default="")
    referrer_host: Mapped[str] = mapped_column(String(255), default="")
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    browser: Mapped[str] = mapped_column(String(64), default="")
    browser_version: Mapped[str] = mapped_column(String(16), default="")
    os: Mapped[str] = mapped_column(String(64), default="")
    device: Mapped[str] = mapped_column(String(8), default="")
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(35), default="")
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(128))
    city: Mapped[str | None] = mapped_column(String(128))
    # from a city database only (``urls.geoip_database``): where the city is, and its IANA time zone
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str | None] = mapped_column(String(64))
    destination: Mapped[str | None] = mapped_column(Text)
    visitor_key: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(45))  # only with analytics.store_address
    counted_only: Mapped[bool] = mapped_column(Boolean, default=False)  # Do-Not-Track: nothing but the count


class _RollupKey:
    """What a rollup row counts for: ``target`` (link id, file id or ``orphan:<type>``) and its owners, whose
    deletion removes the row."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(8))
    link_id: Mapped[str | None] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    file_id: Mapped[str | None] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class VisitHour(_RollupKey, Model):
    """Visits of one target in one UTC hour: the time series (``visitors``: first visits of the day)."""

    __tablename__ = "visit_hours"
    __table_args__ = (
        UniqueConstraint("target", "hour", "bot", name="uq_visit_hours_target_hour_bot"),
        # covering: a link's or file's series is read from the index alone (services/visitstats.py)
        Index("ix_visit_hours_target_hour_counts", "target", "hour", "bot", "count", "visitors"),
        Index("ix_visit_hours_user_id_hour", "user_id", "hour"),
        Index("ix_visit_hours_hour", "hour"),
    )

    hour: Mapped[dt.datetime] = mapped_column()
    bot: Mapped[bool] = mapped_column(Boolean)
    count: Mapped[int] = mapped_column(Integer, default=0)
    visitors: Mapped[int] = mapped_column(Integer, default=0)


class VisitDay(_RollupKey, Model):
    """Visits of one target on one UTC day by one value of one dimension (referrer host, country, …)."""

    __tablename__ = "visit_days"
    __table_args__ = (
        UniqueConstraint("target", "day", "bot", "dimension", "value", name="uq_visit_days_key"),
        # covering: a link's or file's top lists are read from the index alone (services/visitstats.py)
        Index("ix_visit_days_target_day_counts", "target", "day", "bot", "dimension", "value", "count"),
        Index("ix_visit_days_user_id_day", "user_id", "day"),
        Index("ix_visit_days_day", "day"),
    )

    day: Mapped[dt.date] = mapped_column(Date)
    bot: Mapped[bool] = mapped_column(Boolean)
    dimension: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    count: Mapped[int] = mapped_column(Integer, default=0)


class VisitUnique(Model):
    """A visitor key already counted for a target on a UTC day (kept two days, then pruned)."""

    __tablename__ = "visit_uniques"

    target: Mapped[str] = mapped_column(String(48), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    visitor_key: Mapped[str] = mapped_column(String(32), primary_key=True)


class VisitSalt(Model):
    """The random salt of one UTC day's visitor keys; deleted after two days, so keys cannot be reversed."""

    __tablename__ = "visit_salts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
