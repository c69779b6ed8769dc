"""Views counted in memory and written in batches, off the response path: unlimited links' and files' views,
and the views handed out of this process's leases of limited links (services/redirects.py).

For unlimited links, losing at most one flush interval of counts on a crash buys a redirect that only reads
(ARCHITECTURE.md, docs/benchmarks.md). A flush settles every lease this process holds: the views used are
added to the link, the lease row gives back the rest, so no lease outlives a flush. A lease whose holder died
is counted as used by ``reclaim_leases`` (the maintenance loop): the limit is never exceeded.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import Engine, bindparam, delete, func, select, update

from zipshort.counters import ViewBuffer, ViewLeases
from zipshort.database import exclusive_writer
from zipshort.models import File, Link, ViewLease, utcnow
from zipshort.periodic import Periodic

_leases = ViewLease.__table__
_SETTLE = (update(_leases).where(_leases.c.link_id == bindparam("lease_link"), _leases.c.holder == bindparam("me"))
           .values(amount=_leases.c.amount - bindparam("n"), renewed_at=bindparam("now")))
_SETTLED = delete(_leases).where(_leases.c.holder == bindparam("me"), _leases.c.amount <= 0)
_ADD_VIEWS = (update(Link.__table__).where(Link.__table__.c.id == bindparam("link_id"))
              .values(views=Link.__table__.c.views + bindparam("n")))
_ADD_FILE_VIEWS = (update(File.__table__).where(File.__table__.c.id == bindparam("file_id"))
                   .values(views=File.__table__.c.views + bindparam("n")))


def flush_views(engine: Engine, buffer: ViewBuffer, leases: ViewLeases | None = None,
                now: dt.datetime | None = None, files: ViewBuffer | None = None) -> int:
    """Write every pending count (links' in ``buffer``, files' in ``files``) and settle this process's leases in
    one transaction; return how many views were written. On a database error the counts and leases go back for
    the next flush."""
    counts = buffer.drain()
    file_counts = files.drain() if files is not None else Counter()
    book = leases.drain() if leases is not None else {}
    if not counts and not book and not file_counts:
        return 0
    used = Counter(counts)
    used.update({link_id: n for link_id, (n, _) in book.items() if n})
    try:
        with exclusive_writer(engine), engine.begin() as conn:
            if used:
                conn.execute(_ADD_VIEWS, [{"link_id": k, "n": n} for k, n in sorted(used.items())])
            if file_counts:
                conn.execute(_ADD_FILE_VIEWS, [{"file_id": k, "n": n} for k, n in sorted(file_counts.items())])
            if book:
                assert leases is not None
                conn.execute(_SETTLE, [{"lease_link": k, "me": leases.holder, "n": n + left, "now": now or utcnow()}
                                       for k, (n, left) in sorted(book.items())])
                conn.execute(_SETTLED, {"me": leases.holder})
    except Exception:
        buffer.restore(counts)
        if files is not None:
            files.restore(file_counts)
        if leases is not None:
            leases.restore(book)
        raise
    return sum(used.values()) + sum(file_counts.values())


def reclaim_leases(engine: Engine, now: dt.datetime, older_than: dt.timedelta) -> int:
    """Count as used the leases no process renewed for ``older_than`` (their holder died with them); return
    how many views that was. Their visits may never have been recorded, but the limit is never exceeded."""
    cutoff = now - older_than
    stale = select(_leases.c.link_id, func.sum(_leases.c.amount).label("n")).where(
        _leases.c.renewed_at < cutoff).group_by(_leases.c.link_id)
    with exclusive_writer(engine), engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        rows = conn.execute(stale).all()
        if rows:
            conn.execute(_ADD_VIEWS, [{"link_id": link_id, "n": n} for link_id, n in sorted(rows)])
            conn.execute(delete(_leases).where(_leases.c.renewed_at < cutoff))
    return sum(n for _, n in rows)


class ViewFlusher(Periodic):
    """The background writer of batched view counts and leases; its ``stop`` writes what is still pending.
    Leases are handed out only while it runs (``leases.active``)."""

    def __init__(self, engine: Engine, buffer: ViewBuffer, interval: float, leases: ViewLeases | None = None,
                 files: ViewBuffer | None = None) -> None:
        super().__init__("view-flusher", interval, lambda: flush_views(engine, buffer, leases, files=files),
                         run_on_stop=True)
        self._leases = leases

    def start(self) -> "ViewFlusher":
        if self._leases is not None:
            self._leases.active = True
        super().start()
        return self

    def stop(self) -> None:
        if self._leases is not None:
            self._leases.active = False  # no new lease from here on; the final flush returns the ones held
        super().stop()
