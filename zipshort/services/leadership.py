"""Background work that runs once across server processes: a lease on a role, held in the database.

``zipshort serve --workers N`` runs N processes, and several servers may share one database. Work that is
per process (its own view counts, its own visit queue) runs in each; work that is not (the maintenance
round: pruning, thumbnails, storage clean-up, reclaiming dead processes' leases) runs in the one process
that holds the role's lease. The holder renews the lease every third of its lifetime from a thread of its
own, so a long maintenance round does not lose it; a process that dies stops renewing and another takes the
role over when the lease runs out (within ``lease`` seconds); a process that stops cleanly gives it up at
once (``release``).

A process believes it leads only until the lease it last wrote runs out, measured on its own monotonic clock:
if renewing fails (the database is away), it stops leading before anyone else can start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time

from sqlalchemy import Engine, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from zipshort.database import exclusive_writer
from zipshort.models import Leader, utcnow

log = logging.getLogger("zipshort.leadership")

MAINTENANCE = "maintenance"

_leaders = Leader.__table__
_TAKE = (update(_leaders)
         .where(_leaders.c.role == bindparam("r"),
                or_(_leaders.c.holder == bindparam("me"), _leaders.c.until < bindparam("now")))
         .values(holder=bindparam("me"), until=bindparam("until")))
_CREATE = insert(_leaders).values(role=bindparam("r"), holder=bindparam("me"), until=bindparam("until"))
_EXISTS = select(_leaders.c.holder).where(_leaders.c.role == bindparam("r"))
_RELEASE = (update(_leaders).where(_leaders.c.role == bindparam("r"), _leaders.c.holder == bindparam("me"))
            .values(until=bindparam("now")))


def process_name() -> str:
    """A name for this process that no other process shares: host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def take(engine: Engine, role: str, holder: str, now: dt.datetime, lease: dt.timedelta) -> bool:
    """Take or renew ``role`` for ``holder`` until ``now + lease``; True when ``holder`` holds it now. Nobody
    else holds it until that time has passed."""
    values = {"r": role, "me": holder, "now": now, "until": now + lease}
    with exclusive_writer(engine), engine.connect().execution_options(sqlite_immediate=True) as conn:
        try:
            with conn.begin():
                if conn.execute(_TAKE, values).rowcount:
                    return True
                if conn.execute(_EXISTS, values).first() is not None:
                    return False  # held by someone else, and not yet run out
                conn.execute(_CREATE, values)
                return True
        except IntegrityError:  # another process created the row first (PostgreSQL): it holds the role
            return False


def release(engine: Engine, role: str, holder: str, now: dt.datetime) -> None:
    """Give ``role`` up if ``holder`` has it, so another process takes it at its next try."""
    with exclusive_writer(engine), engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(_RELEASE, {"r": role, "me": holder, "now": now})


def holder_of(engine: Engine, role: str, now: dt.datetime) -> str | None:
    """Who holds ``role`` now (None when nobody's lease is running)."""
    with engine.connect() as conn:
        row = conn.execute(select(_leaders.c.holder, _leaders.c.until).where(_leaders.c.role == role)).first()
    return row.holder if row is not None and row.until > now else None


class Leadership:
    """This process's claim on one role: a thread that takes or renews the lease every ``lease / 3`` seconds,
    and ``leads`` (true while the lease this process last wrote has not run out)."""

    def __init__(self, engine: Engine, role: str, lease: float = 30.0, holder: str | None = None) -> None:
        self.engine, self.role, self.holder = engine, role, holder or process_name()
        self._lease = dt.timedelta(seconds=lease)
        self._valid_until = 0.0  # monotonic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"zipshort-leader-{role}", daemon=True)

    @property
    def leads(self) -> bool:
        """True while this process holds the role (by the lease it last wrote, with a second's margin)."""
        return time.monotonic() < self._valid_until

    def renew(self) -> bool:
        """Take or renew the lease now; return whether this process leads."""
        started = time.monotonic()
        try:
            held = take(self.engine, self.role, self.holder, utcnow(), self._lease)
        except Exception:  # the database is away: stop leading when the last lease runs out
            log.exception("leadership %s: could not renew the lease", self.role)
            return self.leads
        was = self.leads
        self._valid_until = started + self._lease.total_seconds() - 1.0 if held else 0.0
        if held != was:
            log.info("leadership %s: %s (%s)", self.role, "taken" if held else "held elsewhere", self.holder)
        return held

    def start(self) -> "Leadership":
        """Try at once, then keep renewing in the background."""
        self.renew()
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._lease.total_seconds() / 3):
            self.renew()

    def stop(self) -> None:
        """Stop renewing and give the role up (another process takes it at its next try)."""
        self._stop.set()
        self._thread.join(timeout=10)
        if self.leads:
            self._valid_until = 0.0
            try:
                release(self.engine, self.role, self.holder, utcnow())
            except Exception:
                log.exception("leadership %s: could not give the lease up; it runs out by itself", self.role)
