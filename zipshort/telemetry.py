"""Prometheus metrics of one app (``metrics.enabled``): the metric objects, what counts them, the exposition.

Built once per app and kept on the ``Runtime`` (``rt.telemetry``, None when metrics are off, so nothing is
counted then). Three kinds of numbers:

- counted as things happen, at a few dictionary look-ups each: HTTP requests and their durations and the
  redirect outcomes (``access.py``'s one request hook), events (a hand-off subscriber: ``on_event``; uploads
  and file views come from their events), webhook deliveries (``record_webhook_delivery``);
- sampled from this process's objects (``sample``: the visit queue, the database pool), at every scrape in
  the scraping process and, with several processes, every ``metrics.sample_seconds`` in each;
- read from the database at scrape time (``services/monitoring.py``), in the scraping process only.

Several ``zipshort serve`` processes on one host share ``metrics.multiprocess_dir`` (prometheus_client's
multiprocess mode): each writes its values to files named after its pid, and a scrape of any process sums
them. ``prepare_multiprocess`` (called by ``zipshort serve`` before the app is built) points
prometheus_client there and cleans the directory: everything when no process using it is alive (a fresh
start), else only the live gauges of dead processes (``mark_process_dead``), so summed counters never drop.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from zipshort.config import Settings
from zipshort.events import Event, FileUploaded, FileViewed

log = logging.getLogger("zipshort.telemetry")

UNMATCHED = "<unmatched>"  # the route label of a path no URL rule matched (never the raw path)
REDIRECT_OUTCOMES = ("redirected", "password", "not_found", "gone")
WEBHOOK_OUTCOMES = ("delivered", "failed", "retried", "gave_up")
# Request durations: the redirect takes a fraction of a millisecond, uploads seconds.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PID_FILE = re.compile(r".*_(\d+)\.db")


def multiprocess_directory(settings: Settings) -> str | None:
    """The shared directory of several processes (``metrics.multiprocess_dir``, else PROMETHEUS_MULTIPROC_DIR)."""
    return settings.metrics.multiprocess_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def prepare_multiprocess(directory: str) -> None:
    """Make this process write its metrics to ``directory`` and clean it (``zipshort serve``, before the app).

    The processes sharing a directory must share one pid namespace (one host or container).
    """
    from prometheus_client import values
    from prometheus_client.multiprocess import mark_process_dead

    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    if not getattr(values.ValueClass, "_multiprocess", False):  # prometheus_client was imported before the variable
        values.ValueClass = values.MultiProcessValue()
    files = [name for name in os.listdir(directory) if _PID_FILE.fullmatch(name)]
    pids = {int(_PID_FILE.fullmatch(name).group(1)) for name in files}  # type: ignore[union-attr]
    others = {pid for pid in pids if pid != os.getpid() and _alive(pid)}
    if not others:  # nobody is using it: a fresh start, counters begin at zero
        for name in files:
            try:
                os.remove(os.path.join(directory, name))
            except FileNotFoundError:
                pass
        return
    for pid in pids - others:  # a dead process's counters stay (sums never drop), its live gauges go
        mark_process_dead(pid, directory)


def leave_multiprocess(directory: str) -> None:
    """At a server's stop: its live gauges (queue, pool) leave the sums."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(os.getpid(), directory)


