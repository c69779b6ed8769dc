"""Limits under parallel requests against the real server (waitress, 16 threads), repeated."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import requests

from tests.conftest import burst, count, fetch, fresh, only_link
from zipshort.models import File, Link, User
from zipshort.services import accounts

REPEAT = range(4)


@pytest.fixture
def key(user, make_key):
    return make_key(user)


def _get(url: str) -> requests.Response:
    return fetch("GET", url)


@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_redirects_never_exceed_max_views(live_server, make_link, user, attempt):
    make_link(user, destination="https://example.com/limited", vanity=f"burst{attempt}", max_views=5)
    responses = burst(120, lambda i: _get(f"{live_server.url}/go/burst{attempt}"), workers=40)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {302: 5, 404: 115}
    assert all(r.headers["Location"] == "https://example.com/limited" for r in responses if r.status_code == 302)
    assert all("Location" not in r.headers for r in responses if r.status_code == 404)
    assert only_link().views == 5


@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_identical_vanities_have_one_winner(live_server, key, attempt):
    def create(i: int):
        return fetch("POST", f"{live_server.url}/api/user/urls", headers={"Authorization": key},
                     json={"destination": f"https://example.com/{i}", "vanity": "promo"})

    responses = burst(30, create, workers=30)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 400: 29}
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"Vanity already taken"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert _get(f"{live_server.url}/go/promo").headers["Location"] == winner["destination"]
    assert count(Link) == 1


@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_creates_never_exceed_the_url_quota(live_server, rt, user, key, attempt):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=5)))

    def create(i: int):
        return fetch("POST", f"{live_server.url}/api/user/urls", headers={"Authorization": key},
                     json={"destination": f"https://example.com/{i}"})

    statuses = Counter(r.status_code for r in burst(30, create, workers=30))
    assert statuses == {200: 5, 403: 25}
    assert count(Link) == 5 and fresh(User, user.id).url_count == 5


def test_parallel_random_creates_get_distinct_codes(live_server, key):
    def create(i: int):
        return fetch("POST", f"{live_server.url}/api/user/urls", headers={"Authorization": key},
                     json={"destination": "https://example.com/"})

    responses = burst(200, create, workers=32)
    assert Counter(r.status_code for r in responses) == {200: 200}
    assert len({r.json()["code"].lower() for r in responses}) == 200
    assert count(Link) == 200


def test_parallel_wrong_passwords_are_cut_off_by_the_rate_limit(live_server, make_link, user):
    make_link(user, vanity="guarded", password="right-password")
    session = requests.Session()
    page = session.get(f"{live_server.url}/go/guarded", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cookies = session.cookies.get_dict()

    def attempt(i: int):
        return fetch("POST", f"{live_server.url}/go/guarded", cookies=cookies,
                     data={"password": f"wrong{i}", "csrf_token": token})

    statuses = Counter(r.status_code for r in burst(30, attempt, workers=30))
    assert statuses == {403: 10, 429: 20}
    assert only_link().views == 0


def test_edit_during_redirect_burst_serves_old_or_new_destination(live_server, make_link, user, key):
    link = make_link(user, destination="https://old.example/", vanity="moving")

    edits = []

    def hit(i: int):
        if i == 50:
            edits.append(fetch("PATCH", f"{live_server.url}/api/user/urls/{link.id}", headers={"Authorization": key},
                               json={"destination": "https://new.example/"}))
        return _get(f"{live_server.url}/go/moving")

    responses = burst(150, hit, workers=24)
    [edit] = edits
    assert edit.status_code == 200 and edit.json()["destination"] == "https://new.example/", edit.text
    assert {r.status_code for r in responses} == {302}
    assert {r.headers["Location"] for r in responses} <= {"https://old.example/", "https://new.example/"}
    assert responses[50].headers["Location"] == "https://new.example/"  # sent after the edit was answered
    assert _get(f"{live_server.url}/go/moving").headers["Location"] == "https://new.example/"


@pytest.fixture
def no_users(app):
    return app


@pytest.mark.parametrize("attempt", range(3))
def test_parallel_setup_creates_one_superadmin(live_server, no_users, attempt):
    responses = burst(20, lambda i: fetch("POST", f"{live_server.url}/api/setup",
                                          json={"username": f"root{i}", "password": "pw-123456"}), workers=20)
    assert Counter(r.status_code for r in responses) == {200: 1, 403: 19}
    assert count(User) == 1


@pytest.mark.parametrize("attempt", range(3))
def test_parallel_uploads_never_exceed_the_bytes_quota(live_server, app, rt, user, key, attempt):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(
        files_type="BY_BYTES", max_bytes=10 * 1024, max_bytes_text="10kb")))

    def upload(i: int):
        return fetch("POST", f"{live_server.url}/api/upload", headers={"Authorization": key},
                     files={"file": (f"{i}.bin", b"x" * 1024, "application/octet-stream")})

    statuses = Counter(r.status_code for r in burst(30, upload, workers=30))
    assert statuses == {200: 10, 413: 20}
    assert count(File) == 10 and fresh(User, user.id).used_bytes == 10 * 1024
    assert len(list(rt.storage.keys())) == 10  # the losers' blobs are gone too


@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_deletes_of_one_file_lower_the_counters_once(live_server, user, key, attempt):
    headers = {"Authorization": key}
    for i in range(2):
        assert fetch("POST", f"{live_server.url}/api/upload", headers=headers,
                     files={"file": (f"{i}.bin", b"x" * 100, "application/octet-stream")}).status_code == 200
    target = fetch("GET", f"{live_server.url}/api/user/files", headers=headers).json()["page"][0]["id"]
    statuses = Counter(r.status_code for r in burst(
        10, lambda i: fetch("DELETE", f"{live_server.url}/api/user/files/{target}", headers=headers)))
    assert statuses == {200: 1, 404: 9}
    owner = fresh(User, user.id)
    assert count(File) == 1 and owner.file_count == 1 and owner.used_bytes == 100


@pytest.mark.parametrize("attempt", REPEAT)
def test_parallel_deletes_of_one_link_lower_the_counter_once(live_server, make_link, user, key, attempt):
    make_link(user, vanity="keep")
    link = make_link(user, vanity="gone")
    statuses = Counter(r.status_code for r in burst(
        10, lambda i: fetch("DELETE", f"{live_server.url}/api/user/urls/{link.id}", headers={"Authorization": key})))
    assert statuses == {200: 1, 404: 9}
    assert count(Link) == 1 and fresh(User, user.id).url_count == 1
