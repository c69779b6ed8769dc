"""Dashboard forms under parallel submission: limits and unique codes hold (real waitress, both backends)."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import burst, count
from zipshort.models import Link, Role, User

pytestmark = pytest.mark.slow


def logged_in(url: str, username: str) -> tuple[dict[str, str], str]:
    with requests.Session() as s:
        page = s.get(url + "/auth/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        s.post(url + "/auth/login", data={"username": username, "password": "correct horse", "csrf_token": token})
        form = s.get(url + "/dashboard/urls")
        return dict(s.cookies), re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)


def test_parallel_form_posts_of_one_vanity_make_one_link(live_server, user):
    cookies, token = logged_in(live_server.url, "alice")

    def post(i):
        with requests.Session() as s:
            s.cookies.update(cookies)
            return s.post(live_server.url + "/dashboard/urls", allow_redirects=False,
                          data={"csrf_token": token, "destination": f"https://example.com/{i}", "vanity": "race",
                                "enabled": "on"}).status_code

    assert sorted(burst(20, post)) == [303] + [409] * 19  # the others see the form again, refused
    assert count(Link) == 1


def test_parallel_admin_creates_of_one_username_make_one_user(live_server, make_user):
    make_user("boss", role=Role.ADMIN)
    cookies, token = logged_in(live_server.url, "boss")

    def post(i):
        with requests.Session() as s:
            s.cookies.update(cookies)
            return s.post(live_server.url + "/dashboard/admin/users", allow_redirects=False,
                          data={"csrf_token": token, "username": "twin", "password": "pw-123456",
                                "role": "USER"}).status_code

    assert sorted(burst(16, post)) == [303] + [409] * 15
    assert count(User) == 2
