"""Visits as Shlink lists them: of one short URL, a tag, a domain, every link (non-orphan), or nobody (orphan),
a page at a time, newest first; the all-time overview; deleting a short URL's or the orphan visits.

Whose visits a caller sees (:class:`Reader`): the visits of their own links, narrowed by what their key
reaches (``services/reach.py``: only the links it created, only one domain's), as the link listings of
every dialect show an administrator their own links only. Orphan visits belong to the server, not to a
user: only an administrator calling with the ``admin`` scope and an unrestricted key (or a session) sees
them, as the Zipline dialect's server statistics; anyone else sees none and deletes none, as Shlink's
``NO_ORPHAN_VISITS`` role (an empty list, zero counts, ``deletedVisits: 0``).

The lists read the raw visits (kept ``analytics.retention_days``); the overview reads the rollups, which
are kept forever and count bot visits apart. Nothing here imports Flask.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select

from zipshort.dates import MAX_TEXT_LENGTH
from zipshort.errors import NotFound, ValidationError
from zipshort.extensions import db
from zipshort.inputs import MAX_SAFE_INTEGER, check_offset, whole_number
from zipshort.models import CustomDomain, Link, Tag, User, Visit, VisitHour
from zipshort.models.folder import link_tags
from zipshort.models.visit import LINK, ORPHAN, ORPHAN_TYPES
from zipshort.services import visitlog
from zipshort.services.apikeys import Actor
from zipshort.services.reach import Reach
from zipshort.services.visitstats import parse_instant, parse_zone

ORPHAN_TARGETS = tuple(f"{ORPHAN}:{kind}" for kind in ORPHAN_TYPES)  # the rollups' targets (models/visit.py)
_MAX_NAME = 255


@dataclass(frozen=True)
class Reader:
    """Who reads visits: the user whose links they are, what the key reaches, whether orphan visits show."""

    user: User
    reach: Reach
    orphans: bool


def reader(actor: Actor, reach: Reach) -> Reader:
    """The reader behind ``actor`` calling with a key of ``reach`` (see the module's docstring)."""
    if actor.user is None:
        raise ValueError("visits are read by a user")
    orphans = actor.admin and "admin" in actor.scopes and not actor.bot and not reach.restricted
    return Reader(actor.user, reach, orphans)


@dataclass(frozen=True)
class Params:
    """A checked visits query: [start, end] (inclusive, None: unbounded), bots left out or not, the page
    (from 1) and its size (None: every visit on one page)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    exclude_bots: bool = False
    page: int = 1
    per_page: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The date and bot conditions on ``visits``."""
        cond: list[ColumnElement[bool]] = []
        if self.start is not None:
            cond.append(Visit.at >= self.start)
        if self.end is not None:
            cond.append(Visit.at <= self.end)
        if self.exclude_bots:
            cond.append(Visit.bot.is_(False))
        return cond


def _integer(value: str | None, field: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()[:MAX_TEXT_LENGTH]
    number = whole_number(text.removeprefix("-"))
    if number is None:
        raise ValidationError(f"{field} must be a whole number", field=field)
    return -number if text.startswith("-") else number


def _date(value: str | None, field: str, end: bool) -> dt.datetime | None:
    """An ISO date (its whole UTC day: the start, or with ``end`` the last microsecond) or date-time (naive: UTC)."""
    if value is None or value.strip() == "":
        return None
    instant = parse_instant(value, field, parse_zone(None), end_of_day=end)
    if end and len(value.strip()) == 10:
        instant -= dt.timedelta(microseconds=1)  # a date ends where the next day begins
    return instant


def parse_params(*, page: str | None = None, items_per_page: str | None = None, start_date: str | None = None,
                 end_date: str | None = None, exclude_bots: bool = False) -> Params:
    """Shlink's visits parameters as the query string gives them: ``page`` (≤ 0 or absent: 1),
    ``itemsPerPage`` (absent, 0 or negative: every visit), ``startDate``/``endDate`` (inclusive; a date
    means its whole UTC day), ``excludeBots`` (by presence, whatever its value: the face says whether it
    was sent).

    Raises:
        ValidationError: naming ``page``, ``itemsPerPage``, ``startDate`` or ``endDate``.
    """
    number = _integer(page, "page")
    size = _integer(items_per_page, "itemsPerPage")
    number = 1 if number is None or number < 1 else number
    if number > MAX_SAFE_INTEGER:  # a page no client can even count to
        raise ValidationError("page is out of range", field="page")
    size = None if size is None or size < 1 else size
    if size is not None:
        check_offset((number - 1) * size, "page")
    return Params(_date(start_date, "startDate", end=False), _date(end_date, "endDate", end=True), exclude_bots,
                  number, size)


def parse_orphan_type(value: str | None) -> str | None:
    """Shlink's orphan ``type`` filter: ``base_url``, ``invalid_short_url``, ``regular_404`` or none.

    Raises:
        ValidationError: anything else (field ``type``).
    """
    if value is None or value == "":
        return None
    if value not in ORPHAN_TYPES:
        raise ValidationError(f"type must be one of {', '.join(ORPHAN_TYPES)}", field="type")
    return value


@dataclass(frozen=True)
class Page:
    """One page of visits, how many match in all, and the page asked for (``per_page`` None: everything)."""

    visits: list[Visit]
    total: int
    page: int
    per_page: int | None


def _paged(where: list[ColumnElement[bool]], params: Params) -> Page:
    """Visits matching ``where`` and ``params``, newest first (by id: the order they were stored)."""
    cond = [*where, *params.conditions()]
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond)) or 0
    stmt = select(Visit).where(*cond).order_by(Visit.id.desc())
    if params.per_page is not None:
        stmt = stmt.limit(params.per_page).offset((params.page - 1) * params.per_page)
    return Page(list(db.session.scalars(stmt)), int(total), params.page, params.per_page)


