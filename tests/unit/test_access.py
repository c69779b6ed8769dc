"""access.record_answer outside Flask (what a WSGI layer answering below Flask's dispatch calls): the same
counts and access line as the after-request hook."""

from __future__ import annotations

import logging

from zipshort.access import record_answer
from zipshort.config import load_settings
from zipshort.events import begin_request, current_request_id
from zipshort.telemetry import Telemetry


def test_a_request_answered_below_flask_is_counted_and_logged(tmp_path, caplog):
    import contextvars

    contextvars.Context().run(_answered_below_flask, tmp_path, caplog)  # its request scope ends with it


def _answered_below_flask(tmp_path, caplog):
    settings = load_settings({"core": {"secret": "z" * 40}, "metrics": {"enabled": True, "token": "t" * 20}},
                             environ={}, instance_path=tmp_path)
    telemetry = Telemetry(settings)
    begin_request(None)
    with caplog.at_level(logging.INFO, logger="zipshort.access"):
        rid = record_answer(telemetry, True, "/go/<code>", "GET", 302, 0.0004, lambda: 0, b"utm_source=x&apiKey=s3cr3t",
                            outcome="redirected")
    assert rid and rid == current_request_id()
    [record] = [r for r in caplog.records if r.name == "zipshort.access"]
    assert record.getMessage() == "GET /go/<code> 302 0.40ms 0B user=- query=apiKey,utm_source"
    assert "s3cr3t" not in caplog.text
    body, _ = telemetry.exposition()
    text = body.decode()
    assert 'zipshort_http_requests_total{method="GET",route="/go/<code>",status="302"} 1.0' in text
    assert 'zipshort_redirects_total{outcome="redirected"} 1.0' in text
    assert record_answer(telemetry, False, "/go/<code>", "BREW", 405, 0.001, lambda: None, b"") is None  # no line
    assert 'method="other"' in telemetry.exposition()[0].decode()
