"""Reading links: one link of its owner's, the owner's links listed, paged, searched or filtered by destination;
the crawlable ones (/robots.txt). Every read of a user's links takes the caller's ``reach``
(services/reach.py): an API key with a role sees only the links it reaches, whatever the dialect.

Nothing here writes; services/links.py holds the doors that do.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select

from zipshort.codes import could_be_code
from zipshort.database import binary_collation
from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.inputs import check_offset
from zipshort.models import Link, User
from zipshort.services.reach import ALL, Reach

SEARCH_FIELDS = ("destination", "vanity", "code")


def get_owned_link(owner: User, link_id: str, *, reach: Reach = ALL) -> Link:
    """The link ``link_id`` if ``owner`` owns it and it is within ``reach``.

    Raises:
        NotFound: no such link. Forbidden: it belongs to someone else, or is out of the key's reach (the same
        answer: a key with a role sees the links it does not reach as another user's).
    """
    link = db.session.get(Link, link_id, populate_existing=True) if could_be_code(link_id) else None
    if link is None:
        raise NotFound("URL not found", code="url_not_found")
    if link.user_id != owner.id or not reach.admits(link):
        raise Forbidden("You don't own this URL", code="not_owner")
    return link


def list_links(owner: User, search_field: str | None = None, search_query: str | None = None, *,
               reach: Reach = ALL) -> list[Link]:
    """The owner's links within ``reach``, newest first, optionally filtered by a case-insensitive substring.

    Raises:
        ValidationError: unknown search field.
    """
    return list(db.session.scalars(_links_query(owner, search_field, search_query, reach)))


def page_links(owner: User, page: int = 1, per_page: int = 25, search_field: str | None = None,
               search_query: str | None = None, *, reach: Reach = ALL) -> tuple[list[Link], int]:
    """One page of the owner's links within ``reach`` (newest first) and how many match in all."""
    if page < 1 or not 1 <= per_page <= 500:
        raise ValidationError("Invalid page or perpage", code="invalid_page")
    stmt = _links_query(owner, search_field, search_query, reach)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    offset = check_offset((page - 1) * per_page, "page")
    return list(db.session.scalars(stmt.limit(per_page).offset(offset))), total


def query_links(owner: User, limit: int, offset: int, destination: str | None = None,
                match: str = "exact", *, reach: Reach = ALL) -> tuple[list[Link], int]:
    """A page of the owner's links within ``reach``, newest first, optionally only those whose destination
    equals (or starts with) ``destination``; and how many match in all. Served by the (user_id, destination)
    index."""
    check_offset(offset, "offset")
    cond = [Link.user_id == owner.id, *reach.link_conditions()]
    if destination is not None:
        if match == "exact":
            cond.append(Link.destination == destination)
        else:  # a byte-order range the index can serve, and the exact prefix test for any collation
            if _binary_collation():
                cond += [Link.destination >= destination, Link.destination < destination + "\U0010ffff"]
            cond.append(func.substr(Link.destination, 1, len(destination)) == destination)
    if destination is None and not reach.restricted:  # the owner's counter, kept exact by every create and delete
        total = db.session.scalar(select(User.url_count).where(User.id == owner.id)) or 0
    else:
        total = db.session.scalar(select(func.count()).select_from(Link).where(*cond)) or 0
    rows = db.session.scalars(select(Link).where(*cond).order_by(Link.created_at.desc(), Link.id.desc())
                              .limit(limit).offset(offset))
    return list(rows), total


def _binary_collation() -> bool:
    """Whether text compares in code point order (SQLite; PostgreSQL with a C collation)."""
    return binary_collation(db.session)


def _links_query(owner: User, search_field: str | None, search_query: str | None, reach: Reach) -> Select[Link]:
    stmt = (select(Link).where(Link.user_id == owner.id, *reach.link_conditions())
            .order_by(Link.created_at.desc(), Link.id.desc()))
    if search_field is not None or search_query:
        if search_field not in SEARCH_FIELDS:
            raise ValidationError("Invalid searchField value", code="invalid_search_field", field="searchField")
        column = {"destination": Link.destination, "vanity": Link.vanity, "code": Link.slug}[search_field]
        if "\x00" in (search_query or ""):
            raise ValidationError("searchQuery must not contain NUL", field="searchQuery")
        query = (search_query or "").lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(column).like(f"%{query}%", escape="\\"))
    return stmt


def crawlable_slugs() -> list[str]:
    """Every link marked crawlable's code, on any domain, once each, sorted (what /robots.txt allows, as
    Shlink's RobotsAction lists them: live or not, its partial index ``ix_links_crawlable`` answers it)."""
    found = set(db.session.scalars(select(Link.slug).where(Link.crawlable.is_(True))))
    db.session.rollback()  # end the read transaction
    return sorted(found)
