"""Two zipshort processes on one PostgreSQL and one Redis behave like one server."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest

from tests.cli.test_cli import start_server, stop
from tests.conftest import REDIS_URL, burst, fetch, service_missing, truncate_all


@pytest.fixture
def redis_url():
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
    except Exception as exc:  # connection refused, timeout …
        service_missing("Redis", exc)
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def cluster(postgres_url, redis_url, tmp_path):
    truncate_all(postgres_url)
    env = {"DATABASE_URL": postgres_url, "ZIPSHORT_RATELIMIT_STORAGE_URI": redis_url,
           "ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "cluster-pass",
           "ZIPSHORT_SERVER_THREADS": "16"}
    servers = [start_server(tmp_path / name, env) for name in ("a", "b")]
    yield [url for _, url in servers]
    for proc, _ in servers:
        stop(proc)


@pytest.fixture
def token(cluster):
    login = fetch("POST", cluster[0] + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
    assert login.status_code == 200
    return fetch("GET", cluster[0] + "/api/user/token", cookies=login.cookies.get_dict()).json()["token"]


def test_one_admin_is_created_when_both_start_together(cluster):
    engine_urls = [fetch("POST", url + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
                   for url in cluster]
    assert [r.status_code for r in engine_urls] == [200, 200]


def test_session_from_one_process_works_on_the_other(cluster):
    login = fetch("POST", cluster[0] + "/api/auth/login", json={"username": "admin", "password": "cluster-pass"})
    assert fetch("GET", cluster[1] + "/api/user", cookies=login.cookies.get_dict()).status_code == 200


@pytest.mark.parametrize("attempt", range(3))
def test_max_views_hold_across_processes(cluster, token, attempt):
    created = fetch("POST", cluster[0] + "/api/user/urls", headers={"Authorization": token, "x-zipline-max-views": "7"},
                    json={"destination": "https://example.com/", "vanity": f"split{attempt}"})
    assert created.status_code == 200
    urls = itertools.cycle(cluster)
    targets = [next(urls) for _ in range(100)]
    statuses = Counter(r.status_code for r in burst(100, lambda i: fetch("GET", f"{targets[i]}/go/split{attempt}"),
                                                    workers=32))
    assert statuses == {302: 7, 404: 93}


@pytest.mark.parametrize("attempt", range(3))
def test_one_vanity_winner_across_processes(cluster, token, attempt):
    def create(i: int):
        return fetch("POST", cluster[i % 2] + "/api/user/urls", headers={"Authorization": token},
                     json={"destination": f"https://example.com/{i}", "vanity": f"race{attempt}"})

    assert Counter(r.status_code for r in burst(30, create, workers=30)) == {200: 1, 400: 29}


def test_password_rate_limit_is_shared_through_redis(cluster, token):
    fetch("POST", cluster[0] + "/api/user/urls", headers={"Authorization": token, "x-zipline-password": "right-one"},
          json={"destination": "https://example.com/", "vanity": "shared-pw"})
    page = fetch("GET", cluster[0] + "/go/shared-pw")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cookies = page.cookies.get_dict()
    statuses = [fetch("POST", f"{cluster[i % 2]}/go/shared-pw", cookies=cookies,
                      data={"password": "wrong", "csrf_token": csrf}).status_code for i in range(12)]
    assert statuses == [403] * 10 + [429, 429]
