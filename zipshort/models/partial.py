"""Chunked uploads in progress: kept in the database so every process sees the same sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, TimestampMixin


class PartialUpload(IdMixin, TimestampMixin, Model):
    """One file arriving in chunks; its bytes sit in storage's temp folder until the last chunk.

    While the row exists it holds ``total_size`` bytes and one file of the owner's quota
    (``users.reserved_bytes``/``reserved_files``); deleting the row is what releases or converts them.
    """

    __tablename__ = "partial_uploads"
    __table_args__ = (Index("ix_partial_uploads_updated_at", "updated_at"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    total_size: Mapped[int] = mapped_column(BigInteger)
    # Bytes covered by ``ranges`` (a resent chunk counts once).
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    # Received byte ranges, merged and sorted: [[start, end), ...].
    ranges: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    # "receiving" takes chunks; "assembling" belongs to the one request that is finishing the file.
    state: Mapped[str] = mapped_column(String(16), default="receiving")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The hard end of the session (files.partial_max_age_seconds after the first chunk), whatever arrives.
    expires_at: Mapped[dt.datetime | None] = mapped_column()
