"""Folders (Zipline's Folder; hozip's groups and hoko's collections) and tags with colours."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import Model, db
from zipshort.models.base import IdMixin, TimestampMixin
from zipshort.models.user import User


class Folder(IdMixin, TimestampMixin, Model):
    """A user's folder of files; public folders can be viewed, open ones take uploads from anyone."""

    __tablename__ = "folders"
    __table_args__ = (Index("ix_folders_user_id", "user_id"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    public: Mapped[bool] = mapped_column(default=False)
    allow_uploads: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(lazy="select")


class Tag(IdMixin, TimestampMixin, Model):
    """A user's label for files (names unique per user, not globally as in Zipline 4.4)."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("user_id", "name_key", name="uq_tags_user_id_name_key"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(32))


file_tags = Table(
    "file_tags",
    db.metadata,
    Column("file_id", ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


link_tags = Table(
    "link_tags",
    db.metadata,
    Column("link_id", ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)