# Whose links --------------------------------------------------------------------------------------

def _links(reader: Reader, *where: ColumnElement[bool]) -> Select[str]:
    """The ids of the reader's links (within the key's reach) matching ``where``."""
    return select(Link.id).where(Link.user_id == reader.user.id, *reader.reach.link_conditions(), *where)


def _visible_domain(reader: Reader, authority: str, domain: str) -> None:
    """Check that the reader may ask about ``domain`` (a ``links.domain``; ``authority`` is how it was asked
    for): the platform's unless the key is bound to another domain; a custom domain the key may reach that the
    user claims or has links on.

    Raises:
        NotFound: ``domain_not_found`` (with ``authority``).
    """
    reach = reader.reach
    if reach.domain is None or reach.domain == domain:
        if domain == "":
            return
        claimed = select(CustomDomain.id).where(CustomDomain.user_id == reader.user.id,
                                                CustomDomain.hostname == domain)
        if not reach.restricted and db.session.scalar(claimed.limit(1)) is not None:
            return
        if db.session.scalar(_links(reader, Link.domain == domain).limit(1)) is not None:
            return
    raise NotFound(f'Domain with authority "{authority}" could not be found', code="domain_not_found",
                   extra={"authority": authority})


# Lists --------------------------------------------------------------------------------------------

def link_visits(link: Link, params: Params) -> Page:
    """The visits of one short URL (found by the caller within their links and reach: linksearch.find_by_code)."""
    return _paged([Visit.link_id == link.id], params)


