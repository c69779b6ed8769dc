"""Tags: per-user labels with colours, attached to files."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zipshort.database import write_transaction
from zipshort.errors import NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import File, Tag, User, new_id, utcnow

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
