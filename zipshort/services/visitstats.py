"""Reading visit analytics: a stats query (range, interval, bots, time zone) answered from the rollups.

The series, the total, the unique visitors and the bot count come from ``visit_hours`` (UTC hours), bucketed
in the caller's time zone: bucket boundaries are local midnights (or Mondays, or firsts of the month) made
with zoneinfo, so a day across a DST change has 23 or 25 hours, and each UTC hour goes to the bucket its
start falls in. The top lists come from ``visit_days`` (UTC days): every UTC day the range touches counts
whole. The raw visits (kept ``analytics.retention_days``) are listed, exported and forgotten by
services/visitlog.py. Nothing here writes or imports Flask.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, DateTime, Select, String, bindparam, case, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY

from zipshort.codes import could_be_code
from zipshort.dates import MAX_TEXT_LENGTH, bounded
from zipshort.errors import NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import File, Link, User, VisitDay, VisitHour
from zipshort.models.visit import ORPHAN, ORPHAN_TYPES
from zipshort.services.reach import ALL, Reach
from zipshort.services.roles import can_manage

INTERVALS = ("hour", "day", "week", "month")
BOTS = ("exclude", "include", "only")
MAX_BUCKETS = 1000
DEFAULT_DAYS = 30
TOP = 10
OTHER = "other"
# answer key -> rollup dimension
LISTS = (("referrers", "referrer"), ("countries", "country"), ("browsers", "browser"), ("os", "os"),
         ("devices", "device"), ("languages", "language"), ("destinations", "destination"))
UTC = dt.timezone.utc


@dataclass(frozen=True)
class StatsQuery:
    """A checked stats query: [start, end) in UTC, the interval, the bots filter, the zone, the bucket starts."""

    start: dt.datetime
    end: dt.datetime
    interval: str
    bots: str
    tz: ZoneInfo
    buckets: tuple[dt.datetime, ...]  # aware, in ``tz``; the first at or before ``start``


@dataclass(frozen=True)
class Scope:
    """Whose visits: one target (a link or file id), one owner's, or everything (``server``)."""

    target: str | None = None
    user_id: str | None = None
    server: bool = False

    def hours(self) -> list[ColumnElement[bool]]:
        """The condition on ``visit_hours``."""
        return self._on(VisitHour)

    def days(self) -> list[ColumnElement[bool]]:
        """The condition on ``visit_days``."""
        return self._on(VisitDay)

    def _on(self, model: Any) -> list[ColumnElement[bool]]:
        if self.target is not None:
            return [model.target == self.target]
        if self.user_id is not None:
            return [model.user_id == self.user_id]
        return []


# Parsing ------------------------------------------------------------------------------------------

def parse_zone(value: str | None) -> ZoneInfo:
    """An IANA time zone (default UTC).

    Raises:
        ValidationError: not a known zone name (field ``tz``).
    """
    if value is None or value == "":
        return ZoneInfo("UTC")
    if len(value) > MAX_TEXT_LENGTH or "\x00" in value or value.startswith(("/", ".")) or ".." in value:
        raise ValidationError("tz must be an IANA time zone name", field="tz")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError("tz must be an IANA time zone name", field="tz") from None


def parse_instant(value: str, field: str, tz: ZoneInfo, end_of_day: bool = False) -> dt.datetime:
    """An ISO 8601 date (its start in ``tz``; with ``end_of_day`` the start of the next day) or date-time (naive
    means ``tz``), as aware UTC in the supported range.

    Raises:
        ValidationError: unreadable or out of range, naming ``field``.
    """
    message = f"{field} must be an ISO 8601 date or date-time"
    text = value.strip()
    if not text or len(text) > MAX_TEXT_LENGTH:
        raise ValidationError(message, field=field)
    try:
        if len(text) == 10 and "T" not in text.upper():
            day = dt.date.fromisoformat(text)
            if end_of_day:
                day += dt.timedelta(days=1)
            when = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        else:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=tz)
    except (ValueError, OverflowError):
        raise ValidationError(message, field=field) from None
    try:
        return bounded(when, field)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=field) from None


def parse_bots(value: str | None, default: str = "exclude") -> str:
    """``exclude``, ``include`` or ``only``.

    Raises:
        ValidationError: anything else (field ``bots``).
    """
    value = default if value is None or value == "" else value.lower()
    if value not in BOTS:
        raise ValidationError(f"bots must be one of {', '.join(BOTS)}", field="bots")
    return value


