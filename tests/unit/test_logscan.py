"""The run's log secret scan (tests/logscan.py) cannot pass by seeing nothing: it is attached for the session,
records what requests send, and finds a planted secret in a text line and in a JSON-only field."""

from __future__ import annotations

import logging

from tests.logscan import SCAN, LogScan

PLANTED = "planted-secret-value-0001"


def scan_with_handler() -> tuple[LogScan, logging.Logger]:
    scan = LogScan()
    logger = logging.getLogger("zipshort.test-logscan")
    logger.addHandler(scan.handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the session's own scan must not see the planted secret
    return scan, logger


def test_a_planted_secret_is_found_in_a_message():
    scan, logger = scan_with_handler()
    try:
        scan.secret(PLANTED)
        logger.info("login failed password=%s", PLANTED)
        logger.info("nothing to see")
    finally:
        logger.removeHandler(scan.handler)
    assert scan.records == 2 and scan.lines == 4  # each record in text and JSON
    leaks = scan.leaks()
    assert leaks and {secret for secret, _ in leaks} == {PLANTED}
    assert all(PLANTED not in line and "<secret>" in line for _, line in leaks)


def test_a_secret_only_in_an_extra_field_is_found_through_the_json_form():
    scan, logger = scan_with_handler()
    try:
        scan.secret(PLANTED)
        logger.info("link.created", extra={"fields": {"destination": f"https://x.example/?t={PLANTED}"}})
    finally:
        logger.removeHandler(scan.handler)
    assert len(scan.leaks()) == 1


def test_a_secret_recorded_after_the_line_is_still_found_and_short_ones_are_ignored():
    scan, logger = scan_with_handler()
    try:
        logger.info("key %s and pin 1234567", PLANTED)
    finally:
        logger.removeHandler(scan.handler)
    scan.secret("1234567")  # under MIN_LENGTH: a pin, a code, a word; ignored
    assert scan.leaks() == []
    scan.secret(PLANTED)
    assert len(scan.leaks()) == 2  # in the text line and in the JSON one


def test_request_secrets_are_recorded_by_name():
    scan = LogScan()
    scan.header("Authorization", "Bearer bearer-credential-1")
    scan.header("x-api-key", "x-api-key-credential")
    scan.header("Cookie", "zipshort_session=cookie-secret-value; short=abc")
    scan.header("X-Zipline-Password", "upload-password-1")
    scan.header("User-Agent", "not-a-secret-agent/1.0")
    scan.fields({"username": "alice-the-user", "password": "form-password-1",
                 "nested": {"apiKey": "nested-api-key-1", "key_name": "a key's name"}, "key": "plain-key-value"})
    scan.query("apiKey=query-api-key-1&q=searching")
    assert scan.secrets == {"Bearer bearer-credential-1", "bearer-credential-1", "x-api-key-credential",
                            "cookie-secret-value", "upload-password-1", "form-password-1", "nested-api-key-1",
                            "plain-key-value", "query-api-key-1"}


def test_the_session_scan_is_attached_and_sees_this_run(api, make_key, user):
    assert SCAN.handler in logging.getLogger().handlers
    lines = SCAN.lines
    key = make_key(user, name="scan-check")
    assert api.get("/api/user/urls").status_code == 200
    assert key in SCAN.secrets and api.key in SCAN.secrets and "correct horse" in SCAN.secrets
    assert SCAN.lines > lines  # key.created reached the capture (a record a server would write)


pytest_plugins = ["pytester"]


def test_a_run_that_logs_a_secret_it_sent_fails(pytester, monkeypatch):
    """The whole plugin in a run of its own (a subprocess, so this run's scan stays clean): the tests pass, the
    run fails, and the summary names the leak."""
    from pathlib import Path

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    pytester.makepyfile(test_leaky='''
import logging

from tests.logscan import SCAN


def test_leaky():
    SCAN.secret("leaked-secret-value-42")
    logging.getLogger("zipshort.leaky").info("oops leaked-secret-value-42")


def test_fine():
    logging.getLogger("zipshort.fine").info("nothing secret here")
''')
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["log secret scan: 2 log records*1 secrets*",
                                 "log secret scan FAILED: a secret sent by the tests (leak…, 22 characters)*<secret>*"])
