"""What happened: typed events the service doors publish, and the dispatcher that hands them on.

A door publishes after its transaction commits (``zipshort.database.publish_after_commit``); a
rolled-back change publishes nothing. Subscribers (the structured log today; analytics, webhooks,
the audit log and metrics next) are registered in ``create_app`` and run on the dispatcher's own
thread, so a slow or failing subscriber never slows or breaks the request that caused the event.

An event carries ids, the actor, the time, the request id and the fields a subscriber needs, and
never a secret: no password, key, token or cookie. The events the audit log keeps carry the acting
client's address in a private field (``client_field``) that neither log lines nor ``details()`` show.
Fields marked ``quiet`` (destinations, which are the user's data and may carry their own query tokens)
travel to subscribers but are kept out of log lines.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar
from urllib.parse import urlsplit

log = logging.getLogger("zipshort.events")

# The request's scope: [its id (None until made), how to read its client's address (None outside a request)].
_request_id: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("zipshort_request_id", default=None)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def given_request_id(value: str | None) -> str | None:
    """A request id sent by a trusted proxy (``X-Request-ID``), if it is one we accept (1-128 safe characters)."""
    return value if value and _REQUEST_ID.fullmatch(value) else None


def begin_request(given: str | None = None, client: Callable[[], str | None] | None = None) -> None:
    """Start a request's id scope; ``given`` is an id from a trusted proxy, else one is made on demand.

    ``client`` reads the request's client address; it is called only when an event that records the address is
    made (``client_address``), so a visit pays nothing for it (the app passes the same function every time).
    The scope lasts until the worker thread's next request begins its own (no teardown hook: the
    redirect pays for one hook, not two).
    """
    _request_id.set([given, client])


def client_address() -> str | None:
    """The current request's client address (the socket's, or the forwarded one behind ``core.trust_proxy``),
    or None outside a request."""
    holder = _request_id.get()
    reader = None if holder is None else holder[1]
    address = None if reader is None else reader()
    return str(address) if address else None


def request_id() -> str | None:
    """The current request's id (made now if none was given), or None outside a request."""
    holder = _request_id.get()
    if holder is None:
        return None
    if holder[0] is None:
        holder[0] = uuid.uuid4().hex
    made: str = holder[0]
    return made


def current_request_id() -> str | None:
    """The id only if one was given or already made (never makes one)."""
    holder = _request_id.get()
    return None if holder is None else holder[0]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def quiet(default: Any = None) -> Any:
    """A field subscribers receive but log lines leave out."""
    return field(default=default, metadata={"quiet": True})


def client_field() -> Any:
    """The ``client`` field of the events the audit log keeps: the acting request's address, taken when the event
    is made (in the request's thread). Never in ``details()``, so neither log lines nor payloads show it; the
    audit log stores it only as ``analytics.store_address`` allows."""
    return field(default_factory=client_address, metadata={"quiet": True, "private": True})


@dataclass(frozen=True, slots=True)
class Visitor:
    """What a request says about who is visiting, as received (analytics parses it off the request path).

    Visit events carry it in a quiet field: it reaches the analytics writer, which turns the address into a
    daily-salted key and keeps it only when ``analytics.store_address`` says so, and never a log line.
    """

    address: str = ""
    user_agent: str = ""
    referrer: str = ""
    languages: tuple[str, ...] = ()  # parsed language tags, best first, lower-case (else from accept_language)
    do_not_track: bool = False  # DNT: 1 or Sec-GPC: 1
    url: str = ""  # the URL visited (scheme, host, path and query), when known whole; else built from the parts
    scheme: str = "http"  # the parts of the URL as received, joined only where the URL is stored (``visited_url``)
    host: str = ""  # the Host as received (with any port)
    root_path: str = ""
    path: str = ""
    query: bytes = b""
    country_hint: str | None = None  # the trusted country header's value, when one is configured
    accept_language: str = ""  # the raw Accept-Language header (parsed only when needed)

    def visited_url(self) -> str:
        """The URL visited, at most 2,048 characters (joined here, off the request path)."""
        if self.url or not self.host:
            return self.url[:2048]
        from werkzeug.sansio.utils import get_current_url

        return get_current_url(self.scheme, self.host, self.root_path, self.path, self.query)[:2048]

    @property
    def hostname(self) -> str | None:
        """The visited host without port, lower-case (None when unknown)."""
        if not self.host:
            return urlsplit(self.url).hostname if self.url else None
        return urlsplit("//" + self.host).hostname

    def language_tags(self) -> tuple[str, ...]:
        """The visitor's languages, best first, lower-case (at most five)."""
        if self.languages or not self.accept_language:
            return self.languages
        return language_tags(self.accept_language)


