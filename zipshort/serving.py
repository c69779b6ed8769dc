"""Serving with waitress: its limits, the background threads of a server process, and a clean stop.

``cli.serve`` does the start-up work and hands the app here; tests start their servers with the same
``waitress_options``.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Callable

import click
from flask import Flask

from zipshort.database import checkpoint_wal
from zipshort.http import runtime
from zipshort.periodic import Periodic
from zipshort.runtime import Runtime

if TYPE_CHECKING:
    from zipshort.services.webhookdelivery import WebhookWorker

log = logging.getLogger("zipshort.serving")


def run(app: Flask, host: str | None, port: int | None, threads: int | None) -> None:
    """Serve ``app`` with waitress until SIGTERM/SIGINT, with the process's background work beside it."""
    import waitress

    rt: Runtime = runtime(app)
    settings = rt.settings
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    options = waitress_options(settings, threads)
    _raise_open_file_limit(options["connection_limit"] + 64 + 2 * options["threads"])
    click.echo(f"zipshort listening on http://{host}:{port} (instance: {settings.instance_path})")
    sys.stdout.flush()
    background = Background(app).start()
    # Worker threads hand the GIL back and forth around every database call; Python's default
    # 5 ms switch interval turns each hand-back into a wait (docs/benchmarks.md).
    sys.setswitchinterval(settings.server.gil_switch_interval_ms / 1000)
    _freeze_startup_objects()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwind, so pending view counts are written
    try:
        waitress.serve(app, host=host, port=port, **options)
    finally:
        background.stop()


def run_workers(app: Flask, host: str | None, port: int | None, workers: int, threads: int | None) -> None:
    """The production mode: serve with granian in ``workers`` processes until SIGTERM/SIGINT.

    ``app`` (the start-up app that ran migrations) is not served: each worker builds its own from the same
    settings, with its own database pool and background work (``Background``), and stops it after its last
    request so pending views and visits are written. granian's main process only supervises: it restarts a
    worker that died and, on SIGTERM/SIGINT, stops the workers (each finishing its requests and its
    background work, for up to ``server.shutdown_seconds``) before it ends.
    """
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import MPServer

    settings = runtime(app).settings
    server = settings.server
    host = host or server.host
    port = server.port if port is None else port
    _raise_open_file_limit(server.connection_limit + 64 + 2 * workers * _blocking_threads(settings, workers, threads))
    _release_startup_app(app)
    click.echo(f"zipshort listening on http://{host}:{port} with {workers} worker processes (granian; "
               f"instance: {settings.instance_path})")
    sys.stdout.flush()
    granian = MPServer(
        "zipshort", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
        blocking_threads=_blocking_threads(settings, workers, threads), backlog=max(128, server.connection_limit),
        http=HTTPModes.http1, websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=server.channel_timeout * 1000),
        log_enabled=True, log_access=False, respawn_failed_workers=True,
        workers_kill_timeout=server.shutdown_seconds)
    granian.serve(spawn_target=_granian_worker, target_loader=functools.partial(_worker_app, settings),
                  wrap_loader=False)


