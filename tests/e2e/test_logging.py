"""A real server's log lines: one per state change, JSON when asked, with request ids, and never a secret.

The server is driven through every kind of request (``exercise``: logins, each dialect, uploads, password
links, pages, a failed login), with secrets that are easy to find in its output if any leaked.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.cli.test_cli import TEST_SECRET, start_server, stop
from tests.e2e.test_transactions import ADMIN, exercise

pytestmark = pytest.mark.slow

# `serve`'s own messages on stdout, which this test reads together with the log on stderr.
CONSOLE = ("zipshort listening on", "Created the first administrator", "database ", "Migrat")

# What ``exercise`` and this test send that must never appear in a log line.
SECRETS = ["pw-123456", "secret-1", TEST_SECRET, "hunter2-but-longer"]


def test_json_log_lines_name_each_change_carry_request_ids_and_no_secret(tmp_path):
    proc, url = start_server(tmp_path, {**ADMIN, "ZIPSHORT_LOGGING_FORMAT": "json"})
    try:
        exercise(url)
        session = requests.Session()
        session.post(url + "/api/auth/login", json={"username": "admin", "password": "pw-123456"}, timeout=10)
        token = session.get(url + "/api/user/token", timeout=10).json()["token"]
        cookie = session.cookies.get("zipshort_session")
        made = session.post(url + "/api/user/keys", json={"name": "ci", "scopes": ["links:read"]}, timeout=10)
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        bad = requests.post(url + "/api/auth/login", json={"username": "admin", "password": "hunter2-but-longer"},
                            timeout=10)
        assert bad.status_code == 401
        failed_request_id = bad.headers["X-Request-ID"]
    finally:
        output = stop(proc)
    secrets = [*SECRETS, token, cookie, key]
    lines = [line for line in output.splitlines() if line.strip()]
    records = []
    for line in lines:
        if line.startswith(CONSOLE):
            continue  # what `serve` tells the person who started it (stdout), not log lines
        records.append(json.loads(line))  # every log line is one JSON object
    for secret in filter(None, secrets):
        assert secret not in output, f"a secret reached the log: {secret[:4]}…"
    assert not re.search(r"\$argon2", output)
    events = [r for r in records if r.get("event")]
    names = {r["event"] for r in events}
    assert {"user.created", "login.succeeded", "login.failed", "link.created", "file.uploaded",
            "key.created"} <= names, names
    created = [r for r in events if r["event"] == "link.created"]
    assert all(r["fields"]["code"] for r in created) and all(r["request_id"] != "-" for r in created)
    [failed] = [r for r in events if r["event"] == "login.failed" and r["request_id"] == failed_request_id]
    assert failed["fields"]["username"] == "admin" and failed["level"] == "WARNING"
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= record.keys()
