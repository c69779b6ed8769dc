"""Users: credentials, role, disabled flag, per-user quotas and the usage counters they guard."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, TimestampMixin


class Role(str, enum.Enum):
    """Zipline's roles, weakest first."""

    USER = "USER"
    ADMIN = "ADMIN"
    SUPERADMIN = "SUPERADMIN"


class FilesQuota(str, enum.Enum):
    """How a user's file quota is counted (Zipline's filesQuota)."""

    NONE = "NONE"
    BY_BYTES = "BY_BYTES"
    BY_FILES = "BY_FILES"


class User(IdMixin, TimestampMixin, Model):
    """A person (or bot) who owns links, files and keys."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("url_count >= 0", name="url_count_nonnegative"),
        CheckConstraint("file_count >= 0", name="file_count_nonnegative"),
        CheckConstraint("used_bytes >= 0", name="used_bytes_nonnegative"),
        CheckConstraint("reserved_bytes >= 0", name="reserved_bytes_nonnegative"),
        CheckConstraint("reserved_files >= 0", name="reserved_files_nonnegative"),
    )

    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)  # lower-cased, for uniqueness
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    disabled: Mapped[bool] = mapped_column(default=False)
    # Bumped on logout-everywhere, password change and disable: sessions carry it.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    avatar: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted, so one code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    view: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Per-user signing secret for dynamic links (hozip); rotated from settings.
    link_signing_secret: Mapped[str | None] = mapped_column(String(64))

    quota_files_type: Mapped[str | None] = mapped_column(String(16))
    quota_max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    quota_max_bytes_text: Mapped[str | None] = mapped_column(String(32))
    quota_max_files: Mapped[int | None] = mapped_column(Integer)
    quota_max_urls: Mapped[int | None] = mapped_column(Integer)
    quota_updated_at: Mapped[dt.datetime | None] = mapped_column()

    url_count: Mapped[int] = mapped_column(Integer, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Held by open chunked uploads (their declared sizes, one file each); quotas count them too.
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reserved_files: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def is_administrator(self) -> bool:
        """ADMIN or SUPERADMIN."""
        return self.role in (Role.ADMIN.value, Role.SUPERADMIN.value)

    @property
    def has_quota(self) -> bool:
        """Whether any quota limit is set (Zipline shows a quota object only then)."""
        return bool(self.quota_files_type and self.quota_files_type != FilesQuota.NONE.value) or \
            self.quota_max_urls is not None

    # Flask-Login protocol; the id embeds the session version so old sessions die.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Disabled users cannot log in."""
        return not self.disabled

    def get_id(self) -> str:
        """Session identifier: id and session version."""
        return f"{self.id}:{self.session_version}"
