"""Hostile requests against the real server: huge headers, traversal and odd paths, smuggling."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import fetch


def raw_request(url: str, payload: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


def test_huge_headers_are_refused_and_the_server_keeps_serving(live_server, make_link, user):
    make_link(user, vanity="alive")
    payload = b"GET /go/alive HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * (300 * 1024) + b"\r\nConnection: close\r\n\r\n"
    answer = raw_request(live_server.url, payload)
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 431 Request Header Fields Too Large",
                                           b"HTTP/1.0 431 Request Header Fields Too Large",
                                           b"HTTP/1.1 400 Bad Request", b"HTTP/1.0 400 Bad Request")
    assert fetch("GET", f"{live_server.url}/go/alive").status_code == 302


@pytest.mark.parametrize("path", ["/go/..%2F..%2Fetc%2Fpasswd", "/go/%2e%2e/secret", "/go/..%5C..%5Cx",
                                  "/go/a%00b", "/go/" + "a" * 8000, "/go/", "/go"])
def test_odd_link_paths_are_not_found(live_server, path):
    answer = raw_request(live_server.url, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404, 414) and b"root:" not in answer


def test_smuggled_second_request_is_not_executed(live_server, make_link, user, make_key):
    key = make_key(user)
    smuggled = (f"POST /api/user/urls HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 45\r\n\r\n"
                '{"destination":"https://e.com/","vanity":"zz"}')
    payload = (f"POST /api/healthcheck HTTP/1.1\r\nHost: x\r\nContent-Length: {len(smuggled)}\r\n"
               f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n{smuggled}").encode()
    raw_request(live_server.url, payload)
    assert fetch("GET", f"{live_server.url}/go/zz").status_code == 404
