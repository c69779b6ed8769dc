"""Every state-changing page route (outside /api) refuses a request without a CSRF token."""

from __future__ import annotations

import re

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
API_BLUEPRINTS = {"zipline", "hozip", "h0p", "hoko", "shlink"}


def page_routes(app):
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & UNSAFE
        api = rule.endpoint.split(".")[0] in API_BLUEPRINTS  # keys, or the session with X-CSRF-Token (auth.py)
        if methods and not api:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"x\1", rule.rule)
            yield path, methods


def test_there_are_page_routes_to_check(app):
    assert list(page_routes(app))


def test_every_state_changing_page_route_needs_a_csrf_token(app, client, make_link, user):
    make_link(user, vanity="xcode", password="pw-12345")
    for path, methods in page_routes(app):
        for method in methods:
            res = client.open(path, method=method, data={"password": "pw-12345"})
            assert res.status_code == 400, (method, path, res.status_code)
            assert "Location" not in res.headers
