"""Leadership of background work that must run once across server processes (services/leadership.py).

One row per role (``maintenance``): the process holding it (``holder``, a random id per process) and until
when. Another process takes the role over only after ``until`` has passed, so a holder that died hands it on
within one lease time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model, UTCDateTime


class Leader(Model):
    """Who runs one role of background work, and until when."""

    __tablename__ = "leaders"

    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