@functools.lru_cache(maxsize=2048)
def language_tags(accept_language: str) -> tuple[str, ...]:
    """The language tags of an ``Accept-Language`` header, best first, lower-case, at most five (the same few
    headers repeat, so parses are cached)."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header(accept_language[:512], LanguageAccept)
    return tuple(tag.lower() for tag, quality in parsed if quality > 0)[:5]


Facts = Callable[[], Visitor]
"""What the request says about the visitor, asked for only when needed (smart-link rules, a listener for visits)."""


def no_facts() -> Visitor:
    """The facts of a visit made outside a request (tests, the console): nothing is known."""
    return Visitor()


@dataclass(frozen=True, kw_only=True)
class Event:
    """Common to every event: who did it (user id, None for anonymous or the system), when, which request."""

    name: ClassVar[str] = "event"
    actor_id: str | None = None
    at: dt.datetime = field(default_factory=_now)
    request_id: str | None = field(default_factory=request_id)

    def details(self, *, include_quiet: bool = False) -> dict[str, Any]:
        """The event's own fields (without the common ones), in declaration order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("actor_id", "at", "request_id") or f.metadata.get("private") or (
                    f.metadata.get("quiet") and not include_quiet):
                continue
            out[f.name] = getattr(self, f.name)
        return out


# Links -------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LinkCreated(Event):
    name: ClassVar[str] = "link.created"
    link_id: str
    code: str
    owner_id: str | None
    domain: str | None = None
    has_password: bool = False
    max_views: int | None = None
    expires_at: dt.datetime | None = None
    destination: str | None = quiet()
    origin: str | None = quiet()  # ``<scheme>://<host>`` the caller's short URL was given on, when a face said
    bulk: bool = quiet(False)  # one of a bulk creation's links


@dataclass(frozen=True, kw_only=True)
class LinkUpdated(Event):
    name: ClassVar[str] = "link.updated"
    link_id: str
    code: str
    owner_id: str | None
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LinkDeleted(Event):
    name: ClassVar[str] = "link.deleted"
    link_id: str
    code: str
    owner_id: str | None


@dataclass(frozen=True, kw_only=True)
class LinkVisited(Event):
    """A counted redirect (published from the hot path with what it already holds; no query).

    ``destination`` is where the visitor was sent (after rules and UTM).
    """

    name: ClassVar[str] = "link.visited"
    link_id: str
    code: str
    host: str | None = None
    destination: str | None = quiet()
    visitor: Visitor | None = quiet()


@dataclass(frozen=True, kw_only=True)
class OrphanVisited(Event):
    """A public request that found nothing: the base URL (``base_url``), an unknown or dead code under the link
    route (``invalid_short_url``) or any other public 404 (``regular_404``), Shlink's three kinds.
    ``destination`` is where a special redirect sent the visitor (None: they got the page)."""

    name: ClassVar[str] = "visit.orphan"
    kind: str
    host: str | None = None
    url: str = quiet("")
    destination: str | None = quiet()
    visitor: Visitor | None = quiet()


# Files -------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class FileUploaded(Event):
    name: ClassVar[str] = "file.uploaded"
    file_id: str
    filename: str
    owner_id: str | None
    size: int
    mimetype: str | None = None
    folder_id: str | None = None
    has_password: bool = False
    max_views: int | None = None
    expires_at: dt.datetime | None = None
    dialect: str | None = None
    origin: str | None = quiet()  # ``<scheme>://<host>`` the uploader's URL was given on, when a face said


@dataclass(frozen=True, kw_only=True)
class FileUpdated(Event):
    name: ClassVar[str] = "file.updated"
    file_id: str
    filename: str
    owner_id: str | None
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FileDeleted(Event):
    name: ClassVar[str] = "file.deleted"
    file_id: str
    filename: str
    owner_id: str | None
    size: int = 0


@dataclass(frozen=True, kw_only=True)
class FileViewed(Event):
    """A counted view of a file (published from the download path; no query)."""

    name: ClassVar[str] = "file.viewed"
    file_id: str
    filename: str
    host: str | None = None
    visitor: Visitor | None = quiet()


# Users and sign-in -------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class UserCreated(Event):
    name: ClassVar[str] = "user.created"
    user_id: str
    username: str
    role: str
    via: str = "admin"  # admin, invite, registration, first-start, cli, oauth
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class UserUpdated(Event):
    name: ClassVar[str] = "user.updated"
    user_id: str
    username: str
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UserDeleted(Event):
    name: ClassVar[str] = "user.deleted"
    user_id: str
    username: str
    files: int = 0
    links: int = 0
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class RoleChanged(Event):
    name: ClassVar[str] = "user.role_changed"
    user_id: str
    username: str
    old: str
    new: str
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class QuotaChanged(Event):
    name: ClassVar[str] = "user.quota_changed"
    user_id: str
    username: str
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class LoginSucceeded(Event):
    name: ClassVar[str] = "login.succeeded"
    user_id: str
    username: str
    method: str = "password"  # password, totp, token
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class LoginFailed(Event):
    name: ClassVar[str] = "login.failed"
    username: str
    reason: str  # unknown_user, wrong_password, wrong_code, locked, disabled
    client: str | None = client_field()