class Telemetry:
    """The metric objects of one app, and the pieces that count into them."""

    def __init__(self, settings: Settings) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            ProcessCollector,
            disable_created_metrics,
            values,
        )

        disable_created_metrics()  # no *_created series: Prometheus does not need them (a library-wide switch)
        self.directory = multiprocess_directory(settings)
        self.multiprocess = self.directory is not None and getattr(values.ValueClass, "_multiprocess", False)
        if self.directory is not None and not self.multiprocess:
            log.warning("metrics: %s is not prepared for several processes (only `zipshort serve` does that); "
                        "this app counts in its own registry", self.directory)
        # Multiprocess mode: the values live in the shared files and are read from there at a scrape; the objects
        # are registered nowhere. Otherwise they belong to this app's own registry.
        own = None if self.multiprocess else CollectorRegistry()
        self.registry = own
        digest = settings.metrics.token.encode()
        self._token = hashlib.sha256(digest).digest() if settings.metrics.token else None
        self._networks = tuple(ipaddress.ip_network(n, strict=False) for n in settings.metrics.allow)
        self.requests = Counter("zipshort_http_requests", "HTTP requests answered, by URL rule, method and status",
                                ("route", "method", "status"), registry=own)
        self.durations = Histogram("zipshort_http_request_duration_seconds",
                                   "Time from the request's start to its answer being ready, by URL rule",
                                   ("route",), buckets=DURATION_BUCKETS, registry=own)
        self.redirects = Counter("zipshort_redirects", "GETs of the link route, by outcome", ("outcome",),
                                 registry=own)
        self.file_views = Counter("zipshort_file_views", "Counted views of files", registry=own)
        self.uploads = Counter("zipshort_uploads", "Files uploaded, by API dialect", ("dialect",), registry=own)
        self.upload_bytes = Counter("zipshort_upload_bytes", "Bytes of the files uploaded", registry=own)
        self.events = Counter("zipshort_events", "Events published, by type", ("type",), registry=own)
        self.webhooks = Counter("zipshort_webhook_deliveries", "Webhook delivery attempts, by outcome",
                                ("outcome",), registry=own)
        self.visits_dropped = Counter("zipshort_visits_dropped", "Visits the analytics queue had no room for",
                                      registry=own)
        self.visits_paced = Counter("zipshort_visits_paced", "Visits whose request waited its turn because the "
                                    "analytics queue was past half full (the writer set the pace)", registry=own)
        self.visits_waited = Counter("zipshort_visits_waited", "Visits whose request found the analytics queue "
                                     "full and waited for room", registry=own)
        self.visits_queued = Gauge("zipshort_visits_queued", "Visits waiting for the analytics writer",
                                   registry=own, multiprocess_mode="livesum")
        self.pool_in_use = Gauge("zipshort_db_pool_in_use", "Database connections checked out of the pool",
                                 registry=own, multiprocess_mode="livesum")
        if own is not None:
            ProcessCollector(registry=own)
        # label children, found once (a dict look-up per request instead of prometheus_client's label checks)
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._duration_children: dict[str, Any] = {}
        self._redirect_children = {outcome: self.redirects.labels(outcome) for outcome in REDIRECT_OUTCOMES}
        self._event_children: dict[str, Any] = {}
        self._queue_seen = {"dropped": 0, "paced": 0, "waited": 0}

    # --- counted as things happen ---------------------------------------------------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request (``route`` is the URL rule or ``UNMATCHED``)."""
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(route, method, str(status))
        child.inc()
        timer = self._duration_children.get(route)
        if timer is None:
            timer = self._duration_children[route] = self.durations.labels(route)
        timer.observe(seconds)

    def redirect(self, outcome: str) -> None:
        """One GET of the link route ended in ``outcome`` (one of ``REDIRECT_OUTCOMES``)."""
        self._redirect_children[outcome].inc()

    def on_event(self, event: Event) -> None:
        """The hand-off subscriber: counts ``event`` (and an upload's bytes, a file's view) and returns."""
        child = self._event_children.get(event.name)
        if child is None:
            child = self._event_children[event.name] = self.events.labels(event.name)
        child.inc()
        if isinstance(event, FileUploaded):
            self.uploads.labels(event.dialect or "none").inc()
            self.upload_bytes.inc(event.size)
        elif isinstance(event, FileViewed):
            self.file_views.inc()

    def webhook_delivery(self, outcome: str) -> None:
        """One webhook delivery attempt ended in ``outcome`` (see ``record_webhook_delivery``)."""
        self.webhooks.labels(outcome).inc()

    # --- sampled --------------------------------------------------------------------------------------------

    def sample(self, queued: int, pool_in_use: int, **so_far: int) -> None:
        """This process's visit queue (its length; its ``dropped``, ``paced`` and ``waited`` counts so far, of
        which the counters gain what is new) and its checked-out database connections."""
        self.visits_queued.set(queued)
        counters = {"dropped": self.visits_dropped, "paced": self.visits_paced, "waited": self.visits_waited}
        for name, total in so_far.items():
            if total > self._queue_seen[name]:
                counters[name].inc(total - self._queue_seen[name])
                self._queue_seen[name] = total
        self.pool_in_use.set(pool_in_use)

    # --- who may scrape, and the exposition ------------------------------------------------------------------

    def refusal(self, authorization: str | None, address: str) -> tuple[int, str] | None:
        """Why a scraper is refused, as (status, message), or None when it may scrape: it must hold
        ``metrics.token`` as ``Authorization: Bearer …`` and/or come from ``metrics.allow`` (both when both are set)."""
        if self._networks:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return 403, "client address not allowed"
            if not any(ip in network for network in self._networks):
                return 403, "client address not allowed"
        if self._token is not None:
            scheme, _, given = (authorization or "").strip().partition(" ")
            presented = hashlib.sha256(given.strip().encode()).digest()
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented, self._token):
                return 401, "a bearer token is required"
        return None

    def exposition(self, extra: Iterable[Callable[[], Iterable[Any]]] = (), accept: str | None = None
                   ) -> tuple[bytes, str]:
        """The metrics in the format the scraper accepts (``Accept``), with ``extra`` collectors' families."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import choose_encoder

        registry = CollectorRegistry()
        if self.multiprocess:
            from prometheus_client import ProcessCollector
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(registry, path=self.directory)
            ProcessCollector(registry=registry)  # the scraping process's
        else:
            registry.register(_Forward(self.registry))
        for collect in extra:
            registry.register(_Callable(collect))
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


class _Forward:
    """Collects what another registry holds (this app's own, in single-process mode)."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Any]:
        return self._registry.collect()


class _Callable:
    """A collector made of a function returning metric families (no ``describe``: collected at every scrape)."""

    def __init__(self, fn: Callable[[], Iterable[Any]]) -> None:
        self._fn = fn

    def collect(self) -> Iterable[Any]:
        return self._fn()


def record_webhook_delivery(telemetry: Telemetry | None, outcome: str) -> None:
    """Count one webhook delivery attempt: ``delivered``, ``failed`` (will be retried), ``gave_up`` … (the webhook
    worker calls this with ``rt.telemetry``; nothing happens when metrics are off)."""
    if telemetry is not None:
        telemetry.webhook_delivery(outcome)
