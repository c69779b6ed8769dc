"""Maintenance: reconcile storage with the database (fsck) and prune expired files."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from zipshort.database import write_transaction
from zipshort.extensions import db
from zipshort.models import File, User, utcnow
from zipshort.periodic import Periodic
from zipshort.services.invites import prune_invites
from zipshort.services.partials import prune_abandoned
from zipshort.services.thumbnails import generate_missing
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


def fsck(storage: Storage, remove: bool = False, temp_age: dt.timedelta = dt.timedelta(hours=1)) -> FsckReport:
    """Compare blobs with rows: blobs without a row are orphans (removed with ``remove``); rows without
    a blob are reported; temp files of interrupted writes older than ``temp_age`` are removed with ``remove``.

    Blobs written in the last ``temp_age`` are left alone: an upload may be between its blob and its row.
    """
    report = FsckReport(removed=remove)
    rows: dict[str, str] = {}
    thumbnails: set[str] = set()
    for key, name, thumb in db.session.execute(select(File.storage_key, File.name, File.thumbnail_key)):
        rows[key] = name
        if thumb and thumb != "-":
            thumbnails.add(thumb)
    db.session.rollback()
    cutoff = utcnow() - temp_age
    for key in storage.keys():
        if key not in rows and key not in thumbnails and storage.modified(key) < cutoff:
            report.orphan_blobs.append(key)
    report.missing_blobs = sorted(name for key, name in rows.items() if not storage.exists(key))
    if remove:
        for key in report.orphan_blobs:
            storage.delete(key)
        report.temp_removed = storage.clean_temp(temp_age)
    return report


def prune_expired(storage: Storage, now: dt.datetime | None = None) -> int:
    """Delete expired files: rows and quota first, in batches, then their blobs. Return how many."""
    now = now or utcnow()
    total = 0
    while True:
        with write_transaction(db.session):
            batch = db.session.execute(
                select(File.id, File.user_id, File.size, File.storage_key, File.thumbnail_key)
                .where(File.expires_at.is_not(None), File.expires_at <= now).limit(PRUNE_BATCH)).all()
            if not batch:
                return total
            db.session.execute(delete(File).where(File.id.in_([row.id for row in batch])))
            usage: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for row in batch:
                usage[row.user_id][0] += row.size
                usage[row.user_id][1] += 1
            for user_id, (size, count) in usage.items():
                db.session.execute(update(User).where(User.id == user_id)
                                   .values(used_bytes=User.used_bytes - size, file_count=User.file_count - count)
                                   .execution_options(synchronize_session=False))
        for row in batch:
            storage.delete(row.storage_key)
            if row.thumbnail_key and row.thumbnail_key != "-":
                storage.delete(row.thumbnail_key)
        total += len(batch)


def maintenance_round(storage: Storage) -> None:
    """One round of background upkeep (needs an app context): expired files, stale chunks, thumbnails."""
    pruned = prune_expired(storage)
    if pruned:
        log.info("pruned %d expired files", pruned)
    prune_abandoned(storage)
    prune_invites()
    generate_missing(storage)


def Pruner(app, storage: Storage, interval: float) -> Periodic:  # noqa: N802 - reads as a class
    """The background maintenance loop of ``zipshort serve``."""

    def run() -> None:
        with app.app_context():
            maintenance_round(storage)

    return Periodic("maintenance", interval, run)