# Account security and settings (the audit log keeps these) ----------------------------------------

@dataclass(frozen=True, kw_only=True)
class _AccountChange(Event):
    """The fields every change to one account's security shares (a base only: ``catalogue`` skips it)."""

    user_id: str
    username: str
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(_AccountChange):
    """A user's password was set: by themselves (``actor_id`` is theirs) or by an administrator or the CLI."""

    name: ClassVar[str] = "user.password_changed"


@dataclass(frozen=True, kw_only=True)
class TokenReset(_AccountChange):
    """A user asked for a new Zipline token; the old one stopped working."""

    name: ClassVar[str] = "user.token_reset"


@dataclass(frozen=True, kw_only=True)
class TotpEnabled(_AccountChange):
    name: ClassVar[str] = "user.totp_enabled"


@dataclass(frozen=True, kw_only=True)
class TotpDisabled(_AccountChange):
    name: ClassVar[str] = "user.totp_disabled"


@dataclass(frozen=True, kw_only=True)
class TotpChangeFailed(_AccountChange):
    """A person's attempt to turn two-factor authentication on or off (``change``: enable, disable) was refused
    (``reason``: wrong_code); nothing changed."""

    name: ClassVar[str] = "user.totp_change_failed"
    change: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class UserDisabled(_AccountChange):
    name: ClassVar[str] = "user.disabled"


@dataclass(frozen=True, kw_only=True)
class UserEnabled(_AccountChange):
    name: ClassVar[str] = "user.enabled"


@dataclass(frozen=True, kw_only=True)
class SessionsEnded(Event):
    """Browser sessions of a user ended by request (``DELETE /api/user/sessions``: one, or all but the caller's)."""

    name: ClassVar[str] = "user.sessions_ended"
    user_id: str
    username: str
    count: int
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    """Settings changed: a user's account settings (``username``, ``avatar``, ``view``, ``dynamic_link_secret``,
    ``domain_redirects.<kind>``) or, with ``user_id`` None, the server's own (an administrator's
    ``domain_redirects.<kind>`` of the platform's domains). Names only, never values; ``domain`` for redirects."""

    name: ClassVar[str] = "settings.changed"
    user_id: str | None
    username: str | None
    settings: tuple[str, ...]
    domain: str | None = None
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class BulkDeleted(Event):
    """Several things deleted by one request (``what``: ``files``); each also has its own deleted event."""

    name: ClassVar[str] = "bulk.deleted"
    owner_id: str
    what: str
    count: int
    client: str | None = client_field()


# Keys and domains --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class KeyCreated(Event):
    name: ClassVar[str] = "key.created"
    key_id: str
    owner_id: str
    key_name: str
    scopes: tuple[str, ...] = ()
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class KeyRevoked(Event):
    name: ClassVar[str] = "key.revoked"
    key_id: str
    owner_id: str
    key_name: str
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class DomainAdded(Event):
    name: ClassVar[str] = "domain.added"
    domain_id: str
    hostname: str
    owner_id: str | None
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class DomainVerified(Event):
    name: ClassVar[str] = "domain.verified"
    domain_id: str
    hostname: str
    owner_id: str | None
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class DomainVerificationFailed(Event):
    """A check of a custom domain's proof found none (``reason``: the refusal's code); nothing changed."""

    name: ClassVar[str] = "domain.verification_failed"
    domain_id: str
    hostname: str
    owner_id: str | None
    reason: str
    client: str | None = client_field()


@dataclass(frozen=True, kw_only=True)
class DomainDeleted(Event):
    name: ClassVar[str] = "domain.deleted"
    domain_id: str
    hostname: str
    owner_id: str | None
    client: str | None = client_field()


def catalogue() -> Iterator[type[Event]]:
    """Every concrete event type, in declaration order (for docs and tests); a base whose name starts with ``_``
    (``_AccountChange``) only shares fields and is left out, its subclasses are in."""

    def walk(cls: type[Event]) -> Iterator[type[Event]]:
        for sub in cls.__subclasses__():
            if not sub.__name__.startswith("_"):
                yield sub
            yield from walk(sub)

    yield from walk(Event)


Subscriber = Callable[[Event], None]
Writer = Callable[[Any, list[Event]], None]
"""A transactional subscriber: called with the committing session and the events about to be published."""


