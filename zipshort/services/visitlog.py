"""The raw visits of one link or file: listed a page at a time (newest first), exported as CSV, forgotten; the
orphan visits forgotten.

Raw visits are kept ``analytics.retention_days``; the rollups (services/visitstats.py reads them) forever,
until :func:`forget_visits` removes both. Nothing here imports Flask.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text
from sqlalchemy.orm import Session

from zipshort.database import write_transaction
from zipshort.dates import MAX_TEXT_LENGTH
from zipshort.errors import ValidationError
from zipshort.extensions import db
from zipshort.inputs import check_offset, whole_number
from zipshort.models import User, Visit, VisitDay, VisitHour, VisitUnique
from zipshort.models.visit import ORPHAN, ORPHAN_TYPES
from zipshort.services.reach import ALL, Reach
from zipshort.services.visitstats import UTC, file_for, link_for, parse_bots, parse_instant, parse_zone

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
CSV_CHUNK = 1000  # rows per query while exporting (each query its own short read)
COLUMNS = ("date", "referrer", "userAgent", "browser", "os", "device", "country", "region", "city", "language",
           "potentialBot", "destination")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting with these


@dataclass(frozen=True)
class VisitFilter:
    """Which raw visits: of one link or file, in [start, end) (None: unbounded), bots exclude/include/only."""

    link_id: str | None = None
    file_id: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    bots: str = "include"

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clause on ``visits`` (served by the (link_id, at) and (file_id, at) indexes)."""
        cond = [Visit.link_id == self.link_id] if self.link_id else [Visit.file_id == self.file_id]
        if self.start is not None:
            cond.append(Visit.at >= self.start)
        if self.end is not None:
            cond.append(Visit.at < self.end)
        if self.bots == "exclude":
            cond.append(Visit.bot.is_(False))
        elif self.bots == "only":
            cond.append(Visit.bot.is_(True))
        return cond


def parse_filter(*, start: str | None = None, end: str | None = None, bots: str | None = None,
                 tz: str | None = None) -> VisitFilter:
    """``from``/``to`` (dates in ``tz``, see visitstats.parse_instant; absent: unbounded) and ``bots`` (default
    include: every visit, with its ``potentialBot`` flag).

    Raises:
        ValidationError: naming the field.
    """
    zone = parse_zone(tz)
    since = parse_instant(start, "from", zone) if start else None
    until = parse_instant(end, "to", zone, end_of_day=True) if end else None
    if since is not None and until is not None and since >= until:
        raise ValidationError("from must be before to", field="from")
    return VisitFilter(start=since, end=until, bots=parse_bots(bots, default="include"))


def parse_page(page: str | None, per_page: str | None) -> tuple[int, int]:
    """``page`` (≥ 1, default 1) and ``perpage`` (1..100, default 20).

    Raises:
        ValidationError: naming ``page`` or ``perpage``.
    """
    number = 1 if not page else whole_number(page[:MAX_TEXT_LENGTH])
    if number is None or number < 1:
        raise ValidationError("page must be a whole number ≥ 1", code="invalid_page", field="page")
    size = DEFAULT_PER_PAGE if not per_page else whole_number(per_page[:MAX_TEXT_LENGTH])
    if size is None or not 1 <= size <= MAX_PER_PAGE:
        raise ValidationError(f"perpage must be between 1 and {MAX_PER_PAGE}", code="invalid_page", field="perpage")
    check_offset((number - 1) * size, "page")
    return number, size


def target_filter(actor: User, kind: str, ident: str, base: VisitFilter, reach: Reach = ALL) -> VisitFilter:
    """``base`` narrowed to the link (``kind`` "link", within the key's ``reach``) or file ``ident`` the actor
    may manage.

    Raises:
        NotFound: no such link or file, or not the actor's to manage.
    """
    if kind == "link":
        return VisitFilter(link_for(actor, ident, reach).id, None, base.start, base.end, base.bots)
    return VisitFilter(None, file_for(actor, ident).id, base.start, base.end, base.bots)


