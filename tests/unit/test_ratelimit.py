"""The rate limiter on the ``limits`` library, from many threads at once (waitress serves with threads)."""

from __future__ import annotations

import sys
import threading

import pytest

from zipshort.errors import RateLimited
from zipshort.ratelimit import RateLimiter


def test_parallel_hits_on_the_memory_storage_never_raise_anything_but_rate_limited():
    # limits' memory storage re-arms its expiry timer without a lock: two threads arming it at once made
    # one of them start the other's timer ("threads can only be started once"), a 500 on a parallel login
    limiter = RateLimiter("memory://")
    failures: list[BaseException] = []
    start = threading.Barrier(16)

    def client(n: int) -> None:
        start.wait()
        for i in range(400):
            try:
                limiter.hit("1000/second", "login", f"client-{n}-{i % 7}")
            except RateLimited:
                pass
            except BaseException as exc:  # noqa: BLE001 - any other exception is the failure under test
                failures.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so the race window is hit
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


def test_the_limit_still_holds_across_threads():
    limiter = RateLimiter("memory://")
    allowed = []
    refused = []
    start = threading.Barrier(8)

    def client() -> None:
        start.wait()
        for _ in range(10):
            try:
                limiter.hit("25/minute", "login", "one-client")
                allowed.append(1)
            except RateLimited as exc:
                assert exc.retry_after >= 1
                refused.append(1)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(allowed), len(refused)) == (25, 55)


@pytest.mark.parametrize("limit", ["", None])
def test_an_empty_limit_is_no_limit(limit):
    limiter = RateLimiter("memory://")
    for _ in range(100):
        limiter.hit(limit, "x")
