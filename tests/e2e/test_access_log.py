"""The access log through a real server: one line per request, text and JSON, the request's id on every line
of the request (its access line included), the user when known, and never a secret that was sent."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from tests.conftest import fetch
from zipshort.eventlog import configure_logging

PASSWORD = "access-log-password-1"
LINK_PASSWORD = "link-password-sekrit"


@pytest.fixture
def overrides(request):
    return {"logging": {"access": True, "format": getattr(request, "param", "text")}}


@pytest.fixture
def log_output(settings):
    """What the server process's log handler writes (``configure_logging``, as `zipshort serve` sets it up)."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(settings, stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "zipshort.access" in line]


def _exercise(url: str, key: str, make_link, user) -> dict[str, object]:
    """A redirect, a missing code, a password page, a key call with a secret query, a login; the responses."""
    make_link(user, vanity="here")
    make_link(user, vanity="locked", password=LINK_PASSWORD)
    seen: dict[str, object] = {}
    seen["redirect"] = fetch("GET", url + "/go/here?utm_source=mail&token=query-secret-value")
    seen["missing"] = fetch("GET", url + "/go/nope")
    seen["locked"] = fetch("GET", url + "/go/locked")
    seen["keyed"] = fetch("GET", url + "/api/user/urls", headers={"Authorization": key})
    seen["shlink"] = fetch("GET", url + f"/rest/v3/short-urls/shorten?apiKey={key}&longUrl=https://example.com/")
    seen["login"] = fetch("POST", url + "/api/auth/login", json={"username": user.username, "password": PASSWORD})
    cookie = seen["login"].cookies.get("zipshort_session")  # type: ignore[attr-defined]
    seen["session"] = fetch("GET", url + "/api/user", cookies={"zipshort_session": cookie})
    seen["cookie"] = cookie
    return seen


def test_one_text_line_per_request_with_its_id_route_user_and_no_secret(live_server, log_output, make_user,
                                                                          make_key, make_link):
    user = make_user("reader", password=PASSWORD)
    key = make_key(user)
    seen = _exercise(live_server.url, key, make_link, user)
    text = log_output.getvalue()
    lines = access_lines(text)
    assert len(lines) == 7, text
    by_route = {}
    for line in lines:
        match = re.search(r"zipshort\.access \[([^\]]+)\] (\S+) (\S+) (\d{3}) ([\d.]+)ms (\d+B|-) user=(\S+)(.*)", line)
        assert match, line
        by_route.setdefault((match.group(2), match.group(3), match.group(4)), []).append(match)
    redirect, = by_route[("GET", "/go/<code>", "302")]
    assert redirect.group(1) == seen["redirect"].headers["X-Request-ID"]  # type: ignore[attr-defined]
    assert redirect.group(7) == "-" and "query=token,utm_source" in redirect.group(8)
    missing, = by_route[("GET", "/go/<code>", "404")]
    assert "error=not_found" in missing.group(8)
    locked, = by_route[("GET", "/go/<code>", "200")]
    assert "error=password_required" in locked.group(8)
    keyed, = by_route[("GET", "/api/user/urls", "200")]
    assert keyed.group(7) == user.id and keyed.group(1) == seen["keyed"].headers["X-Request-ID"]  # type: ignore
    shlink, = by_route[("GET", "/rest/v3/short-urls/shorten", "200")]
    assert shlink.group(7) == user.id and "query=apiKey,longUrl" in shlink.group(8)
    session, = by_route[("GET", "/api/user", "200")]
    assert session.group(7) == user.id
    for secret in (PASSWORD, LINK_PASSWORD, key, seen["cookie"], "query-secret-value"):
        assert secret and secret not in text, f"a secret reached the log: {str(secret)[:4]}…"
    # every line of a request carries its id: the login's event line and its access line
    login_id = seen["login"].headers["X-Request-ID"]  # type: ignore[attr-defined]
    login_lines = [line for line in text.splitlines() if f"[{login_id}]" in line]
    assert any("login.succeeded" in line for line in login_lines)
    assert any("zipshort.access" in line and "/api/auth/login" in line for line in login_lines)