def tag_visits(reader: Reader, tag: str, domain: str | None, params: Params) -> Page:
    """The visits of the reader's links carrying the tag named exactly ``tag``, only those on ``domain`` (a
    ``links.domain``) when one is given.

    Raises:
        NotFound: ``tag_not_found`` (with ``tag``): the user has no such tag, or (a restricted key) none of
        the links it reaches carries it.
    """
    tagged = (select(link_tags.c.link_id).join(Tag, Tag.id == link_tags.c.tag_id)
              .where(Tag.user_id == reader.user.id, Tag.name == tag[:_MAX_NAME]))
    exists = (_links(reader, Link.id.in_(tagged)) if reader.reach.restricted
              else select(Tag.id).where(Tag.user_id == reader.user.id, Tag.name == tag[:_MAX_NAME]))
    if len(tag) > _MAX_NAME or db.session.scalar(exists.limit(1)) is None:
        raise NotFound(f'Tag with name "{tag}" could not be found', code="tag_not_found", extra={"tag": tag})
    where = [Link.id.in_(tagged)] + ([Link.domain == domain] if domain is not None else [])
    return _paged([Visit.link_id.in_(_links(reader, *where))], params)


def domain_visits(reader: Reader, authority: str, domain: str, params: Params) -> Page:
    """The visits of the reader's links on ``domain`` (a ``links.domain``: ``''`` for the platform's
    domain-less links), asked for as ``authority``.

    Raises:
        NotFound: ``domain_not_found``: see :func:`_visible_domain`.
    """
    _visible_domain(reader, authority, domain)
    return _paged([Visit.link_id.in_(_links(reader, Link.domain == domain))], params)


def non_orphan_visits(reader: Reader, domain: str | None, params: Params) -> Page:
    """The visits of every link the reader sees (only those on ``domain`` when given). Files' visits are not
    Shlink's."""
    where = [Link.domain == domain] if domain is not None else []
    return _paged([Visit.kind == LINK, Visit.link_id.in_(_links(reader, *where))], params)


def orphan_visits(reader: Reader, kind: str | None, url_holds: tuple[str, ...], params: Params) -> Page:
    """Orphan visits (of one ``kind``; whose URL holds one of ``url_holds`` when any is given, as a plain
    substring), or an empty page for a reader who may not see them."""
    if not reader.orphans:
        return Page([], 0, params.page, params.per_page)
    where: list[ColumnElement[bool]] = [Visit.kind == ORPHAN]
    if kind is not None:
        where.append(Visit.orphan_type == kind)
    if url_holds:
        where.append(or_(*(Visit.url.contains(part[:_MAX_NAME], autoescape=True) for part in url_holds)))
    return _paged(where, params)


# The overview and deletions -----------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """Visits counted: all of them and the bots among them."""

    total: int = 0
    bots: int = 0

    @property
    def non_bots(self) -> int:
        """The visits not flagged as bots."""
        return self.total - self.bots


def _summed(where: list[ColumnElement[bool]]) -> Summary:
    rows = db.session.execute(select(VisitHour.bot, func.sum(VisitHour.count)).where(*where)
                              .group_by(VisitHour.bot)).all()
    counts = {bool(bot): int(n) for bot, n in rows}
    return Summary(sum(counts.values()), counts.get(True, 0))


def overview(reader: Reader) -> tuple[Summary, Summary]:
    """All-time visits of the reader's links (within the key's reach) and orphan visits (none for a reader who
    may not see them), from the rollups: raw visits are pruned after ``analytics.retention_days``."""
    if reader.reach.restricted:
        links: list[ColumnElement[bool]] = [VisitHour.link_id.in_(_links(reader))]
    else:  # the rollups' owner column: served by its index, no list of the user's links
        links = [VisitHour.user_id == reader.user.id, VisitHour.kind == LINK]
    linked = _summed(links)
    orphaned = _summed([VisitHour.target.in_(ORPHAN_TARGETS)]) if reader.orphans else Summary()
    return linked, orphaned


def delete_link_visits(reader: Reader, link: Link) -> int:
    """Forget every visit of one of the reader's short URLs (raw and rollups); return how many (as the rollups
    counted them)."""
    return visitlog.forget_visits(reader.user, "link", link.id)


def delete_orphan_visits(reader: Reader) -> int:
    """Forget every orphan visit (raw and rollups) if the reader may see them; return how many."""
    return visitlog.forget_orphan_visits() if reader.orphans else 0

