"""Every log line of a test run, searched for every secret the run sent (installed by tests/conftest.py).

For the whole session a handler on the root logger formats each record the way a server writes it, as text
and as JSON (extras included, which the text form leaves out), and keeps the lines (compressed, a chunk at a
time). Meanwhile the secrets the tests send are recorded where they leave: the fixtures that make them
(``make_user``'s password, ``make_key``'s key), every request of the Flask test client and of ``requests``
(``Authorization`` and ``x-api-key`` values, cookies, headers and JSON/form/query fields named like a password,
token, key or secret), and the output of the ``zipshort serve`` processes the tests stop is added to the lines.
At the end one Aho-Corasick pass (pyahocorasick) looks for every secret of at least ``MIN_LENGTH`` characters in
every line; a hit fails the run. The summary says how many lines and secrets were compared, so a scan that saw
nothing is visible (and a run that recorded secrets but captured no line fails).
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MIN_LENGTH = 8
CHUNK_LINES = 5000
# Field, header and query names whose values are secrets (lower-case; "-" and "_" ignored).
SECRET_NAMES = ("password", "secret", "token", "apikey", "authorization", "cookie", "key")
EXACT_ONLY = frozenset({"key"})  # "key" only as the whole name (not "key_name", "keys")
CREDENTIALS = frozenset({"authorization", "xapikey", "cookie"})  # headers recorded even from generated requests
# Lines `zipshort serve` prints for the person who started it (stdout), not log lines: the first start's generated
# password is printed once on purpose.
CONSOLE = ("zipshort listening on", "Created the first administrator", "database ", "Migrat")


def _secret_name(name: str) -> bool:
    plain = name.lower().replace("-", "").replace("_", "")
    return any(plain == word if word in EXACT_ONLY else word in plain for word in SECRET_NAMES)


class LogScan:
    """The lines and secrets of one run, and the search for the second in the first."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        # False while a test marked ``generated_values`` runs: it sends generated values in secret-named fields (the
        # fuzzer), which may also land in fields that are logged; only its credentials are recorded then.
        self.names_too = True
        self.records = 0
        self.lines = 0
        self._pending: list[str] = []
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self.handler = _Capture(self)

    # --- secrets ------------------------------------------------------------------------------------------

    def secret(self, value: object) -> None:
        """Record ``value`` (a string of at least MIN_LENGTH characters) as something that must never be logged."""
        if isinstance(value, str) and len(value.strip()) >= MIN_LENGTH:
            with self._lock:
                self.secrets.add(value.strip())

    def header(self, name: str, value: object) -> None:
        """A request header: the secret ones' values (and a scheme's credentials, a cookie's values)."""
        if not isinstance(value, str) or not _secret_name(name):
            return
        if not self.names_too and name.lower().replace("-", "").replace("_", "") not in CREDENTIALS:
            return
        plain = name.lower().replace("-", "_")
        if plain.endswith("cookie"):
            for part in value.split(";"):
                self.secret(part.partition("=")[2])
            return
        self.secret(value)
        scheme, _, rest = value.strip().partition(" ")
        if rest:
            self.secret(rest)

    def fields(self, data: object) -> None:
        """A JSON body, form or query: the values of fields named like secrets, at any depth."""
        if not self.names_too:
            return
        if isinstance(data, Mapping):
            for name, value in data.items():
                if isinstance(name, str) and _secret_name(name):
                    for item in value if isinstance(value, (list, tuple)) else [value]:
                        self.secret(item)
                if isinstance(value, (Mapping, list)):
                    self.fields(value)
        elif isinstance(data, list):
            for item in data:
                self.fields(item)

    def query(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        self.fields(_pairs(parse_qsl(text, keep_blank_values=True)))

    def test_client_request(self, kwargs: Mapping[str, Any], response: Any) -> None:
        """What a Flask test client request sent: its environ's headers and query, its JSON and form data."""
        request = getattr(response, "request", None)
        environ = getattr(request, "environ", None) or {}
        for name, value in environ.items():
            if name.startswith("HTTP_"):
                self.header(name[5:], value)
        self.query(environ.get("QUERY_STRING", ""))
        self.fields(kwargs.get("json"))
        self.fields(kwargs.get("data"))

    def prepared_request(self, prepared: Any) -> None:
        """What ``requests`` sent: headers, the URL's query, a JSON or form body."""
        for name, value in prepared.headers.items():
            self.header(name, value)
        self.query(urlsplit(prepared.url or "").query)
        body = prepared.body
        if isinstance(body, bytes):
            try:
                body = body.decode()
            except UnicodeDecodeError:
                return
        if not isinstance(body, str):
            return
        kind = prepared.headers.get("Content-Type", "")
        if "json" in kind:
            try:
                self.fields(json.loads(body))
            except ValueError:
                pass
        elif "x-www-form-urlencoded" in kind:
            self.query(body)

    # --- lines --------------------------------------------------------------------------------------------

    def line(self, text: str) -> None:
        with self._lock:
            self._pending.append(text.replace("\n", " "))
            self.lines += 1
            if len(self._pending) >= CHUNK_LINES:
                self._chunks.append(zlib.compress("\n".join(self._pending).encode(), 1))
                self._pending = []

    def output(self, text: str) -> None:
        """The output of a server process a test stopped (its console lines left out)."""
        for line in text.splitlines():
            if line.strip() and not line.startswith(CONSOLE):
                self.line(line)

    def _texts(self) -> Iterable[str]:
        with self._lock:
            chunks, pending = list(self._chunks), list(self._pending)
        for chunk in chunks:
            yield zlib.decompress(chunk).decode()
        if pending:
            yield "\n".join(pending)

    def leaks(self, limit: int = 20) -> list[tuple[str, str]]:
        """(secret, the line holding it with the secret masked), at most ``limit``."""
        import ahocorasick

        with self._lock:
            secrets = set(self.secrets)
        if not secrets:
            return []
        automaton = ahocorasick.Automaton()
        for secret in secrets:
            automaton.add_word(secret, secret)
        automaton.make_automaton()
        found: list[tuple[str, str]] = []
        for text in self._texts():
            for end, secret in automaton.iter(text):
                start = text.rfind("\n", 0, end) + 1
                stop = text.find("\n", end)
                line = text[start:stop if stop >= 0 else len(text)]
                found.append((secret, line.replace(secret, "<secret>")[:500]))
                if len(found) >= limit:
                    return found
        return found

    def summary(self) -> str:
        return (f"log secret scan: {self.records} log records ({self.lines} lines in text and JSON, server output "
                f"included) searched for {len(self.secrets)} secrets the tests sent")


def _pairs(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name, []).append(value)
    return out


class _Capture(logging.Handler):
    """Formats every record as a server would write it, in text and in JSON, into the scan."""

    def __init__(self, scan: LogScan) -> None:
        super().__init__(logging.NOTSET)
        from pythonjsonlogger.core import RESERVED_ATTRS
        from pythonjsonlogger.json import JsonFormatter

        from zipshort.eventlog import RequestIdFilter

        self.scan = scan
        self.addFilter(RequestIdFilter())
        self.text = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        self.json = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                  reserved_attrs=[*RESERVED_ATTRS, "event_request_id"])

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text, as_json = self.text.format(record), self.json.format(record)
        except Exception:  # a record that cannot be formatted would fail the server's handler too: keep its parts
            text, as_json = str(record.msg), repr(record.args)
        self.scan.records += 1
        self.scan.line(text)
        self.scan.line(as_json)


SCAN = LogScan()
