"""The SSRF guard for requests this server sends: which addresses, URLs and redirects are refused."""

from __future__ import annotations

import ipaddress

import pytest

from tests.stubs import HttpStub
from zipshort.outbound import DestinationRefused, FetchFailed, address_allowed, fetch

REFUSED = ["10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "127.1.2.3", "0.0.0.0", "169.254.169.254",
           "100.64.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
           "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
           "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1",
           "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe"]  # Teredo whose client is 127.0.0.1
ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED)
def test_address_that_is_not_public_is_refused(address):
    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_address_is_allowed(address):
    assert address_allowed(ipaddress.ip_address(address))


def test_allowed_networks_open_exactly_those_networks():
    allow = ["10.0.0.0/8", "fd00::/8"]
    assert address_allowed(ipaddress.ip_address("10.1.2.3"), allow)
    assert address_allowed(ipaddress.ip_address("::ffff:10.1.2.3"), allow)
    assert address_allowed(ipaddress.ip_address("fd00::5"), allow)
    assert not address_allowed(ipaddress.ip_address("192.168.1.1"), allow)
    assert not address_allowed(ipaddress.ip_address("127.0.0.1"), allow)


@pytest.fixture
def stub():
    server = HttpStub("127.0.0.1")
    server.routes["/hello"] = (200, {}, b"hello")
    yield server
    server.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/hello", "http://localhost:{port}/hello",
                                 "http://[::ffff:127.0.0.1]:{port}/hello", "http://[::1]:{port}/hello",
                                 "http://0.0.0.0:{port}/hello", "http://2130706433:{port}/hello",
                                 "http://169.254.169.254/latest/meta-data/"])
def test_fetch_of_a_loopback_private_or_metadata_address_is_refused(stub, url):
    with pytest.raises(DestinationRefused):
        fetch(url.format(port=stub.port), timeout=2)
    assert stub.hosts == []  # nothing reached the server


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO",
                                 "http://user:pw@example.com/", "http:///nohost", "http://[::1/"])
def test_fetch_of_a_url_that_is_not_plain_http_is_refused(url):
    with pytest.raises(DestinationRefused):
        fetch(url, timeout=2)


def test_fetch_reaches_an_allowed_network_and_sends_the_name(stub):
    got = fetch(f"{stub.url}/hello", allowed_networks=["127.0.0.0/8"], timeout=2)
    assert (got.status, got.body) == (200, b"hello") and stub.hosts == [f"127.0.0.1:{stub.port}"]


def test_fetch_checks_every_redirect_hop():
    allowed = HttpStub("127.0.0.2")  # the only address the operator allows
    inner = HttpStub("127.0.0.1")
    inner.routes["/secret"] = (200, {}, b"internal")
    allowed.routes["/go"] = (302, {"Location": f"{inner.url}/secret"}, b"")
    allowed.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    try:
        with pytest.raises(DestinationRefused):
            fetch(f"{allowed.url}/go", allowed_networks=["127.0.0.2/32"], timeout=2)
        assert inner.hosts == []
        with pytest.raises(FetchFailed, match="redirects"):
            fetch(f"{allowed.url}/loop", allowed_networks=["127.0.0.2/32"], timeout=2, max_redirects=3)
        assert len(allowed.hosts) == 1 + 4
        got = fetch(f"{allowed.url}/go", allowed_networks=["127.0.0.0/8"], timeout=2)
        assert got.body == b"internal" and got.url == f"{inner.url}/secret"
    finally:
        allowed.close()
        inner.close()


def test_fetch_of_a_closed_port_fails_cleanly(stub):
    stub.close()
    with pytest.raises(FetchFailed):
        fetch(f"{stub.url}/hello", allowed_networks=["127.0.0.0/8"], timeout=2)


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_server_dribbling_its_answer_is_cut_off_at_the_deadline(stage):
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def dribble() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        answer = b"HTTP/1.1 200 OK\r\n" if stage == "headers" else b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n"
        conn.sendall(answer)
        while not stop.wait(0.3):  # one byte every 0.3 s: each read succeeds, the whole never ends
            try:
                conn.sendall(b"X-A: b\r\n"[:1] if stage == "headers" else b"x")
            except OSError:
                break
        conn.close()

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchFailed, match="timed out"):
            fetch(f"http://127.0.0.1:{port}/", allowed_networks=["127.0.0.0/8"], timeout=1.0)
        assert time.monotonic() - started < 3
    finally:
        stop.set()
        listener.close()
