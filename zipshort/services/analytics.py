"""Visit analytics: the writer that turns visit events into stored visits and rollups, and their upkeep.

The redirect and the download only publish a visit event (``LinkVisited``, ``FileViewed``,
``OrphanVisited``) carrying what the request said (``events.Visitor``). ``collect`` puts it in the runtime's
bounded ``VisitQueue`` (a full one holds the request a while, then drops and counts); ``write_batch`` —
run by the ``VisitWriter``
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
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from zipshort.config.sections import AnalyticsSettings
from zipshort.database import exclusive_writer
from zipshort.events import Event, Facts, FileViewed, LinkVisited, OrphanVisited, Visitor, current_request_id
from zipshort.models import File, Link, Visit, VisitSalt, VisitUnique
from zipshort.models.visit import FILE, LINK, ORPHAN, ORPHAN_TYPES
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime
from zipshort.services.visitstore import VisitStore, store_for

log = logging.getLogger("zipshort.analytics")

VISIT_EVENTS: tuple[type[Event], ...] = (LinkVisited, FileViewed, OrphanVisited)
UNKNOWN = "unknown"
DIRECT = "direct"
_IN_CHUNK = 500  # ids per IN (...) list
_visits, _uniques, _salts = Visit.__table__, VisitUnique.__table__, VisitSalt.__table__


def orphan_visit(rt: Runtime, kind: str, facts: Facts, destination: str | None = None) -> None:
    """Publish a visit that found nothing (``kind``: one of ``ORPHAN_TYPES``), unless orphan visits are off;
    ``destination``: where a special redirect sent the visitor (services/domains.py ``special_redirect``)."""
    if kind not in ORPHAN_TYPES:
        raise ValueError(kind)
    if rt.settings.analytics.orphan_visits and rt.events.wants(OrphanVisited):
        visitor = facts()
        rt.events.publish(OrphanVisited(kind=kind, host=visitor.hostname, url=visitor.visited_url(),
                                        destination=destination, visitor=visitor, request_id=current_request_id()))


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


Sink = Callable[[list[Event]], int]
"""Where a round's batches go: ``write_batch`` in this process, or a writer process (``zipshort.serving``)."""


def write_queued(rt: Runtime, engine: Engine, sink: Sink | None = None) -> int:
    """Write the queue in batches of ``analytics.batch_size`` until it is empty (the writer's round); ``sink``
    stores one batch and says how many visits it stored (default: ``write_batch`` here)."""
    store: Sink = sink or (lambda batch: write_batch(rt, engine, batch))
    stored = 0
    while True:
        batch = cast(list[Event], rt.visits.take(rt.settings.analytics.batch_size))
        if not batch:
            return stored
        started = time.monotonic()
        try:
            done = store(batch)
        except Exception:
            if rt.visits.failed_once():
                rt.visits.give_back(batch)  # the next round tries again (a lost connection, a racing deletion)
            else:  # failed twice in a row: a batch that can never be stored must not stop every later visit
                rt.visits.discard(len(batch))
                log.exception("dropped %d visits that could not be stored twice in a row", len(batch))
                continue
            raise
        rt.visits.succeeded()
        rt.visits.written(len(batch), time.monotonic() - started)
        stored += done


def VisitWriter(rt: Runtime, engine: Engine, sink: Sink | None = None) -> Periodic:  # noqa: N802 - reads as a class
    """The background writer: a round every ``analytics.flush_seconds``, or as soon as a batch is waiting; its
    ``stop`` writes what is still queued."""
    return Periodic("visit-writer", rt.settings.analytics.flush_seconds, lambda: write_queued(rt, engine, sink),
                    run_on_stop=True, wake=rt.visits.ready)


# Visit events as plain tuples, for a writer in another process: pickling the frozen dataclasses themselves
# costs ~40 µs an event in the sending process, the tuples ~7 µs.

_PACKED: tuple[type[Event], ...] = VISIT_EVENTS
_FIELDS = MappingProxyType({kind: tuple(f.name for f in fields(kind) if f.name not in ("at", "visitor"))
                            for kind in _PACKED})