@pytest.mark.parametrize("overrides", ["json"], indirect=True)
def test_json_lines_have_the_fields_and_the_request_id(live_server, log_output, make_user, make_key, make_link):
    user = make_user("reader", password=PASSWORD)
    key = make_key(user)
    seen = _exercise(live_server.url, key, make_link, user)
    text = log_output.getvalue()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "zipshort.access"]
    assert len(access) == 7
    for record in access:
        assert {"time", "level", "message", "request_id", "method", "route", "status", "duration_ms", "bytes",
                "user_id", "query_keys", "error"} <= record.keys()
        assert record["request_id"] != "-" and record["duration_ms"] >= 0
    [redirect] = [r for r in access if r["status"] == 302]
    assert redirect["route"] == "/go/<code>" and redirect["query_keys"] == ["token", "utm_source"]
    assert redirect["request_id"] == seen["redirect"].headers["X-Request-ID"]  # type: ignore[attr-defined]
    assert redirect["bytes"] == 0 and redirect["user_id"] is None and redirect["error"] is None
    [keyed] = [r for r in access if r["route"] == "/api/user/urls"]
    assert keyed["user_id"] == user.id and keyed["method"] == "GET"
    for secret in (PASSWORD, LINK_PASSWORD, key, seen["cookie"], "query-secret-value"):
        assert secret and secret not in text


@pytest.mark.parametrize("overrides", [{"core": {"trust_proxy": 1}, "logging": {"access": True}}])
def test_a_trusted_proxys_request_id_is_kept_on_the_access_line(live_server, log_output, make_user, make_link):
    make_link(make_user(), vanity="prox")
    res = fetch("GET", live_server.url + "/go/prox", headers={"X-Request-ID": "edge-1234.abc"})
    assert res.headers["X-Request-ID"] == "edge-1234.abc"
    [line] = access_lines(log_output.getvalue())
    assert "[edge-1234.abc] GET /go/<code> 302" in line


@pytest.mark.parametrize("overrides", [{"logging": {"access": False}}])
def test_off_means_no_line_and_no_id_on_a_plain_redirect(live_server, log_output, make_user, make_link):
    make_link(make_user(), vanity="quiet")
    res = fetch("GET", live_server.url + "/go/quiet")
    assert res.status_code == 302 and "X-Request-ID" not in res.headers
    assert access_lines(log_output.getvalue()) == []


def test_query_names_are_shown_safely_and_a_nul_never_breaks_the_line(live_server, log_output):
    query = "tags%5B%5D=a%00b&a%0Ab=1&%E2%9C%93=2&apiKey=nul-key-value"
    res = fetch("GET", live_server.url + "/rest/v3/short-urls?" + query)
    assert res.status_code in (400, 401)
    [line] = access_lines(log_output.getvalue())
    assert "query=?,a?b,apiKey,tags[]" in line and "nul-key-value" not in line and "\n" not in line.strip()


def test_a_line_logged_before_the_request_had_an_id_makes_the_one_its_answer_and_access_line_carry(
        app, live_server, log_output):
    from flask import Blueprint

    from zipshort.auth import public_route

    bp = Blueprint("early", __name__)

    @bp.get("/early-line")
    @public_route("a test route")
    def early():
        logging.getLogger("zipshort.test").warning("something worth a line")
        return "ok"

    app.register_blueprint(bp)
    res = fetch("GET", live_server.url + "/early-line")
    rid = res.headers["X-Request-ID"]
    lines = log_output.getvalue().splitlines()
    assert any(f"[{rid}]" in line and "something worth a line" in line for line in lines)
    assert any(f"[{rid}]" in line and "zipshort.access" in line for line in lines)


@pytest.mark.parametrize("overrides", [{"logging": {"access": True, "level": "DEBUG"}}])
def test_with_the_access_log_a_visit_line_carries_the_redirects_id(live_server, log_output, rt, make_user,
                                                                   make_link):
    make_link(make_user(), vanity="seen")
    res = fetch("GET", live_server.url + "/go/seen")
    assert rt.events.drain(10)
    rid = res.headers["X-Request-ID"]
    lines = [line for line in log_output.getvalue().splitlines() if f"[{rid}]" in line]
    assert any("link.visited" in line for line in lines) and any("zipshort.access" in line for line in lines)
