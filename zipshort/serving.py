"""Serving with waitress: its limits, the background threads of a server process, and a clean stop.

``cli.serve`` does the start-up work and hands the app here; tests start their servers with the same
``waitress_options``.
"""

from __future__ import annotations

import logging
import resource
import signal
import sys

import click
from flask import Flask

from zipshort.http import runtime
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime

log = logging.getLogger("zipshort.serving")


def run(app: Flask, host: str | None, port: int | None, threads: int | None) -> None:
    """Serve ``app`` until SIGTERM/SIGINT, with the view flusher and the maintenance loop running beside it."""
    import waitress

    from zipshort.extensions import db

    rt: Runtime = runtime(app)
    settings = rt.settings
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    options = waitress_options(settings, threads)
    _raise_open_file_limit(options["connection_limit"] + 64 + 2 * options["threads"])
    with app.app_context():
        engine = db.engine
    click.echo(f"zipshort listening on http://{host}:{port} (instance: {settings.instance_path})")
    sys.stdout.flush()
    flusher = _start_view_flusher(engine, rt)
    writer = _start_visit_writer(engine, rt)
    pruner = _start_pruner(app, rt)
    snapshots = _start_metrics(app, rt)
    # Worker threads hand the GIL back and forth around every database call; Python's default
    # 5 ms switch interval turns each hand-back into a wait (docs/benchmarks.md).
    sys.setswitchinterval(settings.server.gil_switch_interval_ms / 1000)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwind, so pending view counts are written
    try:
        waitress.serve(app, host=host, port=port, **options)
    finally:
        rt.events.close()  # deliver what is queued (log lines and visits of the last requests)
        if snapshots is not None:
            snapshots.stop()
        if pruner is not None:
            pruner.stop()
        if writer is not None:
            writer.stop()  # writes the queued visits
        if flusher is not None:
            flusher.stop()


def waitress_options(settings, threads: int | None = None) -> dict:
    """The waitress limits zipshort runs with (tests start their servers with the same).

    Request bodies are read by waitress's event loop, not by worker threads, so a slow client costs a
    connection, not a thread; ``connection_limit`` bounds those connections (waitress's default of 100
    let 110 dribbling clients lock everyone out), and poll() instead of select() lets it pass 1024.
    """
    server = settings.server
    return {
        "threads": threads or server.threads,
        "connection_limit": server.connection_limit,
        "asyncore_use_poll": True,
        "channel_timeout": server.channel_timeout,
        "cleanup_interval": max(1, min(30, server.channel_timeout // 2)),
        "max_request_body_size": server.max_request_body_size,
        "max_request_header_size": 64 * 1024,
        "expose_tracebacks": False,
        "ident": "zipshort",
    }


def _raise_open_file_limit(needed: int) -> None:
    """Lift the soft open-files limit towards the hard one so every allowed connection fits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            click.echo(f"warning: open-files limit {target} is below server.connection_limit; raise `ulimit -n`",
                       err=True)


def _start_pruner(app: Flask, rt: Runtime) -> Periodic | None:
    """Delete expired files in the background (files.prune_interval_seconds; 0 = only `zipshort prune`)."""
    from zipshort.services.maintenance import Pruner

    interval = rt.settings.files.prune_interval_seconds
    return Pruner(rt, interval, app.app_context).start() if interval > 0 else None


def _start_metrics(app: Flask, rt: Runtime) -> Periodic | None:
    """Take Zipline's instance-metrics snapshots (features.metrics_interval_seconds), one now if none is recent;
    nothing when features.metrics_enabled is off."""
    from zipshort.services.metrics import MetricsTask, take_snapshot

    if not rt.settings.features.metrics_enabled:
        return None
    try:
        with app.app_context():
            take_snapshot(rt)
    except Exception:  # a database hiccup at start must not stop the server; the task retries
        log.exception("metrics: the first snapshot failed; the next round retries")
    return MetricsTask(rt, app.app_context).start()


def _start_view_flusher(engine, rt: Runtime) -> Periodic | None:
    """Write batched view counts in the background (urls.view_flush_seconds; 0 counts in the request)."""
    from zipshort.services.visits import ViewFlusher

    interval = rt.settings.urls.view_flush_seconds
    return ViewFlusher(engine, rt.views, interval, rt.leases).start() if interval > 0 else None


def _start_visit_writer(engine, rt: Runtime) -> Periodic | None:
    """Store queued visits in the background (analytics.flush_seconds), unless analytics is off."""
    from zipshort.services.analytics import VisitWriter

    return VisitWriter(rt, engine).start() if rt.settings.analytics.enabled else None
