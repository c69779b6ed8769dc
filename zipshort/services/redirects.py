"""The redirect: resolve a code on a host, apply liveness, limits and passwords, count the view.

The common case (a live link without limit or password, resolved recently) runs no SQL: it is
cached in memory and its view is counted in memory and written in batches (services/visits.py);
a cache miss of such a link reads it (no write: its view joins the batch). A link with a view limit is
counted by one conditional ``UPDATE … WHERE views < max_views RETURNING``, so exactly
``max_views`` visits succeed under any burst, across processes.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, or_, select

from zipshort.codes import could_be_code
from zipshort.counters import CachedLink, ViewLeases
from zipshort.database import Query, as_utc, hot_rows, hot_statement, hot_transaction
from zipshort.destinations import forward_query
from zipshort.errors import Forbidden, Gone, NotFound, PasswordRequired
from zipshort.events import Facts, LinkVisited, current_request_id, no_facts
from zipshort.extensions import db
from zipshort.models import Link, utcnow
from zipshort.runtime import Runtime
from zipshort.services import smart
from zipshort.services.links import MAX_PASSWORD_LENGTH
from zipshort.services.linkstate import LIVE_SQL, in_window

_LOOKUP_SQL = f"""SELECT id, destination, max_views, password_hash, forward_query, smart FROM links
WHERE slug_key = :key AND (domain = '' OR domain = :host) AND {LIVE_SQL}"""
# Views leased to server processes count against a limit until they are written back (ViewLease)
_LEASED_SQL = "COALESCE((SELECT SUM(amount) FROM view_leases WHERE view_leases.link_id = links.id), 0)"
_UNLEASED_SQL = f"(links.max_views IS NULL OR links.views + {_LEASED_SQL} < links.max_views)"
_COUNT_SQL = f"""UPDATE links SET views = views + 1
WHERE slug_key = :key AND (domain = '' OR domain = :host) AND password_hash IS NULL AND {LIVE_SQL}
AND {_UNLEASED_SQL} RETURNING id, destination, max_views, expires_at, smart, valid_since, forward_query"""
# A round of grouped claims (counters.GroupCommit): read each link (locked on PostgreSQL), grant what is left
_GRANT_LOOKUP_SQL = f"""SELECT id, destination, max_views, expires_at, smart, valid_since, forward_query, views,
{_LEASED_SQL} FROM links
WHERE slug_key = :key AND (domain = '' OR domain = :host) AND password_hash IS NULL AND {LIVE_SQL}
ORDER BY domain DESC LIMIT 1"""
_GRANT_SQL = "UPDATE links SET views = views + :n WHERE id = :link_id"
# A cache miss: read the link first (a protected one needs no write: its password page; an unlimited one with
# batched views is counted in the batch, no write here either)
_READ_SQL = f"""SELECT id, destination, max_views, expires_at, smart, valid_since, forward_query,
password_hash IS NOT NULL FROM links
WHERE slug_key = :key AND (domain = '' OR domain = :host) AND {LIVE_SQL}
ORDER BY domain DESC LIMIT 1"""
# The misses of concurrent requests read together on PostgreSQL (see _read): each (key, host) takes the row of its
# own host before the one of every host, as ORDER BY domain DESC does in _READ_SQL. The domains are picked in
# Python: a condition on them here made PostgreSQL OR two bitmap scans, at twice the time of the plain lookup.
_READ_MANY_SQL = f"""SELECT slug_key, domain, id, destination, max_views, expires_at, smart, valid_since, forward_query,
password_hash IS NOT NULL FROM links WHERE slug_key = ANY(:keys) AND {LIVE_SQL}"""
_LEASE_SQL = """INSERT INTO view_leases (link_id, holder, amount, renewed_at) VALUES (:link_id, :holder, :n, :now)
ON CONFLICT (link_id, holder) DO UPDATE
SET amount = view_leases.amount + excluded.amount, renewed_at = excluded.renewed_at"""
LEASE_FLOOR = 64  # a limited link with fewer views left counts each one in the database
LEASE_MAX = 4096  # views per lease at most (≈ 0.7 s of a busy worker), and at most an eighth of what is left
_COUNT_UNLOCKED_SQL = f"""UPDATE links SET views = views + 1
WHERE id = :link_id AND password_hash = :pw_hash AND {LIVE_SQL} AND {_UNLEASED_SQL}
RETURNING destination, max_views, smart, forward_query"""
_COUNT_ONE_SQL = "UPDATE links SET views = views + 1 WHERE id = :link_id RETURNING id"

# Why a code did not resolve, decided in SQL by the same liveness rule (one row: password?, live?)
_CLASSIFY_SQL = f"""SELECT password_hash IS NOT NULL, CASE WHEN {LIVE_SQL} THEN 1 ELSE 0 END FROM links
WHERE slug_key = :key AND (domain = '' OR domain = :host) ORDER BY domain DESC LIMIT 1"""


@dataclass(frozen=True)
class Followed:
    """Where a visit goes, and whether the response must not be cached."""

    destination: str
    limited: bool
    protected: bool = False
    decision: smart.Decision | None = None  # a smart link's answer (redirect, frame or preview page)


def _decide(rt: Runtime, link: smart.SmartLink, facts: Facts) -> smart.Decision:
    """A smart link's answer for this visitor: rules, UTM, previews, cloaking (the visitor's facts are parsed and
    looked up only as far as the link's rules need them)."""
    return smart.decide(link, smart.visitor_of(rt, link.needs, facts()))