_VISITOR_FIELDS = tuple(f.name for f in fields(Visitor))


def pack(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """Visit events as tuples of builtins: the event's kind, its time as a POSIX timestamp (a datetime pickles
    ~5 times slower; microseconds survive the float until 2255), its other fields, the visitor's fields."""
    getters = {kind: attrgetter(*names) for kind, names in _FIELDS.items()}
    of_visitor = attrgetter(*_VISITOR_FIELDS)
    out = []
    for event in events:
        kind = type(event)
        visitor = getattr(event, "visitor", None)
        out.append((_PACKED.index(kind), event.at.timestamp(), getters[kind](event),
                    None if visitor is None else of_visitor(visitor)))
    return out


def unpack(rows: Iterable[tuple[Any, ...]]) -> list[Event]:
    """The events ``pack`` made the tuples of."""
    events: list[Event] = []
    utc = dt.timezone.utc
    for index, at, values, visitor in rows:
        kind = _PACKED[index]
        given = dict(zip(_FIELDS[kind], values, strict=True))
        given["at"] = dt.datetime.fromtimestamp(at, utc)
        if visitor is not None:
            given["visitor"] = Visitor(**dict(zip(_VISITOR_FIELDS, visitor, strict=True)))
        events.append(kind(**given))
    return events


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


def kept_address(settings: AnalyticsSettings, address: str | None) -> str | None:
    """What the privacy settings let zipshort store of a client's address: nothing without
    ``analytics.store_address``, else its /24 or /48 (``anonymize``) unless ``anonymize_address`` is off."""
    if not settings.store_address or not address:
        return None
    return (anonymize(address) if settings.anonymize_address else address[:45]) or None


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
            conn.execute(_upsert_salts(conn),
                         [{"day": d, "salt": secrets.token_hex(32)} for d in missing])
            known = dict(conn.execute(select(_salts.c.day, _salts.c.salt).where(_salts.c.day.in_(wanted))).all())
    return known


def _upsert_salts(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(_salts).on_conflict_do_nothing(index_elements=["day"])


# What a stored visit adds to the rollups, per visit: (target, UTC day, UTC hour of the day (0-23), bot, visitor key,
# then one value per dimension of _DIMENSIONS, then (dimension, value) of the kind's own dimension or None).
_TARGET, _DAY, _HOUR, _BOT, _KEY = 0, 1, 2, 3, 4
_DIMENSIONS = ("referrer", "country", "browser", "os", "device", "language")
_OWN = _KEY + 1 + len(_DIMENSIONS)
_COUNTED_ONLY = (UNKNOWN,) * len(_DIMENSIONS)


def _own_dimension(target: _Target, destination: str | None, url: str) -> tuple[str, str] | None:
    """A link's visits also count by destination, orphan visits by path (a bare count passes '' for both: unknown)."""
    if target.kind == LINK:
        return ("destination", (destination or UNKNOWN)[:255])
    if target.kind == ORPHAN:
        return ("url", (urlsplit(url).path or "/")[:255] if url else UNKNOWN)
    return None


class _Batch:
    """Visit events turned into the rows of ``visits`` and the facts the rollups add up, before any write.

    Most of a batch repeats the same few agents, referrers, languages and addresses, so what is derived from
    them is worked out once per batch (places and agents are also cached on the runtime across batches)."""

    def __init__(self, rt: Runtime, store: VisitStore, salts: dict[dt.date, str]) -> None:
        self.rt, self.store, self.salts = rt, store, salts
        self.settings = rt.settings.analytics
        self.rows: list[tuple[Any, ...]] = []
        self.facts: list[tuple[Any, ...]] = []
        self.owners: dict[str, _Target] = {}
        self._agents: dict[str, tuple[Any, ...]] = {}
        self._referrers: dict[str, tuple[str, str]] = {}
        self._languages: dict[Any, tuple[str, str]] = {}
        self._addresses: dict[str, str | None] = {}

    def add(self, event: Event, target: _Target) -> None:
        """Add one visit of ``target``."""
        visitor = getattr(event, "visitor", None) or Visitor()
        at = event.at.astimezone(dt.timezone.utc)
        day, hour = at.date(), at.hour
        orphan_type = event.kind if isinstance(event, OrphanVisited) else None
        host = (getattr(event, "host", None) or "")[:255]
        self.owners[target.key] = target
        if self.settings.honor_dnt and visitor.do_not_track:
            self.rows.append((self.store.time(at), target.kind, target.link_id, target.file_id, orphan_type, "",
                              host, None, "", "", "", "", "", "", "", False, "", None, None, None, None, None, None,
                              None, None, True))
            self.facts.append((target.key, day, hour, False, None, *_COUNTED_ONLY, _own_dimension(target, "", "")))
            return
        url = getattr(event, "url", "") or visitor.visited_url()
        destination = getattr(event, "destination", None)
        agent = self._agent(visitor.user_agent)
        referrer, referrer_host = self._referrer(visitor.referrer)
        language, base = self._language(visitor)
        place = self.rt.country.place(visitor.country_hint, visitor.address)
        key = _visitor_key(self.salts[day], visitor) if visitor.address or visitor.user_agent else None
        self.rows.append((self.store.time(at), target.kind, target.link_id, target.file_id, orphan_type, url, host,
                          destination, referrer, referrer_host, *agent, language, place.country,
                          place.region and place.region[:128], place.city and place.city[:128], place.latitude,
                          place.longitude, place.time_zone, key,
                          self._address(visitor.address) if self.settings.store_address else None, False))
        self.facts.append((target.key, day, hour, agent[5], key, referrer_host or DIRECT, place.country or UNKNOWN,
                           agent[1] or UNKNOWN, agent[3] or UNKNOWN, agent[4] or UNKNOWN, base or UNKNOWN,
                           _own_dimension(target, destination, url)))

    def _agent(self, user_agent: str) -> tuple[Any, ...]:
        """The visits columns from user_agent to bot."""
        found = self._agents.get(user_agent)
        if found is None:
            a = self.rt.agents(user_agent)
            found = self._agents[user_agent] = (user_agent[:512], a.browser[:64], a.browser_version[:16], a.os[:64],
                                                a.device, a.bot)
        return found

    def _referrer(self, referrer: str) -> tuple[str, str]:
        found = self._referrers.get(referrer)
        if found is None:
            cut = referrer[:1024]
            found = self._referrers[referrer] = (cut, referrer_host(cut))
        return found

    def _language(self, visitor: Visitor) -> tuple[str, str]:
        """The first language tag and its base language (``language_tags`` depends on these two fields only)."""
        known = visitor.languages or visitor.accept_language
        found = self._languages.get(known)
        if found is None:
            first = next(iter(visitor.language_tags()), "")[:35]
            found = self._languages[known] = (first, base_language(first))
        return found

    def _address(self, address: str) -> str | None:
        if address not in self._addresses:
            self._addresses[address] = kept_address(self.settings, address)
        return self._addresses[address]

    def rollup(self) -> _Rollup:
        """The batch grouped for the rollups (counted here, outside the write transaction)."""
        return _Rollup(self.store, self.facts, self.owners)


class _Rollup:
    """A batch grouped for the rollups: hourly counts, daily dimension counts, candidate first visits of the day."""

    def __init__(self, store: VisitStore, facts: list[tuple[Any, ...]], owners: dict[str, _Target]) -> None:
        self.store = store
        self.owner = {key: (t.kind, t.link_id, t.file_id, t.user_id) for key, t in owners.items()}
        self.hours = Counter(map(itemgetter(_TARGET, _DAY, _HOUR, _BOT), facts))
        # the first visit of each key in the batch says which hour gains the visitor (reversed: the first wins)
        seen = [f for f in reversed(facts) if f[_KEY]]
        self.first_seen = dict(zip(map(itemgetter(_TARGET, _DAY, _KEY), seen),
                                   map(itemgetter(_TARGET, _DAY, _HOUR, _BOT), seen), strict=True))
        days: Counter[tuple[Any, ...]] = Counter()
        for index, dimension in enumerate(_DIMENSIONS, start=_KEY + 1):
            for (target, day, bot, value), n in Counter(map(itemgetter(_TARGET, _DAY, _BOT, index), facts)).items():
                days[(target, day, bot, dimension, value)] += n
        for (target, day, bot, own), n in Counter(map(itemgetter(_TARGET, _DAY, _BOT, _OWN), facts)).items():
            if own is not None:
                days[(target, day, bot, *own)] += n
        self.days_as_bound = {d: store.day(d) for d in set(map(itemgetter(_DAY), facts))}
        # sorted, so concurrent writers take the rows' locks in the same order (no deadlock on PostgreSQL)
        self.day_rows = [(t, self.days_as_bound[d], b, dim, v, n, *self.owner[t])
                         for (t, d, b, dim, v), n in sorted(days.items())]

    def write(self, conn: Connection) -> None:
        """Inside the write transaction: claim the day's unique keys, then add to the hours and the days."""
        store = self.store
        bound = self.days_as_bound
        wanted = {(t, bound[d], k): first for (t, d, k), first in sorted(self.first_seen.items())}
        visitors: Counter[tuple[str, dt.date, int, bool]] = Counter()
        if wanted:
            # only the keys not seen before today come back
            visitors.update(wanted[key] for key in store.claim_keys(conn, list(wanted)))
        utc = dt.timezone.utc
        hour_rows = [(t, store.time(dt.datetime(d.year, d.month, d.day, h, tzinfo=utc)), b, n, visitors[(t, d, h, b)],
                      *self.owner[t]) for (t, d, h, b), n in sorted(self.hours.items())]
        store.add_hours(conn, hour_rows)
        store.add_days(conn, self.day_rows)


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
        store = store_for(conn)
        batch = _Batch(rt, store, salts)
        for event in visits:
            if isinstance(event, LinkVisited):
                target = targets.get((LINK, event.link_id))
            elif isinstance(event, FileViewed):
                target = targets.get((FILE, event.file_id))
            else:
                target = targets.get((ORPHAN, cast(OrphanVisited, event).kind))
            if target is not None:
                batch.add(event, target)
        if not batch.rows:
            return 0
        rollup = batch.rollup()
        with exclusive_writer(engine), conn.execution_options(sqlite_immediate=True).begin():
            store.insert_visits(conn, batch.rows)
            rollup.write(conn)
    return len(batch.rows)


# Upkeep -------------------------------------------------------------------------------------------

def prune(rt: Runtime, engine: Engine, now: dt.datetime, batch: int = 10_000) -> int:
    """Delete raw visits older than ``analytics.retention_days`` in batches, and the salts and unique keys of
    days that are over (so yesterday's keys can no longer be recomputed); return how many visits went."""
    cutoff = now - dt.timedelta(days=rt.settings.analytics.retention_days)
    removed = 0
    # Visits are stored in time order, so the first one still kept bounds the walk: without the bound every
    # round, even one with nothing to delete, walked the primary key past every kept visit (2.2 s at 10
    # million, docs/benchmarks.md#pruning-raw-visits). A visit stored out of order goes in a later round.
    with engine.connect() as conn:
        first_kept = conn.scalar(select(_visits.c.id).where(_visits.c.at >= cutoff).order_by(_visits.c.id).limit(1))
    expired = [_visits.c.at < cutoff] + ([_visits.c.id < first_kept] if first_kept is not None else [])
    while True:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            ids = select(_visits.c.id).where(*expired).order_by(_visits.c.id).limit(batch)
            gone = conn.execute(delete(_visits).where(_visits.c.id.in_(ids.scalar_subquery()))).rowcount
        removed += gone
        if gone < batch:
            break
    keep_from = (now - dt.timedelta(days=1)).date()
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(delete(_uniques).where(_uniques.c.day < keep_from))
        conn.execute(delete(_salts).where(_salts.c.day < keep_from))
    return removed
