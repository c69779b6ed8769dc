"""Fault injection for crash tests: the process kills itself (SIGKILL) at a named point of an upload.

Off by default: ``[faults] crash_at`` is an empty list. It exists so that tests can kill the real server
at exact moments and check that a restart and the maintenance pass leave nothing half-written. Never set
it on a server that matters. Imports nothing from zipshort (config validates names against this list).
"""

from __future__ import annotations

import os
import signal
from typing import Iterable

# Every named point, where it sits, and what a crash there leaves behind.
CRASH_POINTS: dict[str, str] = {
    "upload.spooled": "POST /api/upload: every file part is in a temp spool file, nothing is in the store "
                      "(leaves: spool files)",
    "files.before_commit": "an upload's blobs are in the store and its rows inserted, not yet committed "
                           "(leaves: blobs without rows)",
    "files.after_commit": "the rows are committed, the response is not sent (leaves: nothing)",
    "chunk.written": "a chunk's bytes are in the assembly file, its byte range not yet recorded "
                     "(leaves: an open session the client can continue)",
    "chunk.assembling": "the last chunk claimed the session, its assembly file is not yet in the store "
                        "(leaves: a session stuck assembling, its reservation, its assembly file)",
    "chunk.assembled": "the assembled blob is in the store, no row yet (leaves: a session stuck assembling, "
                       "its reservation, a blob without a row)",
}

_armed: frozenset[str] = frozenset()


def arm(points: Iterable[str]) -> None:
    """Crash at these points from now on in this process (an empty list disarms)."""
    global _armed
    _armed = frozenset(points)


def point(name: str) -> None:
    """Kill this process now when ``name`` is armed; otherwise do nothing."""
    if name in _armed:
        kill = getattr(signal, "SIGKILL", None)
        if kill is None:  # Windows: no SIGKILL, exit without unwinding
            os._exit(137)
        os.kill(os.getpid(), kill)
