"""Maintenance: reconcile storage with rows (fsck), clean up after interrupted uploads, prune expired files."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import delete, select, update

from zipshort.database import publish_after_commit, write_transaction
from zipshort.events import FileDeleted
from zipshort.extensions import db
from zipshort.models import File, User, utcnow
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime
from zipshort.services import analytics, audit
from zipshort.services.files import blob_keys
from zipshort.services.invites import prune_invites
from zipshort.services.partials import SESSION_IDLE, prune_abandoned, session_ids
from zipshort.services.sessions import prune_sessions
from zipshort.services.thumbnails import generate_missing, stored_thumbnail
from zipshort.services.visits import reclaim_leases
from zipshort.storage import Storage

log = logging.getLogger("zipshort.maintenance")
PRUNE_BATCH = 500


@dataclass
class FsckReport:
    """What fsck found (and removed, when asked)."""

    orphan_blobs: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)  # file names whose blob is gone
    temp_removed: int = 0
    removed: bool = False


@dataclass
class CleanupReport:
    """What one storage clean-up removed."""

    sessions_ended: int = 0
    temp_removed: int = 0
    orphans_removed: int = 0


def _referenced() -> tuple[dict[str, str], set[str]]:
    """Storage keys the database points at: file blobs (key → file name) and thumbnails."""
    rows: dict[str, str] = {}
    thumbnails: set[str] = set()
    for key, name, thumb in db.session.execute(select(File.storage_key, File.name, File.thumbnail_key)):
        rows[key] = name
        if (stored := stored_thumbnail(thumb)) is not None:
            thumbnails.add(stored)
    db.session.rollback()
    return rows, thumbnails


def _orphans(storage: Storage, rows: dict[str, str], thumbnails: set[str], cutoff: dt.datetime) -> list[str]:
    """Blobs written before ``cutoff`` that no row points at (younger ones may be uploads between blob and row)."""
    return [key for key in storage.keys()
            if key not in rows and key not in thumbnails and storage.modified(key) < cutoff]


def fsck(storage: Storage, remove: bool = False, temp_age: dt.timedelta = dt.timedelta(hours=1)) -> FsckReport:
    """Compare blobs with rows: blobs without a row are orphans (removed with ``remove``); rows without
    a blob are reported; temp files of interrupted writes older than ``temp_age`` are removed with ``remove``.

    Blobs written in the last ``temp_age`` are left alone: an upload may be between its blob and its row.
    """
    report = FsckReport(removed=remove)
    rows, thumbnails = _referenced()
    report.orphan_blobs = _orphans(storage, rows, thumbnails, utcnow() - temp_age)
    report.missing_blobs = sorted(name for key, name in rows.items() if not storage.exists(key))
    if remove:
        for key in report.orphan_blobs:
            storage.delete(key)
        report.temp_removed = storage.clean_temp(temp_age, keep=session_ids())
    return report


def check_storage(rt: Runtime, remove: bool = False, temp_age: dt.timedelta = dt.timedelta(hours=1)) -> FsckReport:
    """``zipshort fsck``: :func:`fsck` of the runtime's storage."""
    return fsck(rt.storage, remove=remove, temp_age=temp_age)


@dataclass(frozen=True)
class PruneReport:
    """What one ``zipshort prune`` removed."""

    files: int
    sessions: int
    invites: int


def prune_now(rt: Runtime) -> PruneReport:
    """``zipshort prune``: expired files (rows and quota first, then blobs), abandoned chunked uploads,
    expired or used-up invites."""
    return PruneReport(files=prune_expired(rt), sessions=prune_abandoned(rt.storage), invites=prune_invites())


def clean_storage(rt: Runtime, min_age: dt.timedelta | None = None, now: dt.datetime | None = None) -> CleanupReport:
    """Remove what interrupted uploads left behind (``zipshort serve`` runs it at start and periodically).

    In order: chunked uploads past their end, idle for 30 minutes or stuck finishing for ``min_age``
    (default files.cleanup_min_age_seconds) end and release their quota reservations; temp files
    (spools, interrupted writes, assembly files of ended uploads) older than ``min_age`` go; blobs older
    than ``min_age`` that no row points at go. Leaves no transaction open.
    """
    if min_age is None:
        min_age = dt.timedelta(seconds=rt.settings.files.cleanup_min_age_seconds)
    now = now or utcnow()
    storage = rt.storage
    report = CleanupReport()
    report.sessions_ended = prune_abandoned(storage, now, stuck_after=min(min_age, SESSION_IDLE))
    report.temp_removed = storage.clean_temp(min_age, keep=session_ids())
    rows, thumbnails = _referenced()
    for key in _orphans(storage, rows, thumbnails, now - min_age):
        storage.delete(key)
        report.orphans_removed += 1
    if report.sessions_ended or report.temp_removed or report.orphans_removed:
        log.info("storage clean-up: %d chunked uploads ended, %d temp files and %d orphan blobs removed",
                 report.sessions_ended, report.temp_removed, report.orphans_removed)
    return report


