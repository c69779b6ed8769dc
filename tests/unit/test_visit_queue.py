"""The analytics queue's back-pressure (counters.VisitQueue): offers paced to the writer's measured pace from half
full on, evenly; the early-round signal (``ready``) and the writer loop it wakes (periodic.Periodic)."""

from __future__ import annotations

import threading
import time

from tests.conftest import burst
from zipshort.counters import VisitQueue
from zipshort.periodic import Periodic


def filled(queue: VisitQueue, n: int) -> None:
    for i in range(n):
        queue.offer(i)


def test_below_half_full_nothing_is_paced():
    queue = VisitQueue(100, wait=1.0, batch=10)
    queue.written(10, 0.001)  # a writer of 10,000 visits a second
    started = time.monotonic()
    filled(queue, 50)
    assert queue.paced == 0 and queue.waited == 0 and time.monotonic() - started < 0.5


def test_past_half_full_offers_keep_to_the_writers_pace():
    """A writer that stores 200 visits a second paces offers 5 ms apart (slower as the queue fills): 20 offers past
    half full take at least 0.1 s, whichever threads make them, and none is dropped."""
    queue = VisitQueue(100, wait=1.0, batch=10)
    queue.written(10, 0.05)
    filled(queue, 50)
    started = time.monotonic()
    burst(20, lambda i: queue.offer(i), workers=5)
    assert time.monotonic() - started >= 0.1
    assert queue.paced == 20 and queue.waited == 0 and queue.dropped == 0 and len(queue) == 70


def test_paced_offers_wait_evenly_not_a_batch_each():
    """Back-pressure spread over every request: 40 offers from 8 threads against a writer of 400 visits a second
    wait about 8 × 2.5 ms each (no offer waits for room in a full queue), not 0 for most and a batch for some."""
    queue = VisitQueue(200, wait=2.0, batch=10)
    queue.written(10, 0.025)
    filled(queue, 100)

    def timed(i: int) -> float:
        started = time.monotonic()
        queue.offer(i)
        return time.monotonic() - started

    waits = sorted(burst(40, timed, workers=8))
    assert queue.waited == 0
    assert waits[len(waits) // 2] > 0.002  # the typical offer waited its turn …
    assert waits[-1] < 0.5  # … and none waited anything like a writer's round


def test_the_pace_is_learnt_from_full_batches_only():
    queue = VisitQueue(100, wait=1.0, batch=10)
    queue.written(3, 10.0)  # a round of 3 visits is its fixed cost, not the writer's pace
    filled(queue, 60)
    assert queue.paced == 0


def test_without_a_wait_nothing_is_paced():
    queue = VisitQueue(100, wait=0.0, batch=10)
    queue.written(10, 1.0)
    filled(queue, 105)
    assert queue.paced == 0 and queue.dropped == 5


def test_ready_is_set_by_a_full_batch_and_cleared_by_taking_it():
    queue = VisitQueue(100, batch=10)
    filled(queue, 9)
    assert not queue.ready.is_set()
    queue.offer(9)
    assert queue.ready.is_set()
    assert len(queue.take(10)) == 10 and not queue.ready.is_set()
    filled(queue, 12)
    queue.take(5)
    assert not queue.ready.is_set()  # 7 left: less than a batch
    queue.give_back(list(range(5)))
    assert queue.ready.is_set()


def test_a_wake_starts_the_next_round_at_once_and_stop_still_ends_the_loop():
    wake = threading.Event()
    rounds: list[float] = []
    task = Periodic("test-wake", 60, lambda: rounds.append(time.monotonic()), run_on_stop=True, wake=wake).start()
    try:
        started = time.monotonic()
        wake.set()
        deadline = started + 5
        while not rounds and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rounds and rounds[0] - started < 1  # not after the 60 s interval
        assert not wake.is_set()  # cleared for the next one
    finally:
        stopped = time.monotonic()
        task.stop()
    assert time.monotonic() - stopped < 5 and len(rounds) == 2  # the woken round, then the last one on stop


def test_a_failing_round_is_retried_after_the_interval_however_often_it_is_woken():
    """A writer whose database is away sets its wake again at once (the batch goes back to a full queue): it
    must not spin through its retries (which drop a batch every second failure)."""
    wake = threading.Event()
    rounds: list[float] = []

    def failing() -> None:
        rounds.append(time.monotonic())
        wake.set()
        raise RuntimeError("the database is away")

    task = Periodic("test-failing", 0.2, failing, wake=wake).start()
    wake.set()
    time.sleep(0.7)
    task.stop()
    assert 2 <= len(rounds) <= 5  # about one every 0.2 s, not thousands