def _blocking_threads(settings, workers: int, threads: int | None) -> int:
    """Python threads per granian worker: at least ``server.threads``, and up to 64 so that slow request bodies
    (a thread waits on each body it reads, where waitress's event loop read bodies first) do not hold every
    thread; more requests wait in granian's queue, not in the GIL."""
    return max(threads or settings.server.threads, min(64, settings.server.connection_limit // (2 * workers)))


def _release_startup_app(app: Flask) -> None:
    """Before the workers start: the start-up app delivers its events and closes its database connections, so
    no worker inherits a connection or a thread's state."""
    from zipshort.extensions import db

    runtime(app).events.close()
    with app.app_context():
        db.engine.dispose()


def _worker_app(settings) -> Flask:
    """In a granian worker: this process's app, with its background work started (``_granian_worker`` stops it)."""
    from zipshort import create_app
    from zipshort.eventlog import configure_logging

    global _worker_background
    app = create_app(settings)
    configure_logging(runtime(app).settings)
    sys.setswitchinterval(settings.server.gil_switch_interval_ms / 1000)
    _worker_background = Background(app).start()
    _freeze_startup_objects()
    return app


def _freeze_startup_objects() -> None:
    """Move everything built at start (the app, its routes and templates, the libraries) out of the garbage
    collector's reach: the full collections that otherwise walk it every few thousand requests are the
    longest pauses a redirect sees."""
    gc.collect()
    gc.freeze()


_worker_background: "Background | None" = None  # this worker process's (one app per process)


def _granian_worker(*args: Any, **kwargs: Any) -> None:
    """A granian WSGI worker process that stops its app's background work when it stops serving (SIGTERM from
    the main process, or SIGINT): the last view counts and visits are written before the process ends."""
    from granian.server import MPServer

    try:
        MPServer._spawn_wsgi_worker(*args, **kwargs)
    finally:
        if _worker_background is not None:
            _worker_background.stop()
        logging.shutdown()


class Background:
    """The background work of one server process, started beside its requests and stopped after them.

    Per process (each has its own buffers and queues): the view flusher, the visit writer, the metrics sampler,
    per-user webhook delivery (its claims are row locks, safe in every process) and Zipline's instance-metrics
    snapshots (at most one per interval across processes). Once across processes: the maintenance round, run
    only by the process holding the maintenance lease (services/leadership.py).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._stops: list[Callable[[], object]] = []

    def start(self) -> "Background":
        from zipshort.extensions import db

        app, rt = self.app, runtime(self.app)
        with app.app_context():
            engine = db.engine
        stops = self._stops
        stops.append(rt.events.close)  # first: deliver what is queued (log lines and visits of the last requests)
        for part in (_start_webhooks(app, rt), _start_sampler(engine, rt), _start_metrics(app, rt),
                     _start_pruner(app, rt, engine), _start_visit_writer(engine, rt), _start_view_flusher(engine, rt)):
            if part is not None:
                stops.append(part.stop)  # webhooks turn the visits they hold into messages before the writers end
        return self

    def stop(self) -> None:
        """Stop every part in order, each once; the writers write what is pending on their way out."""
        while self._stops:
            try:
                self._stops.pop(0)()
            except Exception:
                log.exception("stopping the background work failed")


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


def _start_pruner(app: Flask, rt: Runtime, engine) -> "_Led | None":
    """Delete expired files in the background (files.prune_interval_seconds; 0 = only `zipshort prune`), in the
    one process that holds the maintenance lease."""
    from zipshort.services.leadership import MAINTENANCE, Leadership
    from zipshort.services.maintenance import Pruner

    interval = rt.settings.files.prune_interval_seconds
    if interval <= 0:
        return None
    leader = Leadership(engine, MAINTENANCE, lease=max(30.0, 3.0 * interval)).start()
    tasks = [Pruner(rt, interval, app.app_context, lambda: leader.leads).start()]
    if engine.dialect.name == "sqlite":
        tasks.append(Periodic("wal-checkpoint", CHECKPOINT_SECONDS,
                              lambda: leader.leads and checkpoint_wal(engine)).start())
    return _Led(tasks, leader)


CHECKPOINT_SECONDS = 5.0  # SQLite: how often the maintenance leader truncates the write-ahead log


class _Led:
    """Tasks and the leadership they run under, stopped together: the tasks' last rounds, then the lease."""

    def __init__(self, tasks: list[Periodic], leader: Any) -> None:
        self.tasks, self.leader = tasks, leader

    def stop(self) -> None:
        try:
            for task in self.tasks:
                task.stop()
        finally:
            self.leader.stop()


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


def _start_webhooks(app: Flask, rt: Runtime) -> "WebhookWorker | None":
    """Deliver per-user webhook messages in the background (webhooks.poll_seconds); not with webhooks.enabled off."""
    from zipshort.services.webhookdelivery import WebhookWorker

    return WebhookWorker(rt, app.app_context).start() if rt.settings.webhooks.enabled else None


def _start_sampler(engine, rt: Runtime) -> Any:
    """With several processes sharing metrics.multiprocess_dir, write this one's queue and pool gauges there every
    metrics.sample_seconds (a single process samples them at each scrape)."""
    from zipshort.services.monitoring import Sampler

    telemetry = rt.telemetry
    if telemetry is None or not telemetry.multiprocess:
        return None
    return _Sampling(Sampler(rt, telemetry, engine).start(), telemetry.directory or "")


class _Sampling:
    """The sampler, and this process's gauges leaving the shared directory when it stops."""

    def __init__(self, sampler: Any, directory: str) -> None:
        self.sampler, self.directory = sampler, directory

    def stop(self) -> None:
        from zipshort.telemetry import leave_multiprocess

        self.sampler.stop()
        leave_multiprocess(self.directory)


def _start_view_flusher(engine, rt: Runtime) -> Periodic | None:
    """Write batched view counts in the background (urls.view_flush_seconds; 0 counts in the request)."""
    from zipshort.services.visits import ViewFlusher

    interval = rt.settings.urls.view_flush_seconds
    return ViewFlusher(engine, rt.views, interval, rt.leases, rt.file_views).start() if interval > 0 else None


def _start_visit_writer(engine, rt: Runtime) -> "Periodic | _WithProcess | None":
    """Store queued visits in the background (analytics.flush_seconds), unless analytics is off: the batches go
    to a writer process (``analytics.writer = "process"``) or are written by the thread itself."""
    from zipshort.services.analytics import VisitWriter, write_batch

    if not rt.settings.analytics.enabled:
        return None
    if rt.settings.analytics.writer == "thread" or os.name != "posix":  # the child needs an inherited socket
        return VisitWriter(rt, engine).start()
    process = WriterProcess(rt.settings, lambda batch: write_batch(rt, engine, batch)).start()
    return _WithProcess(VisitWriter(rt, engine, process.write), process).start()


class WriterProcess:
    """The analytics writer in a process of its own, so parsing agents, places, keys and building the rows do
    not take the server process's GIL from the requests (~65 µs a visit on SQLite, measured in
    bench/visit_writer.py). The server's writer thread sends each batch as packed tuples over a socket pair and
    waits for the number stored (the same rounds, failures and retries as a writer thread); the child, a plain
    ``python`` started with the socket, receives the settings first and builds its own app from them. A child
    that died is started again at the next batch; the batch it held is retried once like any failed write
    (stored twice only if it died between its commit and its answer). Until a new child says it is ready
    (building its app takes a second or more), batches are written by ``fallback`` in the server's process, so a
    start or a restart never holds the queue up, nor a stop. When the server dies, the child reads the end of
    the socket and exits.
    """

    def __init__(self, settings, fallback: Callable[[list], int]) -> None:
        self._settings, self._fallback = settings, fallback
        self._process: subprocess.Popen | None = None
        self._conn: Any = None
        self._ready = False
        self._lock = threading.Lock()

    def start(self) -> "WriterProcess":
        """Start the child now (it builds its app while the server starts), not at the first batch."""
        with self._lock:
            self._ensure()
        return self

    def _ensure(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._discard()
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from zipshort.serving import writer_child; "
                 "writer_child(int(sys.argv[1]))", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        self._conn = Connection(ours.detach())
        self._conn.send(self._settings)
        self._ready = False

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        if self._process is not None:
            try:
                self._process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def write(self, events: list) -> int:
        """Store one batch in the writer process; raises when it could not (the caller retries once)."""
        from zipshort.services.analytics import pack

        with self._lock:
            self._ensure()
            try:
                if not self._ready:
                    if not self._conn.poll(0):
                        return self._fallback(events)
                    self._ready = self._conn.recv() == "ready"
                self._conn.send_bytes(pickle.dumps(pack(events), protocol=pickle.HIGHEST_PROTOCOL))
                answer = self._conn.recv()
            except (EOFError, OSError) as exc:
                self._discard()
                raise RuntimeError("the visit writer process ended") from exc
        if isinstance(answer, str):
            raise RuntimeError(f"the visit writer process could not store a batch: {answer}")
        return int(answer)

    def close(self, timeout: float = 30.0) -> None:
        """Let the child finish and end (after the last batch was written)."""
        with self._lock:
            if self._process is not None and not self._ready:  # still building its app: it holds nothing
                self._process.kill()
            elif self._conn is not None:
                try:
                    self._conn.send_bytes(b"")
                except OSError:
                    pass
            if self._process is not None:
                try:
                    self._process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._discard()


def writer_child(fd: int) -> None:
    """The writer process (``WriterProcess``): settings first, then each batch until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server ends it after its last batch (Ctrl-C reaches both)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from zipshort import create_app
    from zipshort.eventlog import configure_logging
    from zipshort.extensions import db
    from zipshort.services.analytics import unpack, write_batch

    conn = Connection(fd)
    try:
        app = create_app(conn.recv())
        rt = runtime(app)
        configure_logging(rt.settings)
        with app.app_context():
            engine = db.engine
        conn.send("ready")
        while True:
            payload = conn.recv_bytes()
            if not payload:
                break
            try:
                stored = write_batch(rt, engine, unpack(pickle.loads(payload)))
            except Exception as exc:
                log.exception("visit writer process: a batch failed")
                conn.send(f"{type(exc).__name__}: {exc}")
            else:
                conn.send(stored)
    except (EOFError, OSError):  # the server is gone
        pass
    logging.shutdown()
    os._exit(0)  # everything is committed: skip the interpreter's slow teardown


class _WithProcess:
    """A writer thread and its process, stopped together: the thread's last round first, then the process."""

    def __init__(self, thread: Periodic, process: WriterProcess) -> None:
        self.thread, self.process = thread, process

    def start(self) -> "_WithProcess":
        self.thread.start()
        return self

    def stop(self) -> None:
        try:
            self.thread.stop()
        finally:
            self.process.close()
