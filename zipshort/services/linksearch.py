"""Reading links as Shlink's API asks for them: one link by code and domain, a filtered and ordered page of
them, the existing link a ``findIfExists`` create returns, and the visit totals of many links at once.

Everything is within the owner's links and the caller's :class:`~zipshort.services.reach.Reach`. Nothing here
writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, or_, select

from zipshort.errors import ValidationError
from zipshort.extensions import db
from zipshort.inputs import check_offset
from zipshort.models import ApiKey, Link, Tag, User, VisitHour, utcnow
from zipshort.models.folder import link_tags
from zipshort.services.reach import Reach


def find_by_code(owner: User, code: str, domain: str, reach: Reach) -> Link | None:
    """The owner's link ``code`` on ``domain`` (``''``: the domain-less links), if within ``reach``."""
    if not code or len(code) > 255 or "\x00" in code:
        return None
    return db.session.scalars(select(Link).where(Link.user_id == owner.id, Link.slug_key == code.lower(),
                                                 Link.domain == domain, *reach.link_conditions())).first()


def visit_summaries(link_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(total visits, bot visits) per link, from the hourly rollups (kept forever), in one query; links
    without visits are missing."""
    if not link_ids:
        return {}
    rows = db.session.execute(
        select(VisitHour.link_id, func.sum(VisitHour.count),
               func.sum(case((VisitHour.bot, VisitHour.count), else_=0)))
        .where(VisitHour.link_id.in_(link_ids)).group_by(VisitHour.link_id))
    return {link_id: (int(total or 0), int(bots or 0)) for link_id, total, bots in rows}


ORDER_FIELDS = ("dateCreated", "shortCode", "longUrl", "title", "visits", "nonBotVisits")


@dataclass(frozen=True)
class LinkSearch:
    """The filters and order of Shlink's short URL list, parsed (names already normalised by the dialect).

    ``domain``: None = every domain, ``''`` = the domain-less links, else a custom hostname. ``default_host``:
    the default domain's name, which a search term matching part of it also finds the domain-less links by.
    ``per_page`` None: every link on one page.
    """

    search_term: str | None = None
    tags: tuple[str, ...] = ()
    tags_all: bool = False
    exclude_tags: tuple[str, ...] = ()
    exclude_tags_all: bool = False
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    exclude_max_visits_reached: bool = False
    exclude_past_valid_until: bool = False
    domain: str | None = None
    default_host: str = ""
    api_key_name: str | None = None
    order: str = "dateCreated"
    descending: bool = True
    page: int = 1
    per_page: int | None = 10


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _tags_match(names: tuple[str, ...], every: bool) -> ColumnElement[bool]:
    """The link carries any (or every) tag of ``names`` (compared without case)."""
    keys = list({name.lower() for name in names})
    matching = (select(func.count()).select_from(link_tags).join(Tag, Tag.id == link_tags.c.tag_id)
                .where(link_tags.c.link_id == Link.id, Tag.name_key.in_(keys)).scalar_subquery())
    return matching == len(keys) if every else matching > 0


def _visits(bots: bool) -> ColumnElement[int]:
    """A link's visits from the rollups (with or without bots), as a correlated subquery."""
    cond = [VisitHour.link_id == Link.id] + ([] if bots else [VisitHour.bot.is_(False)])
    return func.coalesce(select(func.sum(VisitHour.count)).where(*cond).scalar_subquery(), 0)


def _conditions(owner: User, reach: Reach, search: LinkSearch, now: dt.datetime) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = [Link.user_id == owner.id, *reach.link_conditions()]
    if search.search_term:
        term = _like(search.search_term)
        columns = (Link.destination, Link.slug, func.coalesce(Link.title, ""), Link.domain)
        found: list[ColumnElement[bool]] = [func.lower(column).like(term, escape="\\") for column in columns]
        if not (search.tags and search.tags_all):
            found.append(exists(select(link_tags.c.link_id).join(Tag, Tag.id == link_tags.c.tag_id).where(
                link_tags.c.link_id == Link.id, Tag.name_key.like(term, escape="\\"))))
        if search.domain is None and search.search_term.lower() in search.default_host.lower():
            found.append(Link.domain == "")
        cond.append(or_(*found))
    if search.tags:
        cond.append(_tags_match(search.tags, search.tags_all))
    if search.exclude_tags:
        cond.append(~_tags_match(search.exclude_tags, search.exclude_tags_all))
    if search.start is not None:
        cond.append(Link.created_at >= search.start)
    if search.end is not None:
        cond.append(Link.created_at <= search.end)
    if search.exclude_max_visits_reached:
        cond.append(or_(Link.max_views.is_(None), Link.views < Link.max_views))
    if search.exclude_past_valid_until:
        cond.append(or_(Link.expires_at.is_(None), Link.expires_at >= now))
    if search.domain is not None:
        cond.append(Link.domain == search.domain)
    if search.api_key_name is not None and (not reach.restricted or _own_key_named(reach, search.api_key_name)):
        cond.append(Link.api_key_id.in_(select(ApiKey.id).where(ApiKey.user_id == owner.id,
                                                                ApiKey.name == search.api_key_name)))
    return cond


def _own_key_named(reach: Reach, name: str) -> bool:
    """A restricted key filters by key name only with its own name (others are ignored, as Shlink does)."""
    return db.session.scalar(select(ApiKey.name).where(ApiKey.id == reach.key_id)) == name


def search_links(owner: User, reach: Reach, search: LinkSearch, now: dt.datetime | None = None
                 ) -> tuple[list[Link], int]:
    """One page of the owner's links within ``reach`` matching ``search``, in its order; and how many match.

    Raises:
        ValidationError: an unknown order field; a page too far to address.
    """
    if search.order not in ORDER_FIELDS:
        raise ValidationError("Unknown orderBy field", field="orderBy")
    now = now or utcnow()
    cond = _conditions(owner, reach, search, now)
    total = db.session.scalar(select(func.count()).select_from(Link).where(*cond)) or 0
    key: Any = {
        "dateCreated": Link.created_at, "shortCode": Link.slug, "longUrl": Link.destination,
        "title": func.coalesce(Link.title, ""), "visits": _visits(True), "nonBotVisits": _visits(False),
    }[search.order]
    order = [key.desc(), Link.id.desc()] if search.descending else [key.asc(), Link.id.asc()]
    stmt = select(Link).where(*cond).order_by(*order)
    if search.per_page is not None:
        stmt = stmt.limit(search.per_page).offset(check_offset((search.page - 1) * search.per_page, "page"))
    elif search.page > 1:
        return [], total
    return list(db.session.scalars(stmt)), total


def find_matching(owner: User, reach: Reach, destination: str, *, slug: str | None = None, domain: str | None = None,
                  max_views: int | None = None, valid_since: dt.datetime | None = None,
                  expires_at: dt.datetime | None = None, tags: list[str] | None = None) -> Link | None:
    """The first created of the owner's links (within ``reach``) with this destination and each constraint
    given (None: not compared; ``tags``: exactly this set, without case): Shlink's ``findIfExists``."""
    cond = [Link.user_id == owner.id, Link.destination == destination, *reach.link_conditions()]
    if slug is not None:
        cond.append(Link.slug_key == slug.lower())
    if domain is not None:
        cond.append(Link.domain == domain)
    if max_views is not None:
        cond.append(Link.max_views == max_views)
    if valid_since is not None:
        cond.append(Link.valid_since == valid_since)
    if expires_at is not None:
        cond.append(Link.expires_at == expires_at)
    wanted = None if tags is None else {tag.lower() for tag in tags}
    for link in db.session.scalars(select(Link).where(*cond).order_by(Link.created_at, Link.id)):
        if wanted is None or {tag.name_key for tag in link.tags} == wanted:
            return link
    return None


def visits_of(link: Link) -> int:
    """Every visit of ``link``, bots included: its view counter, or its rollups when they say more (Shlink's
    delete threshold)."""
    total, _ = visit_summaries([link.id]).get(link.id, (0, 0))
    return max(link.views, total)
