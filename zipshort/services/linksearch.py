"""Reading links as Shlink's API asks for them: one link by code and domain, a filtered and ordered page of
them, the existing link a ``findIfExists`` create returns, and the visit totals of many links at once.

Everything is within the owner's links and the caller's :class:`~zipshort.services.reach.Reach`. Nothing here
writes.
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from zipshort.extensions import db
from zipshort.models import Link, User, VisitHour
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