def prune_expired(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Delete expired files: rows and quota first, in batches, then their blobs (``file.deleted`` for each, by
    nobody). Return how many."""
    storage = rt.storage
    now = now or utcnow()
    total = 0
    while True:
        with write_transaction(db.session):
            ids = db.session.scalars(select(File.id).where(File.expires_at.is_not(None), File.expires_at <= now)
                                     .limit(PRUNE_BATCH)).all()
            if not ids:
                return total
            # Counted from what this DELETE removed: a file deleted meanwhile by its owner (who took it off
            # the counters) is not among them, so nothing is taken off twice.
            batch = db.session.execute(
                delete(File).where(File.id.in_(ids))
                .returning(File.user_id, File.size, File.storage_key, File.thumbnail_key, File.id, File.name)
                .execution_options(synchronize_session=False)).all()
            publish_after_commit(db.session, rt.events, *(FileDeleted(
                file_id=row.id, filename=row.name, owner_id=row.user_id, size=row.size) for row in batch))
            usage: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for row in batch:
                usage[row.user_id][0] += row.size
                usage[row.user_id][1] += 1
            for user_id, (size, count) in usage.items():
                db.session.execute(update(User).where(User.id == user_id)
                                   .values(used_bytes=User.used_bytes - size, file_count=User.file_count - count)
                                   .execution_options(synchronize_session=False))
        for key in blob_keys((row.storage_key, row.thumbnail_key) for row in batch):
            storage.delete(key)
        total += len(batch)


def lease_lifetime(rt: Runtime) -> dt.timedelta:
    """How long a lease may go unrenewed before its holder counts as dead (ten view flushes, at least a minute)."""
    return dt.timedelta(seconds=max(60.0, 10 * rt.settings.urls.view_flush_seconds))


def maintenance_round(rt: Runtime) -> None:
    """One round of background upkeep (needs an app context): expired files, stale chunks, invites, browser
    sessions, raw visits past their retention (and the day salts and unique keys of past days), audit log
    entries past theirs, thumbnails."""
    storage = rt.storage
    pruned = prune_expired(rt)
    if pruned:
        log.info("pruned %d expired files", pruned)
    prune_abandoned(storage)
    prune_invites()
    prune_sessions()
    reclaimed = reclaim_leases(db.engine, utcnow(), lease_lifetime(rt))
    if reclaimed:
        log.warning("counted %d leased views of limited links as used: their server process stopped renewing them",
                    reclaimed)
    visits = analytics.prune(rt, db.engine, utcnow())
    if visits:
        log.info("pruned %d visits older than %d days", visits, rt.settings.analytics.retention_days)
    entries = audit.prune(rt, utcnow())
    if entries:
        log.info("pruned %d audit log entries older than %d days", entries, rt.settings.audit.retention_days)
    generate_missing(storage)


def Pruner(rt: Runtime, interval: float,  # noqa: N802 - reads as a class
           scope: Callable[[], AbstractContextManager[object]], leads: Callable[[], bool] = lambda: True) -> Periodic:
    """The background maintenance loop of ``zipshort serve``: a round every ``interval`` seconds, and the
    storage clean-up every files.cleanup_interval_seconds (``serve`` runs one at start).

    Each round runs inside ``scope()``, the database scope the caller binds ``db.session`` with (``serve``
    passes its app's ``app_context``); the loop itself knows only the runtime. A round runs only while
    ``leads()`` says this process holds the maintenance role (services/leadership.py: once across processes).
    """
    every = rt.settings.files.cleanup_interval_seconds
    last_cleanup = time.monotonic()

    def run() -> None:
        nonlocal last_cleanup
        if not leads():
            return
        with scope():
            maintenance_round(rt)
            if every and time.monotonic() - last_cleanup >= every:
                last_cleanup = time.monotonic()
                clean_storage(rt)

    return Periodic("maintenance", interval, run)
