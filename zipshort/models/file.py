"""Uploaded files: the row that points at a blob; the blob's key is zipshort's, the names are metadata."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, TimestampMixin
from zipshort.models.user import User

if TYPE_CHECKING:
    from zipshort.models.folder import Tag


class File(IdMixin, TimestampMixin, Model):
    """One stored file, served at ``<files.route>/<name>``."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_user_id_created_at", "user_id", "created_at"),
        Index("ix_files_expires_at", "expires_at"),
        CheckConstraint("views >= 0", name="views_nonnegative"),
        CheckConstraint("size >= 0", name="size_nonnegative"),
        CheckConstraint("max_views IS NULL OR max_views > 0", name="max_views_positive"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), unique=True)
    original_name: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    max_views: Mapped[int | None] = mapped_column(Integer)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    favorite: Mapped[bool] = mapped_column(default=False)
    folder_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id", ondelete="SET NULL"))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    anonymous: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(lazy="select")
    tags: Mapped[list["Tag"]] = relationship(secondary="file_tags", lazy="selectin", order_by="Tag.name")
