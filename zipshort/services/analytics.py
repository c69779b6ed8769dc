"""Visit analytics: the writer that turns visit events into stored visits and rollups, and their upkeep.

The redirect and the download only publish a visit event (``LinkVisited``, ``FileViewed``,
``OrphanVisited``) carrying what the request said (``events.Visitor``). ``collect`` puts it in the runtime's
bounded ``VisitQueue`` (a full queue drops and counts); ``write_batch`` — run by the ``VisitWriter``
thread, on shutdown and by ``flush`` — parses the user agents (cached), looks up the places, hashes the
visitor keys and, in one transaction, inserts the raw visits and adds them to the hourly series and the
daily per-dimension rollups. Rollups are additive upserts, so two server processes can write at once.

Privacy: the address becomes ``visitor_key``, a hash of address and user agent under a random salt that
lives two days (``visit_salts``); the address itself is kept only with ``analytics.store_address`` (and
then anonymised to /24 or /48 unless ``analytics.anonymize_address`` is off). With ``analytics.honor_dnt``
a visit that sends ``DNT: 1`` or ``Sec-GPC: 1`` is stored as a bare count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from zipshort.database import exclusive_writer
from zipshort.events import Event, Facts, FileViewed, LinkVisited, OrphanVisited, Visitor, current_request_id
from zipshort.geoip import Place
from zipshort.models import File, Link, Visit, VisitDay, VisitHour, VisitSalt, VisitUnique
from zipshort.models.visit import FILE, LINK, ORPHAN, ORPHAN_TYPES
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime

log = logging.getLogger("zipshort.analytics")

VISIT_EVENTS: tuple[type[Event], ...] = (LinkVisited, FileViewed, OrphanVisited)
UNKNOWN = "unknown"
DIRECT = "direct"
_IN_CHUNK = 500  # ids per IN (...) list
_visits, _hours, _days = Visit.__table__, VisitHour.__table__, VisitDay.__table__
_uniques, _salts = VisitUnique.__table__, VisitSalt.__table__


def orphan_visit(rt: Runtime, kind: str, facts: Facts) -> None:
    """Publish a visit that found nothing (``kind``: one of ``ORPHAN_TYPES``), unless orphan visits are off."""
    if kind not in ORPHAN_TYPES:
        raise ValueError(kind)
    if rt.settings.analytics.orphan_visits and rt.events.wants(OrphanVisited):
        visitor = facts()
        rt.events.publish(OrphanVisited(kind=kind, host=visitor.hostname, url=visitor.visited_url(),
                                        visitor=visitor, request_id=current_request_id()))


def collect(rt: Runtime) -> Callable[[Event], None]:
    """The event subscriber that queues visits for the writer (registered by ``create_app``)."""
    queue = rt.visits

    def queue_visit(event: Event) -> None:
        queue.offer(event)

    return queue_visit


def flush(rt: Runtime, engine: Engine, timeout: float = 10.0) -> int:
    """Deliver every published visit event and write everything queued; return how many visits were stored."""
    rt.events.drain(timeout)
    return write_queued(rt, engine)


def write_queued(rt: Runtime, engine: Engine) -> int:
    """Write the queue in batches of ``analytics.batch_size`` until it is empty (the writer's round)."""
    stored = 0
    while True:
        batch = cast(list[Event], rt.visits.take(rt.settings.analytics.batch_size))
        if not batch:
            return stored
        try:
            stored += write_batch(rt, engine, batch)
        except Exception:
            if rt.visits.failed_once():
                rt.visits.give_back(batch)  # the next round tries again (a lost connection, a racing deletion)
            else:  # failed twice in a row: a batch that can never be stored must not stop every later visit
                rt.visits.discard(len(batch))
                log.exception("dropped %d visits that could not be stored twice in a row", len(batch))
                continue
            raise
        rt.visits.succeeded()


def VisitWriter(rt: Runtime, engine: Engine) -> Periodic:  # noqa: N802 - reads as a class
    """The background writer; its ``stop`` writes what is still queued."""
    return Periodic("visit-writer", rt.settings.analytics.flush_seconds, lambda: write_queued(rt, engine),
                    run_on_stop=True)


# Turning events into rows ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Target:
    kind: str
    key: str  # the rollups' target: link id, file id or orphan:<type>
    link_id: str | None
    file_id: str | None
    user_id: str | None


def anonymize(address: str) -> str:
    """An address with its host part cleared: /24 for IPv4, /48 for IPv6 (Shlink's rule); '' if not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def referrer_host(referrer: str) -> str:
    """The host of a referrer URL, lower-case, without ``www.``; '' when there is none."""
    if not referrer:
        return ""
    try:
        host = urlsplit(referrer).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")[:255]


def base_language(tag: str) -> str:
    """``en`` for ``en-gb``; '' for none or ``*``."""
    base = tag.split("-", 1)[0].strip().lower()
    return base if base.isalpha() and len(base) <= 8 else ""


def _visitor_key(salt: str, visitor: Visitor) -> str:
    material = f"{salt}\0{visitor.address}\0{visitor.user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def _targets(conn: Connection, events: list[Event]) -> dict[tuple[str, str], _Target]:
    """The link or file behind each visit, with its owner; a link or file deleted since has none."""
    found: dict[tuple[str, str], _Target] = {}
    wanted = ((LINK, Link.__table__, {e.link_id for e in events if isinstance(e, LinkVisited)}),
              (FILE, File.__table__, {e.file_id for e in events if isinstance(e, FileViewed)}))
    for kind, table, id_set in wanted:
        ids = sorted(id_set)
        for start in range(0, len(ids), _IN_CHUNK):
            rows = conn.execute(select(table.c.id, table.c.user_id).where(table.c.id.in_(ids[start:start + _IN_CHUNK])))
            for target_id, user_id in rows:
                found[(kind, target_id)] = _Target(kind, target_id, target_id if kind == LINK else None,
                                                   target_id if kind == FILE else None, user_id)
    for kind in ORPHAN_TYPES:
        found[(ORPHAN, kind)] = _Target(ORPHAN, f"orphan:{kind}", None, None, None)
    return found


def _day_salts(conn: Connection, days: Iterable[dt.date]) -> dict[dt.date, str]:
    """Each day's salt, made by whichever writer needs it first (a conflict keeps the first one)."""
    wanted = sorted(set(days))
    known = dict(conn.execute(select(_salts.c.day, _salts.c.salt).where(_salts.c.day.in_(wanted))).all())
    conn.commit()
    missing = [d for d in wanted if d not in known]
    if missing:
        with conn.execution_options(sqlite_immediate=True).begin():
            conn.execute(_upsert(conn, _salts, ["day"], None),
                         [{"day": d, "salt": secrets.token_hex(32)} for d in missing])
            known = dict(conn.execute(select(_salts.c.day, _salts.c.salt).where(_salts.c.day.in_(wanted))).all())
    return known


def _upsert(conn: Connection, table: Any, keys: list[str], add: tuple[str, ...] | None) -> Any:
    """INSERT … ON CONFLICT (keys) DO NOTHING, or DO UPDATE adding the ``add`` columns: one statement for a
    whole list of rows (an executemany, which SQLAlchemy compiles once and caches)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if add is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(index_elements=keys, set_={c: table.c[c] + stmt.excluded[c] for c in add})


def _row(rt: Runtime, event: Event, target: _Target, salts: dict[dt.date, str],
         places: dict[tuple[str | None, str], Place]) -> dict[str, Any]:
    settings = rt.settings.analytics
    visitor = getattr(event, "visitor", None) or Visitor()
    at = event.at.astimezone(dt.timezone.utc)
    counted_only = settings.honor_dnt and visitor.do_not_track
    row: dict[str, Any] = {
        "at": at, "kind": target.kind, "link_id": target.link_id, "file_id": target.file_id,
        "orphan_type": event.kind if isinstance(event, OrphanVisited) else None,
        "url": (getattr(event, "url", "") or visitor.visited_url()) if not counted_only else "",
        "host": (getattr(event, "host", None) or "")[:255],
        "destination": None, "referrer": "", "referrer_host": "", "user_agent": "", "browser": "",
        "browser_version": "", "os": "", "device": "", "bot": False, "language": "", "country": None,
        "region": None, "city": None, "visitor_key": None, "address": None, "counted_only": counted_only,
    }
    if counted_only:
        return row
    agent = rt.agents(visitor.user_agent)
    place = places.get((visitor.country_hint, visitor.address))
    if place is None:  # a batch holds the same few addresses many times: look each up once
        place = places[(visitor.country_hint, visitor.address)] = rt.country.place(visitor.country_hint,
                                                                                   visitor.address)
    referrer = visitor.referrer[:1024]
    row.update(
        destination=getattr(event, "destination", None), referrer=referrer, referrer_host=referrer_host(referrer),
        user_agent=visitor.user_agent[:512], browser=agent.browser[:64], browser_version=agent.browser_version[:16],
        os=agent.os[:64], device=agent.device, bot=agent.bot,
        language=next(iter(visitor.language_tags()), "")[:35],
        country=place.country, region=place.region and place.region[:128], city=place.city and place.city[:128],
        visitor_key=_visitor_key(salts[at.date()], visitor) if visitor.address or visitor.user_agent else None,
        address=(anonymize(visitor.address) if settings.anonymize_address else visitor.address[:45]) or None
        if settings.store_address else None,
    )
    return row


def _dimensions(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The rollup values of one stored visit: every dimension says ``unknown`` for a bare count."""
    if row["counted_only"]:
        values = [("referrer", UNKNOWN), ("country", UNKNOWN), ("browser", UNKNOWN), ("os", UNKNOWN),
                  ("device", UNKNOWN), ("language", UNKNOWN)]
    else:
        values = [("referrer", row["referrer_host"] or DIRECT), ("country", row["country"] or UNKNOWN),
                  ("browser", row["browser"] or UNKNOWN), ("os", row["os"] or UNKNOWN),
                  ("device", row["device"] or UNKNOWN), ("language", base_language(row["language"]) or UNKNOWN)]
    if row["kind"] == LINK:
        values.append(("destination", UNKNOWN if row["counted_only"] else (row["destination"] or UNKNOWN)[:255]))
    elif row["kind"] == ORPHAN:
        values.append(("url", (urlsplit(row["url"]).path or "/")[:255] if row["url"] else UNKNOWN))
    return values


def write_batch(rt: Runtime, engine: Engine, events: list[Event]) -> int:
    """Store ``events`` (visit events) and add them to the rollups, in one transaction; return how many were stored.

    Everything that costs time — finding the links' owners, parsing agents, places, keys, grouping — is done
    before the write transaction, which only runs the statements: on SQLite it holds the database's one write
    lock, so the redirects that count views wait for it as little as possible (they queue on the same
    in-process lock instead of sleeping in SQLite's busy handler). A visit whose link or file was deleted
    meanwhile is left out (a deletion racing the transaction fails the batch, and the next round leaves it out).
    """
    visits = [e for e in events if isinstance(e, VISIT_EVENTS)]
    if not visits:
        return 0
    with engine.connect() as conn:
        targets = _targets(conn, visits)
        conn.commit()  # end the read: nothing is held while the batch is prepared
        salts = _day_salts(conn, (e.at.astimezone(dt.timezone.utc).date() for e in visits))
        rows, row_targets = [], []
        places: dict[tuple[str | None, str], Place] = {}
        for event in visits:
            if isinstance(event, LinkVisited):
                target = targets.get((LINK, event.link_id))
            elif isinstance(event, FileViewed):
                target = targets.get((FILE, event.file_id))
            elif isinstance(event, OrphanVisited):
                target = targets.get((ORPHAN, event.kind))
            else:
                continue
            if target is None:
                continue
            rows.append(_row(rt, event, target, salts, places))
            row_targets.append(target)
        if not rows:
            return 0
        rollup = _Rollup(rows, row_targets)
        with exclusive_writer(engine), conn.execution_options(sqlite_immediate=True).begin():
            conn.execute(insert(_visits), rows)
            rollup.store(conn)
    return len(rows)


class _Rollup:
    """A batch grouped for the rollups: hourly counts, daily dimension counts, candidate first visits of the day."""

    def __init__(self, rows: list[dict[str, Any]], targets: list[_Target]) -> None:
        self.first_seen: dict[tuple[str, dt.date, str], tuple[dt.datetime, bool]] = {}
        self.hours: dict[tuple[str, dt.datetime, bool], list[int]] = defaultdict(lambda: [0, 0])
        self.days: dict[tuple[str, dt.date, bool, str, str], int] = defaultdict(int)
        self.owners = {t.key: t for t in targets}
        for row, target in zip(rows, targets, strict=True):
            at: dt.datetime = row["at"]
            hour = at.replace(minute=0, second=0, microsecond=0)
            self.hours[(target.key, hour, row["bot"])][0] += 1
            if row["visitor_key"]:
                self.first_seen.setdefault((target.key, at.date(), row["visitor_key"]), (hour, row["bot"]))
            for dimension, value in _dimensions(row):
                self.days[(target.key, at.date(), row["bot"], dimension, value)] += 1

    def _owner(self, key: str) -> dict[str, Any]:
        t = self.owners[key]
        return {"kind": t.kind, "link_id": t.link_id, "file_id": t.file_id, "user_id": t.user_id}

    def store(self, conn: Connection) -> None:
        """Inside the write transaction: claim the day's unique keys, then add to the hours and the days."""
        keys = [{"target": t, "day": d, "visitor_key": k} for t, d, k in sorted(self.first_seen)]
        if keys:
            claim = _upsert(conn, _uniques, ["target", "day", "visitor_key"], None).returning(
                _uniques.c.target, _uniques.c.day, _uniques.c.visitor_key)
            for t, d, k in conn.execute(claim, keys):  # only the keys not seen before today come back
                hour, bot = self.first_seen[(t, d, k)]
                self.hours[(t, hour, bot)][1] += 1
        # sorted, so concurrent writers take the rows' locks in the same order (no deadlock on PostgreSQL)
        hour_rows = [{"target": k[0], "hour": k[1], "bot": k[2], "count": v[0], "visitors": v[1], **self._owner(k[0])}
                     for k, v in sorted(self.hours.items())]
        day_rows = [{"target": k[0], "day": k[1], "bot": k[2], "dimension": k[3], "value": k[4], "count": n,
                     **self._owner(k[0])} for k, n in sorted(self.days.items())]
        conn.execute(_upsert(conn, _hours, ["target", "hour", "bot"], ("count", "visitors")), hour_rows)
        conn.execute(_upsert(conn, _days, ["target", "day", "bot", "dimension", "value"], ("count",)), day_rows)


# Upkeep -------------------------------------------------------------------------------------------

def prune(rt: Runtime, engine: Engine, now: dt.datetime, batch: int = 10_000) -> int:
    """Delete raw visits older than ``analytics.retention_days`` in batches, and the salts and unique keys of
    days that are over (so yesterday's keys can no longer be recomputed); return how many visits went."""
    cutoff = now - dt.timedelta(days=rt.settings.analytics.retention_days)
    removed = 0
    while True:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            ids = select(_visits.c.id).where(_visits.c.at < cutoff).order_by(_visits.c.id).limit(batch)
            gone = conn.execute(delete(_visits).where(_visits.c.id.in_(ids.scalar_subquery()))).rowcount
        removed += gone
        if gone < batch:
            break
    keep_from = (now - dt.timedelta(days=1)).date()
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(delete(_uniques).where(_uniques.c.day < keep_from))
        conn.execute(delete(_salts).where(_salts.c.day < keep_from))
    return removed