def _gone(rt: Runtime) -> Gone:
    return Gone("This link is no longer available", status=rt.settings.urls.gone_status)


def _missing(rt: Runtime, key: str, host: str, now: dt.datetime) -> Exception:
    """Why a code did not resolve: unknown (404), password needed, or no longer live (gone status)."""
    row = hot_statement(db.engine, _CLASSIFY_SQL, {"key": key, "host": host, "now": now}, write=False)
    if row is None:
        return NotFound("Not found", code="not_found")
    if row[0] and row[1]:
        return PasswordRequired(code="password_required")
    return _gone(rt)


def _lookup(rt: Runtime, key: str, host: str, now: dt.datetime) -> tuple[str, str, int | None, str | None, bool, bool]:
    """A live link without counting: (id, destination, max views, password hash, forward query, smart)."""
    row = hot_statement(db.engine, _LOOKUP_SQL, {"key": key, "host": host, "now": now}, write=False)
    if row is None:
        raise _missing(rt, key, host, now)
    return row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5])


def _count_unlimited(rt: Runtime, link_id: str) -> None:
    if rt.settings.urls.view_flush_seconds > 0:
        rt.views.add(link_id)
    else:
        hot_statement(db.engine, _COUNT_ONE_SQL, {"link_id": link_id}, write=True)


def _location(destination: str, forwards: bool, query: bytes) -> str:
    """Where a plain link sends this visitor: its destination, with the visitor's query merged in when the link
    forwards it (``forward_query``)."""
    return forward_query(destination, query) if forwards and query else destination


@dataclass(frozen=True)
class _Counted:
    """A link whose view this visit has just been granted."""

    link_id: str
    destination: str
    limited: bool
    forwards: bool
    smart: smart.SmartLink | None  # a smart link's snapshot (rules, UTM, previews …)


def _count_cached(rt: Runtime, key: str, host: str, now: dt.datetime) -> _Counted | None:
    """One view of a link the cache holds, without SQL (see :func:`_count_entry`); None on a miss."""
    cached = rt.link_cache.get(key, host)
    return None if cached is None else _count_entry(rt, cached, now)


