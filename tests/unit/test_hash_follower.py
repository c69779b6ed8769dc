"""``HashFollower``: a running SHA-256 of a file that goes on, on a thread of its own, as the file's bytes land
(storage/base.py; a process that missed chunks of an upload catches up with them while it writes its own)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from zipshort.storage import HashFollower, RunningHash

DATA = os.urandom(3 * 1024 * 1024 + 123)


def test_it_hashes_what_is_there_then_what_lands_while_it_runs(tmp_path: Path):
    path = tmp_path / "upload.partial"
    third = len(DATA) // 3
    path.write_bytes(DATA[:third])
    already = RunningHash(1000, hashlib.sha256(DATA[:1000]))  # this process hashed the first bytes itself
    follower = HashFollower(path, already, third)

    def writer() -> None:
        with open(path, "r+b") as fh:
            for at in range(third, len(DATA), 65_536):
                piece = DATA[at:at + 65_536]
                os.pwrite(fh.fileno(), piece, at)
                follower.advance(at + len(piece))

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    hashed = follower.finish()
    assert hashed is not None and hashed.position == len(DATA)
    assert hashed.digest.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_file_shorter_than_promised_gives_no_hash(tmp_path: Path):
    path = tmp_path / "upload.partial"
    path.write_bytes(DATA[:5000])
    follower = HashFollower(path, RunningHash(0, hashlib.sha256()), 5000)
    follower.advance(9000)  # bytes that never landed
    assert follower.finish() is None


def test_abandoning_stops_a_follower_waiting_for_bytes(tmp_path: Path):
    path = tmp_path / "upload.partial"
    path.write_bytes(DATA[:100])
    follower = HashFollower(path, RunningHash(0, hashlib.sha256()), 100)
    deadline = time.monotonic() + 10
    while follower.position < 100:  # it hashes what is there, then waits for the next bound
        assert time.monotonic() < deadline
        time.sleep(0.001)
    follower.abandon()  # returns: the waiting thread ends
    assert follower.position == 100
