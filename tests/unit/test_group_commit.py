"""counters.GroupCommit: claims made while a commit runs are granted together by the next one; each claimant
gets its key's answer and its ticket, and a failed commit fails every claimant of its round."""

from __future__ import annotations

import threading
import time

import pytest

from zipshort.counters import GroupCommit


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_lone_claim_is_its_own_round():
    group: GroupCommit[str, int] = GroupCommit()
    rounds = []
    assert group.claim("a", lambda pending: rounds.append(dict(pending)) or {"a": 7}) == (7, 0)
    assert group.claim("b", lambda pending: {}) == (None, 0)
    assert rounds == [{"a": 1}] and group.rounds == 2


def test_claims_made_during_a_commit_are_granted_together_with_tickets_in_arrival_order():
    group: GroupCommit[str, str] = GroupCommit()
    release, rounds, answers = threading.Event(), [], {}

    def commit(pending):
        rounds.append(dict(pending))
        release.wait(5)
        return {key: f"{key}x{n}" for key, n in pending.items()}

    def claimant(name: str, key: str) -> None:
        answers[name] = group.claim(key, commit)

    first = threading.Thread(target=claimant, args=("first", "a"))
    first.start()
    wait_until(lambda: rounds)  # the first round runs and holds
    others = [threading.Thread(target=claimant, args=(f"c{i}", "a" if i < 3 else "b")) for i in range(5)]
    for i, thread in enumerate(others):
        thread.start()
        wait_until(lambda i=i: group.queued() == i + 1)  # start one at a time, so tickets follow the order
    release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert rounds == [{"a": 1}, {"a": 3, "b": 2}]
    assert answers == {"first": ("ax1", 0), "c0": ("ax3", 0), "c1": ("ax3", 1), "c2": ("ax3", 2),
                       "c3": ("bx2", 0), "c4": ("bx2", 1)}
    assert group.rounds == 2 and group.queued() == 0


def test_a_failed_commit_fails_every_claimant_of_its_round_and_the_next_round_runs():
    group: GroupCommit[str, int] = GroupCommit()
    release, started, errors = threading.Event(), threading.Event(), []

    def failing(pending):
        started.set()
        release.wait(5)
        raise RuntimeError("database gone")

    def claimant() -> None:
        try:
            group.claim("a", failing)
        except RuntimeError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=claimant)]
    threads[0].start()
    started.wait(5)
    threads += [threading.Thread(target=claimant) for _ in range(3)]
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: group.queued() == 3)
    release.set()
    for thread in threads:
        thread.join(5)
    assert errors == ["database gone"] * 4 and group.rounds == 2
    assert group.claim("a", lambda pending: {"a": 1}) == (1, 0)


@pytest.mark.parametrize("attempt", range(3))
def test_a_burst_of_claims_counts_every_claim_once(attempt):
    group: GroupCommit[str, int] = GroupCommit()
    granted: dict[str, int] = {}
    lock = threading.Lock()
    tickets: list[tuple[str, int]] = []

    def commit(pending):
        time.sleep(0.0005)
        with lock:
            for key, n in pending.items():
                granted[key] = granted.get(key, 0) + n
        return {key: n for key, n in pending.items()}

    def claimant(i: int) -> None:
        key = "ab"[i % 2]
        result, ticket = group.claim(key, commit)
        assert 0 <= ticket < result
        with lock:
            tickets.append((key, ticket))

    threads = [threading.Thread(target=claimant, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert granted == {"a": 100, "b": 100} and len(tickets) == 200
    assert group.rounds < 200  # rounds formed while commits ran