def _count_entry(rt: Runtime, cached: CachedLink, now: dt.datetime) -> _Counted | None:
    """One view of a cached link, without SQL: an unlimited link's is batched, a limited link's comes from this
    process's lease; None when the cache cannot answer (out of its time window, or no lease left).

    Raises:
        PasswordRequired: the cache holds the link as protected (its password page, nothing counted).
    """
    if not in_window(cached.valid_since, cached.expires_at, now):  # live but for time
        return None
    if cached.protected:
        raise PasswordRequired(code="password_required")
        return None
    if not cached.limited:
        _count_unlimited(rt, cached.link_id)
        return _Counted(cached.link_id, cached.destination, False, cached.forward_query, cached.smart)
    if rt.leases.take(cached.link_id):  # a view of this process's lease: no SQL either
        return _Counted(cached.link_id, cached.destination, True, cached.forward_query, cached.smart)
    return None


def _remember(rt: Runtime, key: str, host: str, row: tuple[Any, ...], limited: bool) -> _Counted:
    """Cache a link just counted (``row``: id, destination, max views, expires at, smart, valid since, forward
    query), loading a smart link's snapshot once, and say what was counted."""
    link_id, destination, _, expires_at, is_smart, valid_since, forwards = row
    snapshot = smart.load(link_id) if is_smart else None
    if not limited or rt.leases.active:
        rt.link_cache.put(key, host, CachedLink(link_id, destination, as_utc(expires_at), limited,
                                                as_utc(valid_since), bool(forwards), snapshot))
    return _Counted(link_id, destination, limited, bool(forwards), snapshot)


def _protected(rt: Runtime, key: str, host: str, row: tuple[Any, ...]) -> PasswordRequired:
    """A link read with a password (``row`` as ``_READ_SQL`` reads it): without a view limit remembered as such,
    so its page costs no SQL while cached; the error that shows the page."""
    if row[2] is None:
        rt.link_cache.put(key, host, CachedLink(row[0], "", as_utc(row[3]), False, as_utc(row[5]), protected=True))
    return PasswordRequired(code="password_required")


def _count_view(rt: Runtime, key: str, host: str, now: dt.datetime, explicit_now: dt.datetime | None) -> _Counted:
    """Find a live link and count one view: from the cache (no SQL) when it can, else through the grouped claims.

    Raises:
        NotFound, Gone, PasswordRequired (as :func:`follow`).
    """
    counted = _count_cached(rt, key, host, now)
    if counted is not None:
        return counted
    # Read first: a protected link's page and an unlimited link's batched view need no write
    row = _read(rt, db.engine, key, host, now, grouped=explicit_now is None)
    if row is None:
        raise _missing(rt, key, host, now)
    if row[7]:
        raise _protected(rt, key, host, row)
    if row[2] is None and rt.settings.urls.view_flush_seconds > 0:  # no limit, views batched: no write here
        rt.views.add(row[0])
        return _remember(rt, key, host, tuple(row[:7]), False)
    found, ticket = rt.grants.claim((key, host, explicit_now),
                                    functools.partial(_grant, db.engine, now, rt.leases if rt.leases.active else None))
    if found is None:
        raise _missing(rt, key, host, now)
    row, granted = found
    if ticket >= granted:  # the claims of one round wanted more views than were left
        raise _gone(rt)
    return _remember(rt, key, host, row, row[2] is not None)