def parse_query(*, start: str | None = None, end: str | None = None, interval: str | None = None,
                bots: str | None = None, tz: str | None = None, now: dt.datetime | None = None) -> StatsQuery:
    """Check a stats query as the API receives it (strings; None for absent); default: the last 30 days.

    Raises:
        ValidationError: naming the field: ``from``, ``to``, ``interval``, ``bots``, ``tz``; ``from`` not before
        ``to``; more than ``MAX_BUCKETS`` buckets (field ``interval``).
    """
    zone = parse_zone(tz)
    now = (now or dt.datetime.now(UTC)).replace(microsecond=0)
    step = "day" if interval is None or interval == "" else interval.lower()
    if step not in INTERVALS:
        raise ValidationError(f"interval must be one of {', '.join(INTERVALS)}", field="interval")
    bots_filter = parse_bots(bots)
    until = parse_instant(end, "to", zone, end_of_day=True) if end else now
    since = parse_instant(start, "from", zone) if start else until - dt.timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise ValidationError("from must be before to", field="from")
    return StatsQuery(since, until, step, bots_filter, zone, bucket_starts(since, until, step, zone))


def bucket_starts(start: dt.datetime, end: dt.datetime, interval: str, tz: ZoneInfo) -> tuple[dt.datetime, ...]:
    """Every bucket start (aware, in ``tz``) from the one holding ``start`` to the last before ``end``.

    Hours are real hours (UTC hours shown in ``tz``); days, weeks (from Monday) and months start at local
    midnight, whatever DST does that day.

    Raises:
        ValidationError: more than ``MAX_BUCKETS`` (field ``interval``).
    """
    too_many = ValidationError(f"Too many buckets: at most {MAX_BUCKETS} per query; choose a longer interval or "
                               "a shorter range", field="interval")
    if interval == "hour":
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if (end - first) / dt.timedelta(hours=1) > MAX_BUCKETS:
            raise too_many
        count = int(-(-(end - first) // dt.timedelta(hours=1)))
        return tuple((first + dt.timedelta(hours=i)).astimezone(tz) for i in range(count))
    day = start.astimezone(tz).date()
    if interval == "week":
        day -= dt.timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    out: list[dt.datetime] = []
    while True:
        boundary = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        if boundary.astimezone(UTC) >= end:
            break
        if len(out) == MAX_BUCKETS:
            raise too_many
        out.append(boundary)
        day = _next_day(day, interval)
    return tuple(out)


def _next_day(day: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return day + dt.timedelta(days=1)
    if interval == "week":
        return day + dt.timedelta(days=7)
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


# Whose visits -------------------------------------------------------------------------------------

def _owner_may(actor: User, owner_id: str | None) -> bool:
    if owner_id == actor.id:
        return True
    return can_manage(actor, db.session.get(User, owner_id) if owner_id else None)


def link_for(actor: User, link_id: str, reach: Reach = ALL) -> Link:
    """The link ``link_id`` if ``actor`` may manage it (their own; an administrator's per services/roles.py) and
    it is within the calling key's ``reach``.

    Raises:
        NotFound: no such link, or one the actor may not manage or the key does not reach (the same answer).
    """
    link = db.session.get(Link, link_id) if could_be_code(link_id) else None
    if link is None or not _owner_may(actor, link.user_id) or not reach.admits(link):
        raise NotFound("URL not found", code="url_not_found")
    return link


def file_for(actor: User, ident: str) -> File:
    """The file ``ident`` (id or name) if ``actor`` may manage it.

    Raises:
        NotFound: no such file, or one the actor may not manage.
    """
    row = None
    if ident and "\x00" not in ident and len(ident) <= 255:
        row = db.session.scalar(select(File).where((File.id == ident) | (File.name == ident)))
    if row is None or not _owner_may(actor, row.user_id):
        raise NotFound("File not found", code="file_not_found")
    return row


# Answers ------------------------------------------------------------------------------------------

def link_stats(actor: User, link_id: str, query: StatsQuery, reach: Reach = ALL) -> dict[str, Any]:
    """The stats of one link the actor may manage within ``reach`` (see :func:`stats`)."""
    return stats(Scope(target=link_for(actor, link_id, reach).id), query)


def file_stats(actor: User, ident: str, query: StatsQuery) -> dict[str, Any]:
    """The stats of one file the actor may manage."""
    return stats(Scope(target=file_for(actor, ident).id), query)


def user_stats(owner: User, query: StatsQuery) -> dict[str, Any]:
    """The stats of all of ``owner``'s links and files together."""
    return stats(Scope(user_id=owner.id), query)


def server_stats(query: StatsQuery) -> dict[str, Any]:
    """Everything, orphan visits included, plus an ``orphans`` block (for administrators: the face checks)."""
    answer = stats(Scope(server=True), query)
    answer["orphans"] = _orphans(query)
    return answer


def stats(scope: Scope, query: StatsQuery) -> dict[str, Any]:
    """The answer of the read API: range, totals, every bucket (zeros included) and the top lists."""
    counts, uniques, bots = _series(scope, query)
    answer: dict[str, Any] = {
        "from": query.start.astimezone(query.tz).isoformat(), "to": query.end.astimezone(query.tz).isoformat(),
        "interval": query.interval, "tz": query.tz.key, "total": sum(counts), "unique": sum(uniques), "bots": bots,
        "series": [{"start": b.isoformat(), "count": c, "unique": u}
                   for b, c, u in zip(query.buckets, counts, uniques, strict=True)],
    }
    answer.update(_top_lists(scope, query))
    return answer


def _series(scope: Scope, query: StatsQuery) -> tuple[list[int], list[int], int]:
    """Visits and unique visitors per bucket (as the bots filter says), and every bot visit of the range.

    The database sums the hours of each bucket, so a year of one link is a few hundred rows here, not 17,520.
    """
    counts = [0] * len(query.buckets)
    uniques = [0] * len(query.buckets)
    bots = 0
    for i, bot, n, visitors in db.session.execute(_bucketed(scope, query)):
        if bot:
            bots += int(n)
        if i < 0 or (query.bots == "exclude" and bot) or (query.bots == "only" and not bot):
            continue  # i = -1: UTC hours of the range that begin before the first bucket (zones with :30 offsets)
        counts[i] += int(n)
        uniques[i] += int(visitors)
    return counts, uniques, bots


def _bucketed(scope: Scope, query: StatsQuery) -> Select[Any]:
    """(bucket index, bot, visits, visitors) of the range's hours: an hour goes to the last bucket starting at or
    before it (-1 before the first). PostgreSQL's ``width_bucket`` searches the starts; SQLite joins the buckets,
    handed over as one JSON array of [index, start, end], each an index range of ``visit_hours``. Either way the
    statement's text does not depend on the number of buckets, so it is compiled once."""
    starts = [b.astimezone(UTC) for b in query.buckets]
    dialect = db.session.get_bind().dialect
    if dialect.name == "postgresql":
        edges = bindparam("edges", starts, type_=ARRAY(DateTime(timezone=True)))
        hours = (select((func.width_bucket(VisitHour.hour, edges) - 1).label("i"), VisitHour.bot, VisitHour.count,
                        VisitHour.visitors).where(*scope.hours(), *_hour_range(query)).subquery())
        return select(hours.c.i, hours.c.bot, func.sum(hours.c.count), func.sum(hours.c.visitors)).group_by(
            hours.c.i, hours.c.bot)
    # The spans cover [first hour, end) exactly, so ``hour`` needs no other condition: SQLite would take that one
    # as the index range and read the whole range once per bucket.
    first = _first_hour(query)
    stored = VisitHour.hour.type.dialect_impl(dialect).bind_processor(dialect)  # the text SQLite keeps
    assert stored is not None  # SQLite's DATETIME always has one
    # span k is bucket k - 1; the first, [first hour, first bucket), is empty unless the zone's midnight is not
    # on a whole UTC hour
    ends = [*starts[1:], query.end]
    bounds = [(first, max(first, starts[0])), *((max(first, lo), hi) for lo, hi in zip(starts, ends, strict=True))]
    spans = json.dumps([[stored(lo), stored(hi)] for lo, hi in bounds])
    b = func.json_each(bindparam("spans", spans, type_=String)).table_valued("key", "value").alias("b")
    lo, hi = (func.json_extract(b.c.value, literal_column(f"'$[{k}]'")) for k in range(2))
    return (select(b.c.key - 1, VisitHour.bot, func.sum(VisitHour.count), func.sum(VisitHour.visitors))
            .select_from(b).join(VisitHour, (VisitHour.hour >= lo) & (VisitHour.hour < hi))
            .where(*scope.hours()).group_by(b.c.key, VisitHour.bot))


def _first_hour(query: StatsQuery) -> dt.datetime:
    """The start of the UTC hour holding the range's start: the hourly rows read begin there."""
    return query.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_range(query: StatsQuery) -> list[ColumnElement[bool]]:
    return [VisitHour.hour >= _first_hour(query), VisitHour.hour < query.end]


def _bot_filter(model: Any, bots: str) -> list[ColumnElement[bool]]:
    if bots == "exclude":
        return [model.bot.is_(False)]
    if bots == "only":
        return [model.bot.is_(True)]
    return []


def _day_range(query: StatsQuery) -> list[ColumnElement[bool]]:
    last = (query.end - dt.timedelta(microseconds=1)).date()
    return [VisitDay.day >= query.start.date(), VisitDay.day <= last]


def top(counts: dict[str, int], n: int = TOP) -> list[dict[str, Any]]:
    """The ``n`` largest values, largest first (ties by value), then ``other`` with the rest when there is any."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    out: list[dict[str, Any]] = [{"value": v, "count": c} for v, c in ranked[:n] if c > 0]
    rest = sum(c for _, c in ranked[n:])
    if rest > 0:
        out.append({"value": OTHER, "count": rest})
    return out


def _ranked(where: list[ColumnElement[bool]]) -> dict[str, list[dict[str, Any]]]:
    """:func:`top` of every dimension of the ``visit_days`` rows ``where`` selects, ranked by the database: it
    sums each value, numbers them per dimension (largest first, ties by value in code-point order, as
    :func:`top`) and adds up the rest, so a list of thousands of values is eleven rows here."""
    sums = (select(VisitDay.dimension, VisitDay.value, func.sum(VisitDay.count).label("n")).where(*where)
            .group_by(VisitDay.dimension, VisitDay.value).subquery())
    value: ColumnElement[str] = sums.c.value
    if db.session.get_bind().dialect.name == "postgresql":
        value = value.collate("C")  # the database's collation may put "B" after "a"; Python's order does not
    rank = func.row_number().over(partition_by=sums.c.dimension, order_by=(sums.c.n.desc(), value)).label("rank")
    ranked = select(sums.c.dimension, sums.c.value, sums.c.n, rank).subquery()
    kept = case((ranked.c.rank <= TOP, ranked.c.value))  # NULL: one of the rest
    found: dict[str, dict[str | None, int]] = defaultdict(dict)
    for dimension, kept_value, n in db.session.execute(
            select(ranked.c.dimension, kept, func.sum(ranked.c.n)).group_by(ranked.c.dimension, kept)):
        found[dimension][kept_value] = int(n)
    out = {}
    for dimension, counts in found.items():
        rest = counts.pop(None, 0)
        out[dimension] = top({v: n for v, n in counts.items() if v is not None})
        if rest > 0:
            out[dimension].append({"value": OTHER, "count": rest})
    return out


def _top_lists(scope: Scope, query: StatsQuery) -> dict[str, list[dict[str, Any]]]:
    wanted = [dimension for _, dimension in LISTS]
    found = _ranked([*scope.days(), *_day_range(query), *_bot_filter(VisitDay, query.bots),
                     VisitDay.dimension.in_(wanted)])
    return {key: found.get(dimension, []) for key, dimension in LISTS}


def _orphans(query: StatsQuery) -> dict[str, Any]:
    targets = [f"{ORPHAN}:{kind}" for kind in ORPHAN_TYPES]  # the rollups' targets of orphan visits (models/visit.py)
    types = db.session.execute(
        select(VisitHour.target, func.sum(VisitHour.count))
        .where(VisitHour.target.in_(targets), *_hour_range(query), *_bot_filter(VisitHour, query.bots))
        .group_by(VisitHour.target)).all()
    by_type = {target.removeprefix("orphan:"): int(n) for target, n in types}
    urls = _ranked([VisitDay.target.in_(targets), VisitDay.dimension == "url", *_day_range(query),
                    *_bot_filter(VisitDay, query.bots)])
    return {"total": sum(by_type.values()),
            "types": [{"value": v, "count": c} for v, c in sorted(by_type.items(), key=lambda i: (-i[1], i[0]))],
            "urls": urls.get("url", [])}
