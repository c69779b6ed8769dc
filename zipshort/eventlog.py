"""The first event subscriber: one log line per state change, and the process's log set-up.

A line names what changed (``link.created code=abc link_id=12 …``), who did it and in which
request; never a secret (events carry none, and quiet fields such as destinations stay out).
Counted visits (``link.visited``, ``file.viewed``) are logged at DEBUG only; failed logins at
WARNING. With ``logging.format = "json"`` every line is one JSON object (python-json-logger).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

from zipshort.config import Settings
from zipshort.events import Event, FileViewed, LinkVisited, LoginFailed, OrphanVisited, request_id

log = logging.getLogger("zipshort.changes")

VERBOSE: tuple[type[Event], ...] = (LinkVisited, FileViewed, OrphanVisited)  # visits: DEBUG lines only
_LEVELS: dict[type[Event], int] = {LinkVisited: logging.DEBUG, FileViewed: logging.DEBUG,
                                   LoginFailed: logging.WARNING}


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "-"
    text = str(value)
    return repr(text) if (not text or any(c.isspace() or c in "\"'=" for c in text)) else text


def log_event(event: Event) -> None:
    """Write ``event`` as one log line (subscribed to every event in ``create_app``)."""
    level = _LEVELS.get(type(event), logging.INFO)
    if not log.isEnabledFor(level):
        return
    details = event.details()
    words = " ".join(f"{key}={_text(value)}" for key, value in details.items())
    actor = "-" if event.actor_id is None else event.actor_id
    log.log(level, "%s %s actor=%s", event.name, words, actor,
            extra={"event": event.name, "actor_id": event.actor_id, "event_request_id": event.request_id,
                   "at": event.at.isoformat(), "fields": details})


class RequestIdFilter(logging.Filter):
    """Stamp every record with the request id of the request that logs it (``-`` outside one). A line logged in a
    request that has no id yet makes it (``request_id``), so the response's ``X-Request-ID``, the access line and
    every other line of the request share it."""

    def filter(self, record: logging.LogRecord) -> bool:
        given = getattr(record, "event_request_id", None)
        record.request_id = given or request_id() or "-"
        return True


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Send the process's log lines to stderr in ``logging.format`` at ``logging.level`` (a server's start)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.logging.format == "json":
        from pythonjsonlogger.core import RESERVED_ATTRS
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                           rename_fields={"asctime": "time", "levelname": "level",
                                                          "name": "logger"},
                                           reserved_attrs=[*RESERVED_ATTRS, "event_request_id"]))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "zipshort", False)]:
        root.removeHandler(old)
    handler.zipshort = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.logging.level.upper())
    return handler

