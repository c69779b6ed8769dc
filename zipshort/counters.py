"""In-memory counters and caches shared by request threads (no I/O; services fill them and write them out).
Each app has its own, on its ``Runtime``."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, deque
from typing import Callable, Sequence


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


class LinkCache:
    """Recently resolved plain links (no view limit, no password), so most redirects run no SQL.

    Entries live ``ttl`` seconds; every link or user change made through this process clears
    the cache at once, so ``ttl`` only bounds how late another process's change is seen here.
    ``clock`` (monotonic seconds) is replaceable so tests can move time instead of sleeping.
    """

    def __init__(self, ttl: float, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, str, str, dt.datetime | None]] = {}

    def get(self, key: str, host: str) -> tuple[str, str, dt.datetime | None] | None:
        """(link id, destination, expires_at) if fresh."""
        entry = self._entries.get((key, host))
        if entry is None or entry[0] < self.clock():
            return None
        return entry[1], entry[2], entry[3]

    def put(self, key: str, host: str, link_id: str, destination: str, expires_at: dt.datetime | None) -> None:
        """Remember a resolved plain link."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; a cache miss costs one indexed query
        self._entries[(key, host)] = (self.clock() + self.ttl, link_id, destination, expires_at)

    def clear(self) -> None:
        """Forget everything (after any change to links or users)."""
        self._entries.clear()


class HostnameCache:
    """The verified custom domains' hostnames (for ``core.trusted_hosts``), re-read at most every ``ttl``
    seconds. services/domains.py loads it and empties it after every change made in this process; other
    processes see a change within ``ttl``."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._value: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Read the names again on the next ``get``."""
        self._value = None

    def get(self, load: Callable[[], frozenset[str]]) -> frozenset[str]:
        """The names, from ``load()`` when the cached ones are older than ``ttl`` (or were invalidated)."""
        value = self._value
        if value is None or time.monotonic() - value[0] > self.ttl:
            with self._lock:
                names = load()
                self._value = value = (time.monotonic(), names)
        return value[1]


class VisitQueue:
    """Visits waiting for the analytics writer: bounded, never blocks; a full queue drops and counts."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[object] = deque()
        self._lock = threading.Lock()
        self.dropped = 0
        self.accepted = 0
        self._failures = 0

    def offer(self, item: object) -> bool:
        """Queue ``item``; False (and one more drop) when the queue is full."""
        with self._lock:
            if len(self._items) >= self.capacity:
                self.dropped += 1
                return False
            self._items.append(item)
            self.accepted += 1
            return True

    def take(self, limit: int) -> list[object]:
        """Up to ``limit`` of the oldest items."""
        with self._lock:
            n = min(limit, len(self._items))
            return [self._items.popleft() for _ in range(n)]

    def give_back(self, items: Sequence[object]) -> None:
        """Return items that could not be written to the front of the queue (beyond capacity if need be)."""
        with self._lock:
            self._items.extendleft(reversed(items))

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
