"""Views of unlimited links: counted in memory and written in batches, off the response path.

Links with a view limit never pass through here: their views are counted by the redirect's
own atomic statement. For the others, losing at most one flush interval of counts on a crash
buys a redirect that only reads (DESIGN.md §8, reference/performance.md).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, bindparam, update

from zipshort.counters import ViewBuffer
from zipshort.models import Link

log = logging.getLogger("zipshort.visits")

_ADD_VIEWS = (update(Link.__table__).where(Link.__table__.c.id == bindparam("link_id"))
              .values(views=Link.__table__.c.views + bindparam("n")))


def flush_views(engine: Engine, buffer: ViewBuffer) -> int:
    """Write every pending count in one transaction; return how many views were written.

    On a database error the counts go back into the buffer for the next flush.
    """
    counts = buffer.drain()
    if not counts:
        return 0
    try:
        with engine.begin() as conn:
            conn.execute(_ADD_VIEWS, [{"link_id": k, "n": n} for k, n in sorted(counts.items())])
    except Exception:
        buffer.restore(counts)
        raise
    return sum(counts.values())


class ViewFlusher:
    """A daemon thread that flushes a ViewBuffer every ``interval`` seconds until stopped."""

    def __init__(self, engine: Engine, buffer: ViewBuffer, interval: float) -> None:
        self._engine, self._buffer, self._interval = engine, buffer, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zipshort-view-flusher", daemon=True)

    def start(self) -> "ViewFlusher":
        """Start flushing."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                flush_views(self._engine, self._buffer)
            except Exception:  # keep counting through a database hiccup; the counts are kept
                log.exception("flushing view counts failed; will retry")

    def stop(self) -> None:
        """Stop and write what is still pending."""
        self._stop.set()
        self._thread.join(timeout=10)
        flush_views(self._engine, self._buffer)
