"""Rate limits on the ``limits`` library: in memory for one process, Redis when processes share them."""

from __future__ import annotations

import contextlib
import math
import threading
import time

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from zipshort.errors import RateLimited


def describe(limit: str, what: str) -> str:
    """``limit`` in words: ``describe("100/hour", "link creations")`` is "at most 100 link creations per hour"."""
    item = parse(limit)
    unit = item.GRANULARITY.name
    period = unit if item.multiples == 1 else f"{item.multiples} {unit}s"
    return f"at most {item.amount} {what} per {period}"


class RateLimiter:
    """Named limits like ``10/minute`` applied to a tuple of keys (route, client, account …)."""

    def __init__(self, storage_uri: str) -> None:
        self._storage = storage_from_string(storage_uri)
        self._strategy = MovingWindowRateLimiter(self._storage)
        # limits' memory storage re-arms its expiry timer without a lock: two threads arming it at once
        # make one start the other's timer ("threads can only be started once"). One process, so one lock.
        self._serial: contextlib.AbstractContextManager[object] = (
            threading.Lock() if isinstance(self._storage, MemoryStorage) else contextlib.nullcontext())

    def hit(self, limit: str, *keys: str, message: str = "Too many requests") -> None:
        """Count one attempt; raise RateLimited (with retry_after seconds) when over ``limit``.

        An empty ``limit`` disables the check.
        """
        if not limit:
            return
        item = parse(limit)
        with self._serial:
            if self._strategy.hit(item, *keys):
                return
            reset = self._strategy.get_window_stats(item, *keys).reset_time
        raise RateLimited(message, retry_after=max(1, math.ceil(reset - time.time())))

    def reset(self) -> None:
        """Forget every counter (tests, CLI maintenance)."""
        with self._serial:
            self._storage.reset()