def follow(rt: Runtime, code: str, host: str, now: dt.datetime | None = None, count: bool = True,
           facts: Facts = no_facts, query: bytes = b"") -> Followed:
    """Resolve ``code`` on ``host`` and count one view (unless ``count`` is False, as for HEAD).

    A cached plain link costs no SQL (its view is batched); otherwise one conditional UPDATE
    is both the lookup and the count, and a plain link found that way is cached. A smart link's
    answer is decided here from ``facts`` (the visitor), and the counted visit is published with
    where it was sent. ``query`` is the visitor's raw query string, merged into the destination of a link
    that forwards it (``forward_query``).

    Raises:
        NotFound: no such code here. Gone: disabled, not yet valid, expired or used up (status per settings).
        PasswordRequired: the link needs its password (see :func:`unlock`).
    """
    explicit_now, now = now, now or utcnow()
    if not could_be_code(code):
        raise NotFound("Not found", code="not_found")
    key, host = code.lower(), host.lower()
    if not count:
        cached = rt.link_cache.get(key, host)
        if cached is not None and not cached.limited and in_window(cached.valid_since, cached.expires_at, now):
            if cached.protected:
                raise PasswordRequired(code="password_required")
            return Followed(destination=_location(cached.destination, cached.forward_query, query), limited=False,
                            decision=None if cached.smart is None else _decide(rt, cached.smart, facts))
        link_id, destination, max_views, password_hash, forwards, is_smart = _lookup(rt, key, host, now)
        if password_hash is not None:
            raise PasswordRequired(code="password_required")
        return Followed(destination=_location(destination, forwards, query), limited=max_views is not None,
                        decision=_decide(rt, smart.load(link_id), facts) if is_smart else None)
    counted = _count_view(rt, key, host, now, explicit_now)
    if counted.smart is not None:
        decision = _decide(rt, counted.smart, facts)
        _visited(rt, counted.link_id, code, host, decision.location, facts)
        return Followed(destination=counted.destination, limited=counted.limited, decision=decision)
    location = _location(counted.destination, counted.forwards, query)
    _visited(rt, counted.link_id, code, host, location, facts)
    return Followed(destination=location, limited=counted.limited)


def follow_cached(rt: Runtime, code: str, host: str, facts: Facts = no_facts, query: bytes = b"",
                  engine: Engine | None = None) -> Followed | None:
    """:func:`follow` without an app context (the redirect lane below Flask's dispatch, ``zipshort.public.lane``):
    the view counted and the visit published as ``follow`` does, for a link the cache holds (no SQL) and, given
    the ``engine``, for a miss of an unlimited link without rules (one read, the view batched, the link cached).
    A smart link's answer is decided first, from its cached snapshot: a redirect is answered here, a page (a
    preview for bots, a cloaking frame) is left to ``follow`` uncounted. None when only ``follow`` can answer
    (out of its time window, no lease left, views written one by one, a page to render; on a miss: unknown,
    not live, a limit or rules).

    Raises:
        PasswordRequired: the link is protected (its password page, nothing counted).
    """
    if not could_be_code(code):
        return None
    if rt.settings.urls.view_flush_seconds <= 0:  # views are written one by one: only a password page here
        cached = rt.link_cache.get(code.lower(), host.lower())
        if cached is not None and cached.protected and in_window(cached.valid_since, cached.expires_at, utcnow()):
            raise PasswordRequired(code="password_required")
        return None
    key, host = code.lower(), host.lower()
    cached = rt.link_cache.get(key, host)
    if cached is None:
        return None if engine is None else _follow_read(rt, engine, code, key, host, facts, query)
    decision = None
    if cached.smart is not None:
        decision = _decide(rt, cached.smart, facts)
        if decision.kind != "redirect":
            return None
    counted = _count_entry(rt, cached, utcnow())
    if counted is None:
        return None
    if decision is not None:
        _visited(rt, counted.link_id, code, host, decision.location, facts)
        return Followed(destination=counted.destination, limited=counted.limited, decision=decision)
    location = _location(counted.destination, counted.forwards, query)
    _visited(rt, counted.link_id, code, host, location, facts)
    return Followed(destination=location, limited=counted.limited)


def _follow_read(rt: Runtime, engine: Engine, code: str, key: str, host: str, facts: Facts,
                 query: bytes) -> Followed | None:
    """A cache miss in the lane: the live link read on a reader connection (no write lock); an unlimited link
    without rules has its view batched and is cached. Anything else is left to ``follow`` (None), uncounted."""
    row = _read(rt, engine, key, host, utcnow())
    if row is None:  # unknown or not live: follow says which
        return None
    if row[7]:
        raise _protected(rt, key, host, row)
    if row[2] is not None or row[4]:  # a limit, rules
        return None
    rt.views.add(row[0])
    counted = _remember(rt, key, host, tuple(row[:7]), False)
    location = _location(counted.destination, counted.forwards, query)
    _visited(rt, counted.link_id, code, host, location, facts)
    return Followed(destination=location, limited=False)


