"""Zipline's instance metrics: snapshots of the instance's counts, taken in the background, read by /api/stats.

A snapshot (``models.Metric``) holds Zipline's MetricData: how many users, files and links there are, the
bytes stored, the views of files and of links, the same per user, and the files per MIME type. The counts
are read by one statement, so on PostgreSQL they all come from one database snapshot.

Every server process runs a ``MetricsTask``; the database decides which of them takes a snapshot: inside
a write transaction (SQLite's write lock; on PostgreSQL an advisory lock on ``metrics-snapshot``) a
process takes one only when the newest is at least 90% of ``features.metrics_interval_seconds`` old.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Integer, String, func, literal, select, union_all

from zipshort.database import lock_key, write_transaction
from zipshort.errors import Forbidden, ValidationError
from zipshort.extensions import db
from zipshort.models import File, Link, Metric, User, utcnow
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime
from zipshort.services.apikeys import Actor

LOCK = "metrics-snapshot"
DUE_FRACTION = 0.9  # a snapshot younger than this share of the interval means another process just took one
DEFAULT_WINDOW = dt.timedelta(days=7)  # /api/stats without ``from``: the last week, as Zipline


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One stored snapshot as a reader may see it (per-user arrays emptied when they are hidden)."""

    id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    data: dict[str, Any]


def _counts_statement() -> CompoundSelect[Any]:
    """One statement returning every count of a snapshot, one row per (kind, key, label).

    kinds: ``users``, ``files``, ``urls`` (totals), ``file_user``, ``url_user`` (per owner: id, username),
    ``type`` (per MIME type).
    """
    none = literal(None, String)
    zero = literal(0, Integer)
    totals_users = select(literal("users"), none, none, func.count(), zero, zero).select_from(User)
    totals_files = select(literal("files"), none, none, func.count(), func.coalesce(func.sum(File.size), 0),
                          func.coalesce(func.sum(File.views), 0)).select_from(File)
    totals_urls = select(literal("urls"), none, none, func.count(), zero,
                         func.coalesce(func.sum(Link.views), 0)).select_from(Link)
    per_file_user = (select(literal("file_user"), User.id, User.username, func.count(), func.sum(File.size),
                            func.sum(File.views))
                     .join(User, User.id == File.user_id).group_by(User.id, User.username))
    per_url_user = (select(literal("url_user"), User.id, User.username, func.count(), zero, func.sum(Link.views))
                    .join(User, User.id == Link.user_id).group_by(User.id, User.username))
    per_type = select(literal("type"), none, File.type, func.count(), zero, zero).group_by(File.type)
    return union_all(totals_users, totals_files, totals_urls, per_file_user, per_url_user, per_type)


def _by_sum(item: dict[str, Any]) -> tuple[int, str]:
    return -item["sum"], item.get("username") or item.get("type") or ""


def current_counts() -> dict[str, Any]:
    """The instance's counts now, as Zipline's MetricData (read with one statement)."""
    data: dict[str, Any] = {"users": 0, "files": 0, "fileViews": 0, "urls": 0, "urlViews": 0, "storage": 0,
                            "filesUsers": [], "urlsUsers": [], "types": []}
    for kind, _key, label, n, size, views in db.session.execute(_counts_statement()):
        n, size, views = int(n), int(size or 0), int(views or 0)
        if kind == "users":
            data["users"] = n
        elif kind == "files":
            data.update(files=n, storage=size, fileViews=views)
        elif kind == "urls":
            data.update(urls=n, urlViews=views)
        elif kind == "file_user":
            data["filesUsers"].append({"username": label, "sum": n, "storage": size, "views": views})
        elif kind == "url_user":
            data["urlsUsers"].append({"username": label, "sum": n, "views": views})
        else:
            data["types"].append({"type": label, "sum": n})
    for name in ("filesUsers", "urlsUsers", "types"):
        data[name].sort(key=_by_sum)
    return data


def take_snapshot(rt: Runtime, now: dt.datetime | None = None) -> Metric | None:
    """Store a snapshot of the counts at ``now``, unless one younger than 90% of the interval exists
    (another process, or this one, just took it); return the new row, or None when skipped.

    Safe to call from several processes at once: the check and the insert share one write transaction,
    serialised by SQLite's write lock or PostgreSQL's advisory lock.
    """
    now = now or utcnow()
    fresh_for = dt.timedelta(seconds=rt.settings.features.metrics_interval_seconds * DUE_FRACTION)
    with write_transaction(db.session) as session:
        lock_key(session, LOCK)
        newest = session.scalar(select(func.max(Metric.created_at)))
        if newest is not None and now - newest < fresh_for:
            return None
        row = Metric(data=current_counts(), created_at=now, updated_at=now)
        session.add(row)
    return row


def snapshots(rt: Runtime, actor: Actor, start: dt.datetime | None, end: dt.datetime | None,
              now: dt.datetime | None = None) -> list[Snapshot]:
    """The snapshots taken between ``start`` and ``end`` (inclusive; both None: every one), newest first, under
    the ``features.metrics_*`` rules.

    Raises:
        Forbidden: metrics are disabled, or only administrators may read them and ``actor`` is not one (or
            came with a key without the ``admin`` scope).
        ValidationError: ``start`` after ``end``, or in the future.
    """
    features = rt.settings.features
    if not features.metrics_enabled:
        raise Forbidden("metrics are disabled", code="metrics_disabled")
    if features.metrics_admin_only and not (actor.admin and "admin" in actor.scopes):
        raise Forbidden("Admin only", code="not_admin")
    now = now or utcnow()
    if start is not None and end is not None and start > end:
        raise ValidationError("From date must be before to date", code="invalid_range", field="from")
    if start is not None and start > now:
        raise ValidationError("From date must be in the past", code="invalid_range", field="from")
    stmt = select(Metric).order_by(Metric.created_at.desc(), Metric.id.desc())
    if start is not None:
        stmt = stmt.where(Metric.created_at >= start)
    if end is not None:
        stmt = stmt.where(Metric.created_at <= end)
    hide = not features.metrics_show_user_specific
    found = [Snapshot(r.id, r.created_at, r.updated_at,
                      {**r.data, "filesUsers": [], "urlsUsers": []} if hide else dict(r.data))
             for r in db.session.scalars(stmt)]
    db.session.rollback()
    return found


def MetricsTask(rt: Runtime, scope: Callable[[], AbstractContextManager[object]],  # noqa: N802 - reads as a class
                interval: float | None = None) -> Periodic:
    """The background snapshot taker of ``zipshort serve``: every ``interval`` seconds (default
    features.metrics_interval_seconds), inside ``scope()`` (the database scope the caller binds ``db.session``
    with), ``take_snapshot``."""

    def run() -> None:
        with scope():
            take_snapshot(rt)

    return Periodic("metrics", interval or rt.settings.features.metrics_interval_seconds, run)