def visit_json(visit: Visit) -> dict[str, Any]:
    """One raw visit in the API's shape (a Do-Not-Track visit has nothing but its date)."""
    return {"date": visit.at.astimezone(UTC).isoformat(), "referrer": visit.referrer or None,
            "userAgent": visit.user_agent or None, "browser": visit.browser or None, "os": visit.os or None,
            "device": visit.device or None, "country": visit.country, "region": visit.region, "city": visit.city,
            "language": visit.language or None, "potentialBot": visit.bot, "destination": visit.destination}


def page_visits(which: VisitFilter, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of raw visits, newest first, and how many match in all."""
    cond = which.conditions()
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond)) or 0
    rows = db.session.scalars(select(Visit).where(*cond).order_by(Visit.at.desc(), Visit.id.desc())
                              .limit(per_page).offset((page - 1) * per_page))
    return [visit_json(v) for v in rows], total


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(which: VisitFilter, chunk: int = CSV_CHUNK) -> Iterator[str]:
    """Every matching visit as CSV text (a header row, then newest first), a chunk of rows per query.

    Each chunk is its own short read (keyset paging on (at, id)), ended before the text is handed on, so a
    slow client holds no transaction open.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield out.getvalue()
    after: tuple[dt.datetime, int] | None = None
    while True:
        stmt = select(Visit).where(*which.conditions())
        if after is not None:
            stmt = stmt.where(or_(Visit.at < after[0], and_(Visit.at == after[0], Visit.id < after[1])))
        rows = list(db.session.scalars(stmt.order_by(Visit.at.desc(), Visit.id.desc()).limit(chunk)))
        out.seek(0)
        out.truncate()
        for visit in rows:
            shaped = visit_json(visit)
            writer.writerow([_cell(shaped[c]) for c in COLUMNS])
        last = (rows[-1].at, rows[-1].id) if rows else None
        db.session.rollback()  # expires the rows: everything needed was read above
        if last is None:
            return
        yield out.getvalue()
        if len(rows) < chunk:
            return
        after = last


def forget_visits(actor: User, kind: str, ident: str, reach: Reach = ALL) -> int:
    """Delete every visit of a link (``kind`` "link", within the key's ``reach``) or file the actor may manage:
    raw visits and rollups, in one write transaction; return how many visits were forgotten (as the rollups
    counted them, which also count raw visits already pruned).

    Raises:
        NotFound: no such link or file, or not the actor's to manage.
    """
    with write_transaction(db.session) as session:
        target = link_for(actor, ident, reach).id if kind == "link" else file_for(actor, ident).id
        column = Visit.link_id if kind == "link" else Visit.file_id
        return _forget(session, [target], column == target)


def forget_orphan_visits() -> int:
    """Delete every orphan visit, raw and rolled up, in one write transaction; return how many (as the rollups
    counted them). Who may is the caller's rule (services/visitqueries.py)."""
    with write_transaction(db.session) as session:
        return _forget(session, [f"{ORPHAN}:{kind}" for kind in ORPHAN_TYPES], Visit.kind == ORPHAN)


def _forget(session: Session, targets: list[str], raw: ColumnElement[bool]) -> int:
    """Inside a write transaction: count the rollups of ``targets``, delete them and the raw visits ``raw`` selects.

    On PostgreSQL the analytics writer is held off first (``visit_hours`` locked against writes until the commit):
    a batch committed between two of these statements would leave raw visits without their rollups, or rollups
    without their raw visits. A batch already writing is waited for; one that comes after adds rows anew. On
    SQLite the write transaction already holds the database's only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE visit_hours IN EXCLUSIVE MODE"))
    counted = session.scalar(select(func.coalesce(func.sum(VisitHour.count), 0))
                             .where(VisitHour.target.in_(targets))) or 0
    session.execute(delete(Visit).where(raw))
    session.execute(delete(VisitHour).where(VisitHour.target.in_(targets)))
    session.execute(delete(VisitDay).where(VisitDay.target.in_(targets)))
    session.execute(delete(VisitUnique).where(VisitUnique.target.in_(targets)))
    return int(counted)
