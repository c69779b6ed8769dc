"""Two real `zipshort serve` processes sharing one metrics.multiprocess_dir: a scrape of either is the sum of
both; a process that stops keeps its counts in the sum; a whole restart starts from zero."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.cli.test_cli import launch_server, stop, wait_ready
from tests.conftest import fetch

TOKEN = "two-process-token-" + "p" * 20


def _env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "ZIPSHORT_METRICS_ENABLED": "true",
            "ZIPSHORT_METRICS_TOKEN": TOKEN, "ZIPSHORT_METRICS_MULTIPROCESS_DIR": str(tmp_path / "prom"),
            "ZIPSHORT_METRICS_SAMPLE_SECONDS": "0.5"}


def _start(tmp_path: Path, name: str):
    return wait_ready(*launch_server(tmp_path / name, _env(tmp_path)))


def misses(url: str) -> float:
    """How many GETs of the link route the scrape of ``url`` says ended in a 404."""
    res = fetch("GET", url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200, res.text
    for family in text_string_to_metric_families(res.text):
        for sample in family.samples:
            if sample.name == "zipshort_http_requests_total" and sample.labels == {
                    "route": "/go/<code>", "method": "GET", "status": "404"}:
                return sample.value
    return 0.0


def test_two_processes_sum_their_counters(tmp_path):
    a, url_a = _start(tmp_path, "a")  # first, alone: it migrates the shared database
    b, url_b = _start(tmp_path, "b")
    try:
        for _ in range(3):
            assert fetch("GET", url_a + "/go/none-here").status_code == 404
        for _ in range(5):
            assert fetch("GET", url_b + "/go/none-here").status_code == 404
        assert misses(url_a) == misses(url_b) == 8  # each scrape sums both processes
        stop(b)
        assert misses(url_a) == 8  # a stopped process's counts stay in the sum (counters never drop)
        c, url_c = _start(tmp_path, "c")  # a start beside a live process keeps the directory
        try:
            assert fetch("GET", url_c + "/go/none-here").status_code == 404
            assert misses(url_c) == misses(url_a) == 9
        finally:
            stop(c)
    finally:
        if a.returncode is None:
            stop(a)
    assert not any(name.startswith("gauge_live") and name.endswith(f"_{b.pid}.db")
                   for name in os.listdir(tmp_path / "prom"))  # the stopped process's live gauges left
    d, url_d = _start(tmp_path, "d")  # nobody alive used the directory: a fresh start counts from zero
    try:
        assert misses(url_d) == 0
    finally:
        stop(d)
