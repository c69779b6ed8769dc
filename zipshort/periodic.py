"""A daemon thread that runs one task every few seconds until stopped (background work of `serve`)."""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger("zipshort.periodic")


class Periodic:
    """Run ``task`` every ``interval`` seconds; errors are logged and the next round retries.

    ``stop`` ends the loop and, with ``run_on_stop``, runs the task once more (to write what is pending).
    ``wake``: an event that starts the next round early when set (the loop clears it before the round); a round
    that failed is retried only after the interval (a writer whose database is away must not spin, nor give up
    its retries at once).
    """

    def __init__(self, name: str, interval: float, task: Callable[[], object], run_on_stop: bool = False,
                 wake: threading.Event | None = None) -> None:
        self._task, self._interval, self._run_on_stop = task, interval, run_on_stop
        self._stop = threading.Event()
        self._wake = wake or self._stop
        self._thread = threading.Thread(target=self._loop, name=f"zipshort-{name}", daemon=True)

    def start(self) -> "Periodic":
        """Start the loop."""
        self._thread.start()
        return self

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._interval)
            if self._stop.is_set():
                break
            self._wake.clear()
            try:
                self._task()
            except Exception:  # keep the server up; the next round retries
                log.exception("background task %s failed; will retry", self._thread.name)
                self._stop.wait(self._interval)  # after the interval, however often it is woken meanwhile

    def stop(self) -> None:
        """Stop (after the current round) and, if asked, run the task a last time."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        if self._run_on_stop:
            self._task()
