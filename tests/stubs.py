"""Tiny HTTP servers on a loopback address for tests of requests the server sends out: ``HttpStub`` answers GETs
from a table, ``Receiver`` is a webhook receiver that records every request."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class _ThreadingHTTPServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Served:
    """A ``ThreadingHTTPServer`` with ``handler`` on ``address`` (IPv4 or IPv6) and a free port, served by a daemon
    thread."""

    def _serve(self, address: str, handler: type[BaseHTTPRequestHandler]) -> None:
        v6 = ":" in address
        self.server = (_ThreadingHTTPServerV6 if v6 else ThreadingHTTPServer)((address, 0), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{f'[{address}]' if v6 else address}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HttpStub(_Served):
    """Answers ``routes[path] = (status, headers, body)``; 404 otherwise. Records each request's Host."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hosts: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                stub.hosts.append(self.headers.get("Host", ""))
                status, headers, body = stub.routes.get(self.path, (404, {}, b"not here"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._serve(address, Handler)


class Received(NamedTuple):
    """One request the receiver got: its path (with the query), its headers (names lower-cased), its body."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(_Served):
    """A webhook receiver: records every POST and GET in ``received`` (in arrival order) and answers with the
    next of ``answers`` (a status, or a ``(status, headers)`` pair: a redirect's Location), then ``default``,
    with the body ``ok``."""

    def __init__(self, default: int = 200, address: str = "127.0.0.1") -> None:
        self.received: list[Received] = []
        self.answers: list[int | tuple[int, dict[str, str]]] = []
        self.default = default
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body))
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver._arrived.notify_all()
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET = _handle  # noqa: N815 - http.server's naming

            def log_message(self, *args) -> None:
                pass

        self._serve(address, Handler)

    def at(self, path: str | None = None) -> list[Received]:
        """The requests to ``path`` so far (every request without one)."""
        with self._arrived:
            return [r for r in self.received if path is None or r.path == path]

    def wait(self, count: int = 1, path: str | None = None, timeout: float = 20.0) -> list[Received]:
        """The requests (to ``path`` if given) once there are at least ``count``; fails after ``timeout`` s."""
        with self._arrived:
            if self._arrived.wait_for(lambda: len(self.at(path)) >= count, timeout):
                return self.at(path)
        raise AssertionError(f"{path or 'the receiver'}: {len(self.at(path))} requests after {timeout} s, "
                             f"expected {count}")
