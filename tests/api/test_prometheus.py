"""GET /metrics through a real server on both databases: parsed with prometheus_client's own parser, every
metric of issue 14 present and counting what was done; who may scrape; bad input never a 5xx."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import fetch
from zipshort.config import ConfigError, load_settings
from zipshort.telemetry import record_webhook_delivery

TOKEN = "scrape-token-" + "s" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def overrides():
    return {"metrics": {"enabled": True, "token": TOKEN}}


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    res = fetch("GET", url + "/metrics", headers=headers or AUTH)
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(res.text) for s in family.samples}


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_scrape_counts_requests_redirects_uploads_views_events_and_reads_the_inventory(
        live_server, rt, user, make_key, make_link):
    key = make_key(user)
    make_link(user, vanity="plain")
    make_link(user, vanity="locked", password="open-sesame-1")
    make_link(user, vanity="over", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1), past_expiry=True)
    url = live_server.url
    statuses = [fetch("GET", f"{url}/go/{code}").status_code for code in ("plain", "plain", "locked", "nope", "over")]
    assert statuses == [302, 302, 200, 404, 404]
    up = fetch("POST", url + "/api/upload", headers={"Authorization": key},
               files={"file": ("a.txt", b"hello metrics", "text/plain")})
    assert up.status_code == 200, up.text
    name = up.json()["files"][0]["url"].rsplit("/", 1)[1]
    assert fetch("GET", f"{url}/u/{name}").status_code == 200
    v3 = fetch("POST", url + "/api/upload", headers={"Authorization": key, "Format": "random"},
               files={"file": ("b.txt", b"v3!", "text/plain")})
    assert v3.status_code == 200, v3.text
    fetch("GET", url + "/some/raw/path-never-a-label?x=1")
    record_webhook_delivery(rt.telemetry, "delivered")
    record_webhook_delivery(None, "delivered")  # metrics off: nothing to count, nothing raised

    samples = scrape(url)

    assert value(samples, "zipshort_http_requests_total", route="/go/<code>", method="GET", status="302") == 2
    assert value(samples, "zipshort_http_requests_total", route="/go/<code>", method="GET", status="404") == 2
    assert value(samples, "zipshort_http_requests_total", route="<unmatched>", method="GET", status="404") == 1
    assert value(samples, "zipshort_http_request_duration_seconds_count", route="/go/<code>") == 5
    assert value(samples, "zipshort_http_request_duration_seconds_bucket", route="/go/<code>", le="+Inf") == 5
    assert value(samples, "zipshort_http_request_duration_seconds_sum", route="/go/<code>") > 0
    assert not any("raw/path" in str(labels) or "plain" in str(labels) for _, labels in samples)  # rules, not paths
    assert {outcome: value(samples, "zipshort_redirects_total", outcome=outcome)
            for outcome in ("redirected", "password", "not_found", "gone")} == {
        "redirected": 2, "password": 1, "not_found": 1, "gone": 1}
    assert value(samples, "zipshort_uploads_total", dialect="zipline") == 1
    assert value(samples, "zipshort_uploads_total", dialect="zipline-v3") == 1
    assert value(samples, "zipshort_upload_bytes_total") == len(b"hello metrics") + len(b"v3!")
    assert value(samples, "zipshort_file_views_total") == 1
    assert value(samples, "zipshort_events_total", type="link.created") == 3
    assert value(samples, "zipshort_events_total", type="file.uploaded") == 2
    assert value(samples, "zipshort_events_total", type="link.visited") == 2  # analytics on: visits are built
    assert value(samples, "zipshort_webhook_deliveries_total", outcome="delivered") == 1
    assert value(samples, "zipshort_links") == 3
    assert value(samples, "zipshort_files") == 2
    assert value(samples, "zipshort_storage_bytes") == len(b"hello metrics") + len(b"v3!")
    assert value(samples, "zipshort_users") == 1
    assert ("zipshort_visits_queued", ()) in samples and ("zipshort_visits_dropped_total", ()) in samples
    assert value(samples, "zipshort_visits_paced_total") == 0 and value(samples, "zipshort_visits_waited_total") == 0
    assert ("zipshort_db_pool_in_use", ()) in samples
    assert value(samples, "process_cpu_seconds_total") > 0  # the process collector
    assert not any(name.endswith("_created") for name, _ in samples)
    # the scrape itself is counted on the next one
    assert value(scrape(url), "zipshort_http_requests_total", route="/metrics", method="GET", status="200") == 1


def test_dropped_visits_are_counted_and_queued_ones_shown(live_server, rt, user, make_link):
    make_link(user, vanity="busy")
    for _ in range(rt.visits.capacity + 3):
        rt.visits.offer(object())  # the writer thread is not running in tests: the queue fills
    assert fetch("GET", live_server.url + "/go/busy").status_code == 302
    samples = scrape(live_server.url)
    assert value(samples, "zipshort_visits_queued") == rt.visits.capacity
    assert value(samples, "zipshort_visits_dropped_total") == 4  # 3 offered above + the redirect's own visit
    assert value(scrape(live_server.url), "zipshort_visits_dropped_total") == 4  # counted once


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong-token-of-good-length"}, 401),
    ({"Authorization": f"Token {TOKEN}"}, 401),
    ({"Authorization": TOKEN}, 401),
    ({"Authorization": f"Bearer {TOKEN}x"}, 401),
    ({"Authorization": "Bearer " + "é" * 5000}, 401),
    ({"Authorization": "Bearer"}, 401),
    ({"x-api-key": TOKEN}, 401),
    ({"Authorization": f"bearer   {TOKEN} "}, 200),
])
def test_the_token_is_required(live_server, headers, status):
    res = fetch("GET", live_server.url + "/metrics", headers=headers)
    assert res.status_code == status, res.text
    if status == 401:
        assert res.json()["code"] == "metrics_refused" and "zipshort_" not in res.text


def test_other_methods_are_refused_and_labelled_as_such(live_server):
    assert fetch("POST", live_server.url + "/metrics", headers=AUTH).status_code == 405
    assert fetch("BREW", live_server.url + "/go/abc").status_code == 405
    samples = scrape(live_server.url)
    assert value(samples, "zipshort_http_requests_total", route="<unmatched>", method="other", status="405") == 1
    assert not any("BREW" in str(labels) for _, labels in samples)


@pytest.mark.parametrize("overrides, headers, status", [
    ({"metrics": {"enabled": True, "allow": ["10.0.0.0/8"], "token": TOKEN}}, AUTH, 403),  # both must pass
    ({"metrics": {"enabled": True, "allow": ["10.0.0.0/8", "::1/128"]}}, {}, 403),
    ({"metrics": {"enabled": True, "allow": ["127.0.0.0/8"]}}, {}, 200),
    ({"metrics": {"enabled": True, "allow": ["127.0.0.1/32"], "token": TOKEN}}, {}, 401),
    ({"metrics": {"enabled": True, "allow": ["127.0.0.1"], "token": TOKEN}}, AUTH, 200),
    ({}, AUTH, 404),  # off by default: no such page
])
def test_the_allow_list_and_the_switch(live_server, overrides, headers, status):
    assert fetch("GET", live_server.url + "/metrics", headers=headers).status_code == status


def test_openmetrics_when_the_scraper_asks_for_it(live_server):
    res = fetch("GET", live_server.url + "/metrics",
                headers={**AUTH, "Accept": "application/openmetrics-text; version=1.0.0"})
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("application/openmetrics-text")
    assert res.text.rstrip().endswith("# EOF")


def test_the_inventory_is_left_out_when_the_database_cannot_answer(app, live_server):
    import sqlalchemy as sa

    from zipshort.extensions import db

    with db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE users RENAME TO users_away"))
    try:
        samples = scrape(live_server.url)
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE users_away RENAME TO users"))
    names = {name for name, _ in samples}
    assert not names & {"zipshort_links", "zipshort_files", "zipshort_storage_bytes", "zipshort_users"}
    assert {"zipshort_redirects_total", "zipshort_visits_queued", "process_cpu_seconds_total"} <= names


@pytest.mark.parametrize("metrics, message", [
    ({"enabled": True}, "metrics.enabled"),
    ({"token": "short"}, "metrics.token"),
    ({"token": "has a space in it!!"}, "metrics.token"),
    ({"allow": ["not-a-network"]}, "metrics.allow"),
    ({"allow": ["10.0.0.0/33"]}, "metrics.allow"),
    ({"sample_seconds": 0}, "metrics.sample_seconds"),
])
def test_bad_settings_name_their_key(tmp_path, metrics, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"core": {"secret": "y" * 40}, "metrics": metrics}, environ={}, instance_path=tmp_path)