class Dispatcher:
    """Hands events to subscribers on one background thread, through a bounded queue.

    ``publish`` never blocks and never raises: with no subscriber for the event's type it returns at
    once (the visit path pays a dictionary lookup), a full queue drops the event and counts it, and a
    subscriber's exception is logged and counted. The thread starts with the first event and ends
    after ``idle_seconds`` without one, so an idle app (a test's, a CLI command's) holds no thread.

    A *hand-off* subscriber (``subscribe(..., hand_off=True)``) is called in the publisher's thread instead:
    it must only put the event in a queue of its own and return (the analytics writer's bounded queue, which may
    hold a request a while when it is full: back-pressure), so a visit costs no thread switch.
    """

    def __init__(self, capacity: int = 10_000, idle_seconds: float = 10.0) -> None:
        self._subscribers: list[tuple[type[Event], Subscriber, bool]] = []
        self._writers: list[Writer] = []
        self._routes: dict[type[Event], tuple[tuple[Subscriber, ...], tuple[Subscriber, ...]]] = {}
        self._queue: queue.Queue[Event] = queue.Queue(capacity)
        self._idle = idle_seconds
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.published = 0
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def subscribe(self, subscriber: Subscriber, *types: type[Event], hand_off: bool = False) -> None:
        """Call ``subscriber(event)`` for events of ``types`` (and their subclasses); all events if none.

        ``hand_off``: call it in the publisher's thread (it only queues the event somewhere and returns).
        """
        with self._lock:
            for kind in types or (Event,):
                self._subscribers.append((kind, subscriber, hand_off))
            self._routes = {}

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop calling ``subscriber`` (for every type it was subscribed to)."""
        with self._lock:
            self._subscribers = [entry for entry in self._subscribers if entry[1] is not subscriber]
            self._routes = {}

    def subscribe_in_transaction(self, writer: Writer) -> None:
        """Call ``writer(session, events)`` inside the transaction that commits the change the events describe,
        just before it commits (``database.publish_after_commit``'s hook): what it writes commits or rolls back
        with the change (the webhook outbox). Its exception fails the commit, so it must be quick and certain.
        """
        with self._lock:
            self._writers.append(writer)

    def write_in_transaction(self, session: Any, events: list[Event]) -> None:
        """Run the transactional subscribers for ``events`` (called by the session's before-commit hook)."""
        for writer in self._writers:
            writer(session, events)

    def wants(self, kind: type[Event]) -> bool:
        """Whether anyone listens to ``kind`` (lets a hot path skip building the event)."""
        queued, handed = self._route(kind)
        return bool(queued or handed)

    def _route(self, kind: type[Event]) -> tuple[tuple[Subscriber, ...], tuple[Subscriber, ...]]:
        route = self._routes.get(kind)
        if route is None:
            matching = [(fn, hand) for base, fn, hand in self._subscribers if issubclass(kind, base)]
            route = (tuple(fn for fn, hand in matching if not hand), tuple(fn for fn, hand in matching if hand))
            self._routes[kind] = route
        return route

    def publish(self, event: Event) -> None:
        """Queue ``event`` for its subscribers; never blocks the caller."""
        if self._closed:
            return
        queued, handed = self._route(type(event))
        for subscriber in handed:
            try:
                subscriber(event)
                self.delivered += 1
            except Exception:  # the request never sees a subscriber's failure
                self.failed += 1
                log.exception("event subscriber %s failed on %s", getattr(subscriber, "__name__", subscriber),
                              event.name)
        if not queued:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            return
        self.published += 1
        self._start()  # under the lock: a thread giving up after its idle wait has seen an empty queue or not

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="zipshort-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                event = self._queue.get(timeout=self._idle)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                self._deliver(event)
            finally:
                self._queue.task_done()

    def _deliver(self, event: Event) -> None:
        for subscriber in self._route(type(event))[0]:
            try:
                subscriber(event)
                self.delivered += 1
            except Exception:  # a subscriber's failure is its own; the request never sees it
                self.failed += 1
                log.exception("event subscriber %s failed on %s", getattr(subscriber, "__name__", subscriber),
                              event.name)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was delivered; False if ``timeout`` passed first."""
        if not self._queue.unfinished_tasks:  # nothing queued or being delivered: no waiter thread
            return True
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Deliver what is queued, then refuse new events (a server's shutdown)."""
        ok = self.drain(timeout)
        self._closed = True
        return ok

    def stats(self) -> dict[str, int]:
        """Counters for health and metrics."""
        return {"published": self.published, "delivered": self.delivered, "failed": self.failed,
                "dropped": self.dropped, "queued": self._queue.qsize()}
