"""Views of unlimited links: counted in memory and written in batches, off the response path.

Links with a view limit never pass through here: their views are counted by the redirect's
own atomic statement. For the others, losing at most one flush interval of counts on a crash
buys a redirect that only reads (ARCHITECTURE.md, docs/benchmarks.md).
"""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, update

from zipshort.counters import ViewBuffer
from zipshort.database import exclusive_writer
from zipshort.models import Link
from zipshort.periodic import Periodic

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
        with exclusive_writer(engine), engine.begin() as conn:
            conn.execute(_ADD_VIEWS, [{"link_id": k, "n": n} for k, n in sorted(counts.items())])
    except Exception:
        buffer.restore(counts)
        raise
    return sum(counts.values())


def ViewFlusher(engine: Engine, buffer: ViewBuffer, interval: float) -> Periodic:  # noqa: N802 - reads as a class
    """The background writer of batched view counts; its ``stop`` writes what is still pending."""
    return Periodic("view-flusher", interval, lambda: flush_views(engine, buffer), run_on_stop=True)
