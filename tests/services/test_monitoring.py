"""services/monitoring.py: who may scrape, the instance's counts from the users' counters, sampled gauges."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from zipshort.errors import Forbidden, NotFound, Unauthorized
from zipshort.services import monitoring

TOKEN = "t" * 32


@pytest.fixture
def overrides():
    return {"metrics": {"enabled": True, "token": TOKEN, "allow": ["192.0.2.0/24"]}}


def samples(body: bytes) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(body.decode()) for s in f.samples if not s.labels}


def test_counts_come_from_the_owners_counters(rt, make_user, make_link, make_file):
    alice, bob = make_user(), make_user()
    make_link(alice)
    make_link(bob)
    make_file(alice, b"12345")
    body, content_type = monitoring.scrape(rt, f"Bearer {TOKEN}", "192.0.2.7")
    assert content_type.startswith("text/plain")
    got = samples(body)
    assert (got["zipshort_links"], got["zipshort_files"], got["zipshort_storage_bytes"], got["zipshort_users"]) == (
        2, 1, 5, 2)


@pytest.mark.parametrize("authorization, address, error", [
    (None, "192.0.2.7", Unauthorized),
    (f"Bearer {TOKEN}", "198.51.100.1", Forbidden),
    (f"Bearer {TOKEN}", "not an address", Forbidden),
    (f"Basic {TOKEN}", "192.0.2.7", Unauthorized),
])
def test_refusals(rt, authorization, address, error):
    with pytest.raises(error):
        monitoring.scrape(rt, authorization, address)


@pytest.mark.parametrize("overrides", [{}])
def test_off_is_not_found(rt):
    assert rt.telemetry is None
    with pytest.raises(NotFound):
        monitoring.scrape(rt, f"Bearer {TOKEN}", "192.0.2.7")


def test_sample_counts_new_drops_and_waits_once(rt, app):
    from zipshort.extensions import db

    rt.visits.dropped, rt.visits.paced, rt.visits.waited = 5, 40, 2
    monitoring.sample(rt, rt.telemetry, db.engine)
    monitoring.sample(rt, rt.telemetry, db.engine)
    rt.visits.dropped, rt.visits.paced = 7, 41
    monitoring.sample(rt, rt.telemetry, db.engine)
    body, _ = monitoring.scrape(rt, f"Bearer {TOKEN}", "192.0.2.7")
    counted = samples(body)
    assert (counted["zipshort_visits_dropped_total"], counted["zipshort_visits_paced_total"],
            counted["zipshort_visits_waited_total"]) == (7, 41, 2)
