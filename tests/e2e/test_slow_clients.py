"""Slow clients cannot lock everyone else out: with 300 connections each dribbling a request body into the
real server, a health check and a redirect still answer within 2 seconds."""

from __future__ import annotations

import os
import socket
import threading
import time

import requests

from tests.cli.test_cli import start_server, stop

SLOW = 300


def _dribblers(url: str, stop_event: threading.Event) -> tuple[list[socket.socket], threading.Thread]:
    """Open SLOW connections that announce a 1 MB upload and then send one byte at a time."""
    host, port = url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(SLOW):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(f"POST /api/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: 1000000\r\n\r\nx".encode())
        sockets.append(sock)

    def dribble() -> None:
        while not stop_event.wait(0.5):
            for sock in sockets:
                try:
                    sock.send(b"x")
                except OSError:
                    pass

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    return sockets, thread


def _sockets_held(pid: int) -> int:
    """How many sockets process ``pid`` holds open (Linux: its /proc fd table)."""
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile
            pass
    return held


def _wait_until_accepted(pid: int, before: int) -> None:
    """Wait until the server has accepted every slow connection (each one is a socket it holds)."""
    deadline = time.monotonic() + 30
    while _sockets_held(pid) < before + SLOW:
        assert time.monotonic() < deadline, f"the server accepted {_sockets_held(pid) - before} of {SLOW}"
        time.sleep(0.05)  # polling the fd table


def _timed(method: str, url: str, **kwargs) -> tuple[int, float]:
    started = time.monotonic()
    res = requests.request(method, url, timeout=10, allow_redirects=False, **kwargs)
    return res.status_code, time.monotonic() - started


def test_health_check_and_redirect_answer_while_300_clients_dribble(tmp_path):
    proc, url = start_server(tmp_path, {"ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "pw-123456"})
    stop_event = threading.Event()
    sockets: list[socket.socket] = []
    try:
        session = requests.Session()
        session.post(url + "/api/auth/login", json={"username": "admin", "password": "pw-123456"}, timeout=10)
        token = session.get(url + "/api/user/token", timeout=10).json()["token"]
        made = requests.post(url + "/api/user/urls", headers={"Authorization": token}, timeout=10,
                             json={"destination": "https://example.com/", "vanity": "still-up"})
        assert made.status_code == 200
        before = _sockets_held(proc.pid)
        sockets, thread = _dribblers(url, stop_event)
        _wait_until_accepted(proc.pid, before)  # every slow connection is accepted and mid-body
        for _ in range(3):
            status, took = _timed("GET", url + "/api/healthcheck")
            assert status == 200 and took < 2, (status, took)
            status, took = _timed("GET", url + "/go/still-up")
            assert status == 302 and took < 2, (status, took)
    finally:
        stop_event.set()
        for sock in sockets:
            sock.close()
        stop(proc)