def _read(rt: Runtime, engine: Engine, key: str, host: str, now: dt.datetime,
          grouped: bool = True) -> tuple[Any, ...] | None:
    """A live link as ``_READ_SQL`` reads it, or None.

    On PostgreSQL the misses of this process's threads are read in rounds (``rt.lookups``, a ``GroupCommit``):
    the misses that arrive while one round's statement runs are read by the next, in one statement, so a burst
    of distinct codes costs PostgreSQL (and the pool) one statement per round rather than one per request. A
    miss that finds no round running reads at once, alone. SQLite reads in-process, one at a time; so does a
    caller with its own time (``grouped`` False: a round reads at its own time).
    """
    if not grouped or engine.dialect.name == "sqlite":
        return hot_statement(engine, _READ_SQL, {"key": key, "host": host, "now": now}, write=False)
    row, _ = rt.lookups.claim((key, host), functools.partial(_read_many, engine))
    return row


def _read_many(engine: Engine, pending: dict[tuple[str, str], int]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """One round of grouped reads: {(key, host): the row ``_READ_SQL`` would read} for those that are live."""
    rows = hot_rows(engine, _READ_MANY_SQL, {"keys": sorted({key for key, _ in pending}), "now": utcnow()})
    found = {(row[0], row[1]): tuple(row[2:]) for row in rows}  # (key, domain): other domains' rows are never asked
    answers: dict[tuple[str, str], tuple[Any, ...]] = {}
    for key, host in pending:
        row = found.get((key, host)) or found.get((key, ""))
        if row is not None:
            answers[(key, host)] = row
    return answers


def track(rt: Runtime, code: str, host: str, now: dt.datetime | None = None, facts: Facts = no_facts) -> bool:
    """A load of the link's tracking pixel (Shlink's ``/{shortCode}/track``): one view of a live link, counted
    and published as any visit but sent nowhere (no destination). Never raises for an unknown, dead or
    protected link: the pixel answers the same either way; returns whether a view was counted."""
    explicit_now, now = now, now or utcnow()
    if not could_be_code(code):
        return False
    try:
        counted = _count_view(rt, code.lower(), host.lower(), now, explicit_now)
    except (NotFound, Gone, PasswordRequired):
        return False
    _visited(rt, counted.link_id, code, host.lower(), None, facts)
    return True


Claim = tuple[str, str, "dt.datetime | None"]  # slug key, host, the caller's own time (None: the round's)
Granted = tuple[tuple[Any, ...], int]  # (id, destination, max views, expires at, smart, valid since, forward
# query), views granted


def _grant(engine: Engine, now: dt.datetime, leases: ViewLeases | None,
           pending: dict[Claim, int]) -> dict[Claim, Granted]:
    """Count the views claimed in one round: each link grants what its limit leaves (``min(claims, left)``).

    Without leases, one claim alone is one conditional ``UPDATE … RETURNING`` (the uncontended redirect).
    Otherwise one transaction reads each link (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
    holds every other writer) with the views leased out, and either advances its views by what it grants or,
    for a limited link with at least ``LEASE_FLOOR`` views left, leases this process up to an eighth of them
    (at most ``LEASE_MAX``): the claims are served from it and the rest is booked in ``leases``, so the next
    visits cost no SQL. The limit holds exactly across threads and processes either way.
    """
    if leases is None and len(pending) == 1 and next(iter(pending.values())) == 1:
        claim = next(iter(pending))
        row = hot_statement(engine, _COUNT_SQL, {"key": claim[0], "host": claim[1], "now": claim[2] or now},
                            write=True)
        return {} if row is None else {claim: (tuple(row), 1)}
    lookup = _GRANT_LOOKUP_SQL + (" FOR UPDATE" if engine.dialect.name == "postgresql" else "")
    booked: list[tuple[str, int, int]] = []  # (link id, left, used) of the leases granted, booked after commit

    def work(query: Query) -> dict[Claim, Granted]:
        answers: dict[Claim, Granted] = {}
        booked.clear()  # the work runs again after a dropped connection
        for claim in sorted(pending, key=lambda c: (c[0], c[1], c[2] or now)):  # one lock order for every process
            rows = query(lookup, {"key": claim[0], "host": claim[1], "now": claim[2] or now})
            if not rows:
                continue
            link_id, max_views, views, leased = rows[0][0], rows[0][2], rows[0][7], rows[0][8]
            wanted = pending[claim]
            if max_views is None:
                granted = wanted
            else:
                left = max_views - views - leased
                lease = min(LEASE_MAX, left // 8)
                if leases is not None and left >= LEASE_FLOOR and lease >= wanted:
                    query(_LEASE_SQL, {"link_id": link_id, "holder": leases.holder, "n": lease, "now": now})
                    booked.append((link_id, lease - wanted, wanted))
                    answers[claim] = (tuple(rows[0][:7]), wanted)
                    continue
                granted = max(0, min(wanted, left))
            if granted:
                query(_GRANT_SQL, {"n": granted, "link_id": link_id})
            answers[claim] = (tuple(rows[0][:7]), granted)
        return answers

    answers = hot_transaction(engine, work)
    for link_id, left, used in booked:
        assert leases is not None
        leases.add(link_id, left, used)
    return answers


def _visited(rt: Runtime, link_id: str, code: str, host: str, destination: str | None, facts: Facts) -> None:
    """Publish a counted visit from what the hot path already holds (no query; nothing built without a listener)."""
    if rt.events.wants(LinkVisited):
        rt.events.publish(LinkVisited(link_id=link_id, code=code, host=host, destination=destination,
                                      visitor=facts(), request_id=current_request_id()))


def check_password(rt: Runtime, link_id: str, password_hash: str, password: object, client: str) -> None:
    """Verify a link password, rate limited per link and client (before any hashing work).

    Raises:
        RateLimited: too many attempts. Forbidden: wrong password.
    """
    rt.limiter.hit(rt.settings.ratelimit.link_password, "link-password", link_id, client,
                   message="Too many password attempts, try again later")
    if not isinstance(password, str) or not rt.passwords.verify(password_hash, password[:MAX_PASSWORD_LENGTH]):
        raise Forbidden("Incorrect password", code="wrong_password")


def unlock(rt: Runtime, code: str, host: str, password: object, client: str,
           now: dt.datetime | None = None, facts: Facts = no_facts, query: bytes = b"") -> Followed:
    """Check the password of a protected link and count the view; return where to go.

    The count only succeeds if the password is still the one checked (an edit in between wins).

    Raises:
        NotFound, Gone, RateLimited, Forbidden (wrong password).
    """
    now = now or utcnow()
    if not could_be_code(code):
        raise NotFound("Not found", code="not_found")
    link_id, _, _, password_hash, _, _ = _lookup(rt, code.lower(), host.lower(), now)
    if password_hash is None:
        raise NotFound("This link has no password", code="no_password")
    check_password(rt, link_id, password_hash, password, client)
    row = hot_statement(db.engine, _COUNT_UNLOCKED_SQL, {"link_id": link_id, "pw_hash": password_hash, "now": now},
                        write=True)
    if row is None:
        raise _gone(rt)
    decision = _decide(rt, smart.load(link_id), facts) if row[2] else None
    location = _location(row[0], bool(row[3]), query)
    _visited(rt, link_id, code, host, decision.location if decision else location, facts)
    return Followed(destination=location, limited=row[1] is not None, protected=True, decision=decision)


def find_protected_link(ident: str) -> Link:
    """A password-protected link by id, code or vanity (Zipline's password endpoint accepts all three).

    Raises:
        NotFound: no such link, or it has no password.
    """
    if not could_be_code(ident):
        raise NotFound("URL not found", code="url_not_found")
    stmt = select(Link).where(or_(Link.id == ident, Link.slug_key == ident.lower(), Link.code == ident))
    link = db.session.scalars(stmt.limit(1)).first()
    if link is None or link.password_hash is None:
        raise NotFound("URL not found", code="url_not_found")
    return link
