"""In-memory counters and caches shared by request threads (no I/O; services fill them and write them out).
Each app has its own, on its ``Runtime``."""

from __future__ import annotations

import datetime as dt
import hashlib
import mmap
import os
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from typing import Any, Callable, Generic, Hashable, NamedTuple, Sequence, TypeVar

from zipshort.storage.base import RunningHash

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
T = TypeVar("T")


class ViewBuffer:
    """Pending view counts per link id, safe to use from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()

    def add(self, link_id: str, n: int = 1) -> None:
        """Count ``n`` views of ``link_id``."""
        with self._lock:
            self._pending[link_id] += n

    def pending(self, link_id: str) -> int:
        """Views of ``link_id`` not written yet."""
        with self._lock:
            return self._pending.get(link_id, 0)

    def drain(self) -> Counter[str]:
        """Take every pending count (the caller writes them or gives them back)."""
        with self._lock:
            taken, self._pending = self._pending, Counter()
        return taken

    def restore(self, counts: Counter[str]) -> None:
        """Give back counts that could not be written."""
        with self._lock:
            self._pending.update(counts)


class CachedLink(NamedTuple):
    """What the redirect needs of a link resolved recently (live then, but for time)."""

    link_id: str
    destination: str
    expires_at: dt.datetime | None
    limited: bool  # its views come from a lease (ViewLeases)
    valid_since: dt.datetime | None = None
    forward_query: bool = False  # the visitor's query string is merged into the destination
    smart: Any = None  # a smart link's snapshot (services/smart.py SmartLink): its rules, UTM, previews …
    protected: bool = False  # it has a password: its visitors get the password page (nothing else is kept)


class Generation:
    """A value the processes of one instance folder share (granian's workers, or several servers on one host):
    eight bytes of a memory-mapped file that a change overwrites with random ones. A process that sees them
    differ from what it saw last knows another process changed something. Reading costs a slice of the map."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)

    def current(self) -> bytes:
        return self._map[:8]

    def bump(self) -> bytes:
        """Announce a change; return the new value."""
        value = os.urandom(8)
        self._map[:8] = value
        return value


class LinkCache:
    """Recently resolved links, so most redirects run no SQL (a limited one only while this process holds a lease of
    its views), and protected links (``protected``), so their password page runs none either.

    Entries live ``ttl`` seconds; every link or user change made through this process clears
    the cache at once, and with a shared ``generation`` (the instance folder's; every process of one host) so
    does every change made through another process of the same instance: it clears its own cache and bumps the
    generation, and each ``get`` here that finds the generation moved starts afresh. ``ttl`` then only bounds
    how late a change made on another host is seen. An entry keeps the link's time window (``valid_since``,
    ``expires_at``): the redirect checks it on each hit. ``clock`` (monotonic seconds) is replaceable so tests
    can move time instead of sleeping.
    """

    def __init__(self, ttl: float, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic,
                 leases: "ViewLeases | None" = None, generation: Generation | None = None) -> None:
        self.ttl = ttl
        self.leases = leases
        self.max_entries = max_entries
        self.clock = clock
        self.generation = generation
        self._seen = generation.current() if generation is not None else b""
        self._entries: dict[tuple[str, str], tuple[float, CachedLink]] = {}

    def get(self, key: str, host: str) -> CachedLink | None:
        """The cached link if fresh."""
        if self.generation is not None:
            seen = self.generation.current()
            if seen != self._seen:
                self._seen = seen
                self._forget()  # another process changed a link or a user
                return None
        entry = self._entries.get((key, host))
        if entry is None or entry[0] < self.clock():
            return None
        return entry[1]

    def put(self, key: str, host: str, link: CachedLink) -> None:
        """Remember a resolved link."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; a cache miss costs one indexed query
        self._entries[(key, host)] = (self.clock() + self.ttl, link)

    def clear(self) -> None:
        """Forget everything (after any change to links or users), stop handing out leased views, and tell the
        other processes of the instance to do the same."""
        if self.generation is not None:
            self._seen = self.generation.bump()
        self._forget()

    def _forget(self) -> None:
        self._entries.clear()
        if self.leases is not None:
            self.leases.freeze()


class ViewLeases:
    """This process's leases: views of limited links granted in advance (``view_leases`` rows under ``holder``),
    handed out from memory, then written back at the next view flush: the views used are counted, the rest
    returned (services/visits.py). ``active`` is set where that flush runs; elsewhere every view of a limited
    link is counted by the database at once."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or uuid.uuid4().hex
        self.active = False
        self._lock = threading.Lock()
        self._book: dict[str, list[int]] = {}  # link id -> [left, used, frozen: held but never handed out]

    def take(self, link_id: str) -> bool:
        """Spend one leased view of ``link_id``; False when none is left here."""
        with self._lock:
            entry = self._book.get(link_id)
            if entry is None or entry[0] <= 0:
                return False
            entry[0] -= 1
            entry[1] += 1
            return True

    def add(self, link_id: str, left: int, used: int) -> None:
        """Book a lease just granted: ``left`` views to hand out, ``used`` already spent by the claims it served."""
        with self._lock:
            entry = self._book.setdefault(link_id, [0, 0, 0])
            entry[0] += left
            entry[1] += used

    def drain(self) -> dict[str, tuple[int, int]]:
        """Take the whole book, {link id: (used, left)}: the flush counts the used and returns the rest."""
        with self._lock:
            book, self._book = self._book, {}
        return {link_id: (used, left + frozen) for link_id, (left, used, frozen) in book.items()}

    def restore(self, drained: dict[str, tuple[int, int]]) -> None:
        """Give back a drained book whose flush failed (its lease rows are unchanged): the used views wait for
        the next flush, the rest is returned by it."""
        with self._lock:
            for link_id, (used, left) in drained.items():
                entry = self._book.setdefault(link_id, [0, 0, 0])
                entry[1] += used
                entry[2] += left

    def freeze(self) -> None:
        """Hand nothing more out of the leases held now (a link or user changed); the next flush returns them."""
        with self._lock:
            for entry in self._book.values():
                entry[0], entry[2] = 0, entry[2] + entry[0]  # a lease granted later is handed out again

    def held(self) -> int:
        """Views held here and not handed out yet."""
        with self._lock:
            return sum(entry[0] for entry in self._book.values())


class Snapshot(Generic[T]):
    """A value read from the database and kept for ``ttl`` seconds: the service that loads it empties it after
    every change made in this process; other processes see a change within ``ttl``."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._value: tuple[float, T] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Read the value again on the next ``get``."""
        self._value = None

    def get(self, load: Callable[[], T]) -> T:
        """The value, from ``load()`` when the cached one is older than ``ttl`` (or was invalidated)."""
        value = self._value
        if value is None or time.monotonic() - value[0] > self.ttl:
            with self._lock:
                loaded = load()
                self._value = value = (time.monotonic(), loaded)
        return value[1]


class HostnameCache(Snapshot[frozenset[str]]):
    """The verified custom domains' hostnames (for ``core.trusted_hosts``), re-read at most every ``ttl``
    seconds. services/domains.py loads it and empties it after every change made in this process."""


class VisitQueue:
    """Visits waiting for the analytics writer: bounded, with back-pressure when the writer cannot follow.

    From half full on, offers are paced: each waits for its turn at the pace the writer stores visits (measured
    over its last batches, ``written``; slower the fuller the queue), so a load the writer cannot follow slows
    every request a little and evenly (32 connections and a writer storing 4,000 visits a second: 8 ms each)
    instead of letting most run free and stalling the rest for a whole batch. A full queue makes the offering
    thread wait up to ``wait`` seconds for room, then drops and counts. ``ready`` is set once ``batch`` visits
    wait, so the writer starts its round early instead of letting the queue fill (``Periodic``'s ``wake``).
    Without ``wait`` nothing waits.
    """

    PACE_FROM = 0.5  # the share of the capacity from which offers are paced

    def __init__(self, capacity: int, wait: float = 0.0, batch: int = 0) -> None:
        self.capacity, self.wait = capacity, wait
        self.batch = batch or capacity
        self.ready = threading.Event()
        self._items: deque[object] = deque()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._soft = int(capacity * self.PACE_FROM)
        self._rate = 0.0  # visits a second the writer stored in its last batches (0: not known yet)
        self._turn = 0.0  # monotonic time of the last paced offer's turn
        self.dropped = 0
        self.accepted = 0
        self.paced = 0  # offers that waited for their turn because the queue was filling up
        self.waited = 0  # offers that found the queue full and waited for room
        self._failures = 0

    def offer(self, item: object) -> bool:
        """Queue ``item``; False (and one more drop) when the queue stayed full for ``wait`` seconds."""
        pause = 0.0
        with self._lock:
            level = len(self._items)
            if level >= self.capacity:
                self.waited += 1
                if not self.wait or not self._room.wait_for(lambda: len(self._items) < self.capacity, self.wait):
                    self.dropped += 1
                    return False
            self._items.append(item)
            self.accepted += 1
            if level + 1 >= self.batch:
                self.ready.set()
            if level >= self._soft and self._rate and self.wait:
                now = time.monotonic()
                # the fuller the queue, the slower than the writer's pace (down to a tenth): it drains back
                pace = self._rate * max(0.1, (self.capacity - level) / (self.capacity - self._soft))
                self._turn = max(now, self._turn) + 1 / pace
                pause = min(self._turn - now, self.wait)
                self.paced += 1
        if pause > 0:
            time.sleep(pause)
        return True

    def written(self, count: int, seconds: float) -> None:
        """The writer stored ``count`` visits in ``seconds`` (one batch): the pace offers keep to when paced. Only
        full batches count (a small one is mostly the round's fixed cost, not the writer's pace)."""
        if count >= self.batch and seconds > 0:
            rate = count / seconds
            with self._lock:
                self._rate = rate if not self._rate else 0.7 * self._rate + 0.3 * rate

    def take(self, limit: int) -> list[object]:
        """Up to ``limit`` of the oldest items."""
        with self._lock:
            n = min(limit, len(self._items))
            taken = [self._items.popleft() for _ in range(n)]
            if len(self._items) < self.batch:
                self.ready.clear()
            if taken:
                self._room.notify_all()
            return taken

    def give_back(self, items: Sequence[object]) -> None:
        """Return items that could not be written to the front of the queue (beyond capacity if need be)."""
        with self._lock:
            self._items.extendleft(reversed(items))
            if len(self._items) >= self.batch:
                self.ready.set()

    def failed_once(self) -> bool:
        """Note a failed write; True the first time in a row, False when the previous write failed too."""
        with self._lock:
            self._failures += 1
            return self._failures == 1

    def succeeded(self) -> None:
        """Note a successful write (the failure streak ends)."""
        self._failures = 0

    def discard(self, n: int) -> None:
        """Count ``n`` taken items as dropped (they could not be written)."""
        with self._lock:
            self.dropped += n
            self._failures = 0

    def __len__(self) -> int:
        return len(self._items)


class _Round(Generic[K, R]):
    """The claims gathered for one commit: how many per key, then the commit's answer per key."""

    __slots__ = ("pending", "done", "results", "error")

    def __init__(self) -> None:
        self.pending: dict[K, int] = {}
        self.done = False
        self.results: dict[K, R] = {}
        self.error: BaseException | None = None


class GroupCommit(Generic[K, R]):
    """Claims on the same rows, gathered while one commit runs and granted together by the next (group commit).

    A thread calls ``claim(key, commit)``. When no commit is running it runs one at once, for its own claim and
    every other claim made meanwhile; while one is running, claims queue for the next round, which the first of
    them to wake runs. ``commit`` gets ``{key: number of claims}`` and answers ``{key: result}`` (a key it leaves
    out has no result); every claimant gets its key's result and its ticket, 0 … n-1 in arrival order, so a
    commit that could grant only ``g`` of ``n`` claims serves tickets below ``g``. An error in ``commit`` is
    raised in every claimant of that round. Without concurrency a round holds one claim, so the cost is the
    caller's own commit; under a burst, one transaction serves as many claims as arrived while the previous
    one ran.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._open: _Round[K, R] | None = None
        self._busy = False
        self.rounds = 0  # commits run (for tests and benchmarks)

    def queued(self) -> int:
        """Claims waiting for the next round."""
        with self._cond:
            return 0 if self._open is None else sum(self._open.pending.values())

    def claim(self, key: K, commit: Callable[[dict[K, int]], dict[K, R]]) -> tuple[R | None, int]:
        """This claim's result (None when the commit gave none for ``key``) and its ticket."""
        with self._cond:
            current = self._open
            if current is None:
                current = self._open = _Round()
            ticket = current.pending.get(key, 0)
            current.pending[key] = ticket + 1
            while not current.done and (self._busy or current is not self._open):
                self._cond.wait()
            if not current.done:  # nothing runs and this round is still open: run it
                self._busy, self._open = True, None
                self.rounds += 1
        if not current.done:
            try:
                current.results = commit(current.pending)
            except BaseException as error:  # every claimant of the round sees the failure
                current.error = error
            finally:
                with self._cond:
                    current.done, self._busy = True, False
                    self._cond.notify_all()
        if current.error is not None:
            raise current.error
        return current.results.get(key), ticket


class Tally:
    """Counts by name, safe across threads (outcomes of webhook deliveries: ``("discord", "failed")`` …)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, ...]] = Counter()

    def add(self, *key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[tuple[str, ...], int]:
        """The counts so far."""
        with self._lock:
            return dict(self._counts)


class RunningHashes:
    """This process's SHA-256 of each chunked upload's first bytes, as its chunks arrived in order here: upload
    id → ``RunningHash``. Bounded (least recently advanced out first); a hash state cannot be shared between
    processes, so an upload whose chunks go elsewhere simply has no entry (or a shorter one) here, and its
    assembly reads back what is not covered (services/partials.py)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, RunningHash] = OrderedDict()

    def take(self, upload_id: str, start: int) -> Any:
        """A hasher to go on with from byte ``start`` of the upload (a copy: the entry stays as it is until
        :meth:`advance`), or None when this process has not hashed exactly up to there. From 0, a new one."""
        with self._lock:
            entry = self._entries.get(upload_id)
        if entry is not None and entry.position == start:
            return entry.digest.copy()
        return hashlib.sha256() if start == 0 and entry is None else None

    def behind(self, upload_id: str, start: int) -> RunningHash | None:
        """This process's hash of the upload when it ends before byte ``start`` (a copy), or one from 0 when it
        has none: where a ``HashFollower`` goes on from (the bytes in between came to other processes). None
        when the hash reaches ``start`` or beyond."""
        with self._lock:
            entry = self._entries.get(upload_id)
        if entry is None:
            return RunningHash(0, hashlib.sha256())
        return RunningHash(entry.position, entry.digest.copy()) if entry.position < start else None

    def advance(self, upload_id: str, hashed: RunningHash) -> None:
        """Keep ``hashed`` when it covers more than the entry so far."""
        with self._lock:
            entry = self._entries.get(upload_id)
            if entry is None or entry.position < hashed.position:
                self._entries[upload_id] = hashed
            self._entries.move_to_end(upload_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def pop(self, upload_id: str) -> RunningHash | None:
        """Take the upload's entry away (it is being assembled, or it ended)."""
        with self._lock:
            return self._entries.pop(upload_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class WebhookState:
    """What one process holds for per-user webhooks (services/webhooks.py, services/webhookdelivery.py): visits
    waiting for their batch (bounded, drops counted), the visit types some enabled endpoint wants (refreshed by
    the delivery worker, which subscribes the visit collector only while there are some, so that otherwise the
    redirect builds no visit event for webhooks), a wake-up for the worker after a commit that
    wrote messages, and this process's name on the messages it claims."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.visits = VisitQueue(capacity)
        self.wanted_visits: frozenset[str] = frozenset()
        self.collector: Callable[..., None] | None = None  # the visit subscriber, while one is subscribed
        self.wake = threading.Event()
        self.holder = str(uuid.uuid4())
