"""Instance metrics: one snapshot of the counts Zipline's /api/stats and /dashboard/metrics show.

``data`` holds Zipline's MetricData object as it was when the snapshot was taken (services/metrics.py):
``files``, ``urls``, ``users``, ``storage``, ``fileViews``, ``urlViews`` and the arrays ``filesUsers``,
``urlsUsers`` and ``types``. Snapshots are never changed after they are written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, TimestampMixin


class Metric(IdMixin, TimestampMixin, Model):
    """One snapshot of the instance's counts."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_created_at", "created_at"),)

    data: Mapped[dict[str, Any]] = mapped_column(JSON)
