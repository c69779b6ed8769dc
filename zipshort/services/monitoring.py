"""What GET /metrics answers (``metrics.enabled``): this process's numbers sampled, the instance's counts read
from the database, and the Prometheus exposition of them all (zipshort/telemetry.py holds the metric objects).

The counts are read at scrape time, in the scraping process only, by one cheap statement over ``users``: every
link and file has an owner, and the owner's counters (``url_count``, ``file_count``, ``used_bytes``) change in
the same transaction as the rows (``zipshort fsck`` checks that they agree). A database that does not answer
leaves those four gauges out of the scrape (and says so in the log); the rest is still served.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Engine, func, select

from zipshort.errors import Forbidden, NotFound, Unauthorized
from zipshort.extensions import db
from zipshort.models import User
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime
from zipshort.telemetry import Telemetry

log = logging.getLogger("zipshort.monitoring")


def pool_in_use(engine: Engine) -> int:
    """Connections checked out of ``engine``'s pool now (0 for a pool that does not say)."""
    checkedout = getattr(engine.pool, "checkedout", None)
    return int(checkedout()) if callable(checkedout) else 0


def sample(rt: Runtime, telemetry: Telemetry, engine: Engine) -> None:
    """Write this process's visit queue and pool numbers into its gauges."""
    queue = rt.visits
    telemetry.sample(len(queue), pool_in_use(engine), dropped=queue.dropped, paced=queue.paced, waited=queue.waited)


def _inventory() -> Iterable[Any]:
    """The instance's links, files, stored bytes and users, from the users' counters (one statement)."""
    from prometheus_client.core import GaugeMetricFamily

    try:
        users, links, files, stored = db.session.execute(
            select(func.count(), func.coalesce(func.sum(User.url_count), 0),
                   func.coalesce(func.sum(User.file_count), 0), func.coalesce(func.sum(User.used_bytes), 0))).one()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        log.warning("metrics: the instance's counts could not be read: %s", exc)
        return []
    finally:
        db.session.rollback()  # end the read transaction at once
    return [GaugeMetricFamily("zipshort_links", "Short links stored", value=links),
            GaugeMetricFamily("zipshort_files", "Files stored", value=files),
            GaugeMetricFamily("zipshort_storage_bytes", "Bytes of the files stored", value=stored),
            GaugeMetricFamily("zipshort_users", "User accounts", value=users)]


def scrape(rt: Runtime, authorization: str | None, address: str, accept: str | None = None) -> tuple[bytes, str]:
    """The body and content type of a scrape (Prometheus text, or OpenMetrics when ``accept`` asks for it), for a
    scraper holding ``metrics.token`` (``authorization``: the request's header) and/or calling from
    ``metrics.allow`` (``address``).

    Raises:
        NotFound: metrics are off. Unauthorized: no or a wrong bearer token. Forbidden: an address not allowed.
    """
    telemetry = rt.telemetry
    if telemetry is None:
        raise NotFound("Not found", code="not_found")
    refused = telemetry.refusal(authorization, address)
    if refused is not None:
        status, message = refused
        raise (Unauthorized if status == 401 else Forbidden)(message, code="metrics_refused")
    sample(rt, telemetry, db.engine)
    return telemetry.exposition([_inventory], accept)


class Sampler(Periodic):
    """With several processes (``metrics.multiprocess_dir``), each one writes its gauges every
    ``metrics.sample_seconds``, so a scrape of any process sees the others' queues and pools."""

    def __init__(self, rt: Runtime, telemetry: Telemetry, engine: Engine) -> None:
        self._rt, self._telemetry, self._engine = rt, telemetry, engine
        super().__init__("metrics-sampler", rt.settings.metrics.sample_seconds,
                         lambda: sample(rt, telemetry, engine))
        self.directory = telemetry.directory or ""

    def start(self) -> "Sampler":
        sample(self._rt, self._telemetry, self._engine)  # at once: a scrape before the first round sees this one
        super().start()
        return self
