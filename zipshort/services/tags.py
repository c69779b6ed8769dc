"""Tags: per-user labels with colours, attached to files and links; Shlink's view of them by name (stats within
a key's reach, rename, delete)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.exc import IntegrityError

from zipshort.database import rowcount, write_transaction
from zipshort.errors import Conflict, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import File, Link, Tag, User, VisitHour, new_id, utcnow
from zipshort.models.folder import link_tags
from zipshort.services.reach import Reach

COLOR_RE = re.compile(r"#[0-9A-Fa-f]{3,8}|[A-Za-z]{3,20}")


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Name is required", code="name_required", field="name")
    if len(value.strip()) > 64 or not value.isprintable():
        raise ValidationError("Name must be 1-64 printable characters", field="name")
    return value.strip()


def _color(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("Color is required", code="color_required", field="color")
    if not COLOR_RE.fullmatch(value):
        raise ValidationError("Color must be #rgb, #rrggbb or a colour name", field="color")
    return value


def create_tag(owner: User, name: object, color: object) -> Tag:
    """Create a tag. Raises ValidationError, including for a name the owner already uses."""
    name, color = _name(name), _color(color)
    try:
        with write_transaction(db.session):
            tag = Tag(id=new_id(), user_id=owner.id, name=name, name_key=name.lower(), color=color)
            db.session.add(tag)
    except IntegrityError:
        raise ValidationError("Cannot create tag with the same name", code="tag_exists") from None
    return tag


def list_tags(owner: User) -> list[Tag]:
    """The owner's tags by name."""
    return list(db.session.scalars(select(Tag).where(Tag.user_id == owner.id).order_by(Tag.name_key)))


def _owned(owner: User, tag_id: str) -> Tag:
    tag = db.session.get(Tag, tag_id) if tag_id and "\x00" not in tag_id else None
    if tag is None or tag.user_id != owner.id:
        raise NotFound("Tag not found", code="tag_not_found")
    return tag


def update_tag(owner: User, tag_id: str, name: object = None, color: object = None) -> Tag:
    """Rename or recolour a tag."""
    try:
        with write_transaction(db.session):
            tag = _owned(owner, tag_id)
            if name is not None:
                tag.name = _name(name)
                tag.name_key = tag.name.lower()
            if color is not None:
                tag.color = _color(color)
            tag.updated_at = utcnow()
            db.session.flush()
    except IntegrityError:
        raise ValidationError("tag name already exists", code="tag_exists") from None
    return tag


def delete_tag(owner: User, tag_id: str) -> Tag:
    """Delete a tag (files keep existing)."""
    with write_transaction(db.session):
        tag = _owned(owner, tag_id)
        db.session.delete(tag)
    return tag


def resolve(owner: User, tag_ids: object) -> list[Tag]:
    """The owner's tags with these ids. Raises ValidationError for a bad list or a foreign/unknown id."""
    if not isinstance(tag_ids, list) or not all(isinstance(t, str) for t in tag_ids) or len(tag_ids) > 100:
        raise ValidationError("tags must be a list of tag ids", field="tags")
    found = list(db.session.scalars(select(Tag).where(Tag.user_id == owner.id, Tag.id.in_(tag_ids))))
    if len(found) != len(set(tag_ids)):
        raise ValidationError("Unknown tag", code="tag_not_found", field="tags")
    return found


def tag_files(owner: User, file_ids: list[str], tag_id: str, add: bool = True) -> int:
    """Add the tag to (or take it off) several of the owner's files; how many were given."""
    with write_transaction(db.session):
        tag = _owned(owner, tag_id)
        rows = list(db.session.scalars(select(File).where(File.user_id == owner.id, File.id.in_(file_ids))))
        if len(rows) != len(set(file_ids)):
            raise NotFound("File not found", code="file_not_found")
        for row in rows:
            if add and tag not in row.tags:
                row.tags.append(tag)
            elif not add and tag in row.tags:
                row.tags.remove(tag)
    return len(rows)


# --- by name, as Shlink addresses tags ------------------------------------------------------------------

@dataclass(frozen=True)
class TagStats:
    """One tag with the links carrying it within a reach and their visits (all, and by bots)."""

    name: str
    links: int
    visits: int
    bots: int


def tag_stats(owner: User, reach: Reach) -> list[TagStats]:
    """The owner's tags by name with their links and visits within ``reach``; a restricted reach sees only the
    tags of links it reaches. One query (visits from the hourly rollups)."""
    totals = (select(VisitHour.link_id.label("link_id"), func.sum(VisitHour.count).label("total"),
                     func.sum(case((VisitHour.bot, VisitHour.count), else_=0)).label("bots"))
              .where(VisitHour.user_id == owner.id, VisitHour.link_id.is_not(None))
              .group_by(VisitHour.link_id).subquery())
    stmt = (select(Tag.name, func.count(Link.id), func.coalesce(func.sum(totals.c.total), 0),
                   func.coalesce(func.sum(totals.c.bots), 0))
            .select_from(Tag)
            .outerjoin(link_tags, link_tags.c.tag_id == Tag.id)
            .outerjoin(Link, and_(Link.id == link_tags.c.link_id, *reach.link_conditions()))
            .outerjoin(totals, totals.c.link_id == Link.id)
            .where(Tag.user_id == owner.id).group_by(Tag.id, Tag.name).order_by(Tag.name_key))
    if reach.restricted:
        stmt = stmt.having(func.count(Link.id) > 0)
    rows = db.session.execute(stmt)
    return [TagStats(name, int(links), int(visits), int(bots)) for name, links, visits, bots in rows]


def rename_tag(owner: User, old: str, new: object) -> Tag:
    """Rename the owner's tag named exactly ``old`` to ``new`` (its case kept).

    Raises:
        ValidationError: ``new`` is no name. NotFound (``tag_not_found``): no such tag. Conflict
        (``tag_conflict``): another of the owner's tags has that name.
    """
    name = _name(new)
    try:
        with write_transaction(db.session):
            tag = db.session.scalars(select(Tag).where(Tag.user_id == owner.id, Tag.name == old)).first()
            if tag is None:
                raise NotFound("Tag not found", code="tag_not_found")
            tag.name, tag.name_key, tag.updated_at = name, name.lower(), utcnow()
            db.session.flush()
    except IntegrityError:
        raise Conflict("A tag with that name already exists", code="tag_conflict") from None
    return tag


def delete_tags_named(owner: User, names: list[str]) -> int:
    """Delete the owner's tags named exactly so (their links and files keep existing); unknown names are
    ignored. Returns how many went."""
    if not names:
        return 0
    with write_transaction(db.session):
        result = db.session.execute(delete(Tag).where(Tag.user_id == owner.id, Tag.name.in_(names)))
    return rowcount(result)
