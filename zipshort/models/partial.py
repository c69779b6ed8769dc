"""Chunked uploads in progress: kept in the database so every process sees the same sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import db
from zipshort.models.base import IdMixin, TimestampMixin


class PartialUpload(IdMixin, TimestampMixin, db.Model):
    """One file arriving in chunks; its bytes sit in storage's temp folder until the last chunk."""

    __tablename__ = "partial_uploads"
    __table_args__ = (Index("ix_partial_uploads_updated_at", "updated_at"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    total_size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_at: Mapped[dt.datetime | None] = mapped_column()
