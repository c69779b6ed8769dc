"""GET <urls.route>/<code>: status, headers, gone links, domains, HEAD, and the password page."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import only_link


def csrf_from(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_redirect_is_302_to_destination_and_counts(client, make_link, user):
    make_link(user, destination="https://example.com/landing?a=1", vanity="go1")
    res = client.get("/go/go1")
    assert res.status_code == 302 and res.headers["Location"] == "https://example.com/landing?a=1"
    assert only_link().views == 1


def test_redirect_of_unlimited_link_is_not_marked_no_store(client, make_link, user):
    make_link(user, vanity="free")
    assert "no-store" not in client.get("/go/free").headers.get("Cache-Control", "")


def test_redirect_of_limited_link_is_no_store(client, make_link, user):
    make_link(user, vanity="lim", max_views=5)
    assert client.get("/go/lim").headers["Cache-Control"] == "no-store"


def test_head_does_not_count_and_hides_limited_destination(client, make_link, user):
    make_link(user, vanity="hd", max_views=1)
    res = client.head("/go/hd")
    assert res.status_code == 302 and "Location" not in res.headers
    assert only_link().views == 0
    assert client.get("/go/hd").status_code == 302


def test_head_of_unlimited_link_shows_location_without_counting(client, make_link, user):
    make_link(user, vanity="hd2")
    assert client.head("/go/hd2").headers["Location"] == "https://example.com/"
    assert only_link().views == 0


def test_unknown_code_is_404_page(client):
    res = client.get("/go/missing")
    assert res.status_code == 404 and res.mimetype == "text/html"


def test_exhausted_link_is_404_by_default(client, make_link, user):
    make_link(user, vanity="one", max_views=1)
    assert client.get("/go/one").status_code == 302
    res = client.get("/go/one")
    assert res.status_code == 404 and "Location" not in res.headers


class TestGone410:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"gone_status": 410}}

    def test_exhausted_link_is_410_when_configured(self, client, make_link, user):
        make_link(user, vanity="one", max_views=1)
        client.get("/go/one")
        assert client.get("/go/one").status_code == 410

    def test_unknown_code_stays_404(self, client):
        assert client.get("/go/nothing").status_code == 404


class TestRoute:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"route": "/s"}}

    def test_configured_route_serves_links(self, client, make_link, user, api):
        body = api.post("/api/user/urls", json={"destination": "https://e.com/", "vanity": "rr"}).get_json()
        assert body["url"] == "http://localhost/s/rr"
        assert client.get("/s/rr").status_code == 302
        assert client.get("/go/rr").status_code == 404


def test_expired_link_is_gone(client, make_link, user):
    from zipshort.extensions import db
    from zipshort.models import Link

    make_link(user, vanity="old")
    db.session.query(Link).update({"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
    db.session.commit()
    assert client.get("/go/old").status_code == 404


def test_domain_bound_link_answers_only_on_its_domain(client, make_link, user, own_domain):
    own_domain(user, "a.example")
    make_link(user, vanity="dom", domain="a.example")
    assert client.get("/go/dom", headers={"Host": "a.example"}).status_code == 302
    assert client.get("/go/dom", headers={"Host": "b.example"}).status_code == 404


def test_domainless_link_answers_on_every_host(client, make_link, user):
    make_link(user, vanity="any")
    for host in ("a.example", "b.example", "localhost"):
        assert client.get("/go/any", headers={"Host": host}).status_code == 302


def test_password_page_is_shown_without_destination(client, make_link, user):
    make_link(user, destination="https://secret.example/", vanity="pw", password="letmein1")
    res = client.get("/go/pw")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    assert b"secret.example" not in res.data and 'type="password"' in res.get_data(as_text=True)
    assert "Content-Security-Policy" in res.headers and res.headers["X-Frame-Options"] == "DENY"


def test_password_query_parameter_is_ignored(client, make_link, user):
    make_link(user, vanity="pwq", password="letmein1")
    res = client.get("/go/pwq?pw=letmein1&password=letmein1")
    assert res.status_code == 200 and "Location" not in res.headers


def test_right_password_posted_redirects_and_counts(client, make_link, user):
    make_link(user, destination="https://secret.example/", vanity="pw", password="letmein1")
    token = csrf_from(client.get("/go/pw"))
    res = client.post("/go/pw", data={"password": "letmein1", "csrf_token": token})
    assert res.status_code == 302 and res.headers["Location"] == "https://secret.example/"
    assert res.headers["Cache-Control"] == "no-store"
    assert "letmein1" not in res.headers["Location"]
    assert not any("letmein1" in c for c in res.headers.getlist("Set-Cookie"))
    assert only_link().views == 1


def test_wrong_password_rerenders_403_and_does_not_count(client, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    token = csrf_from(client.get("/go/pw"))
    res = client.post("/go/pw", data={"password": "nope", "csrf_token": token})
    assert res.status_code == 403 and b"Incorrect password" in res.data
    assert only_link().views == 0


def test_password_post_without_csrf_token_is_refused(client, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    client.get("/go/pw")
    res = client.post("/go/pw", data={"password": "letmein1"})
    assert res.status_code == 400 and "Location" not in res.headers
    assert only_link().views == 0


def test_password_post_with_another_sessions_csrf_token_is_refused(app, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    token = csrf_from(app.test_client().get("/go/pw"))
    other = app.test_client()
    other.get("/go/pw")
    assert other.post("/go/pw", data={"password": "letmein1", "csrf_token": token}).status_code == 400


def test_password_attempts_are_rate_limited_per_link_and_client(client, make_link, user):
    make_link(user, vanity="pw", password="letmein1")
    token = csrf_from(client.get("/go/pw"))
    statuses = [client.post("/go/pw", data={"password": f"wrong{i}", "csrf_token": token}).status_code
                for i in range(11)]
    assert statuses == [403] * 10 + [429]
    blocked = client.post("/go/pw", data={"password": "letmein1", "csrf_token": token})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


def test_password_attempts_on_another_link_are_counted_separately(client, make_link, user):
    make_link(user, vanity="pw1", password="letmein1")
    make_link(user, vanity="pw2", password="letmein2")
    token = csrf_from(client.get("/go/pw1"))
    for _ in range(10):
        client.post("/go/pw1", data={"password": "x", "csrf_token": token})
    res = client.post("/go/pw2", data={"password": "letmein2", "csrf_token": token})
    assert res.status_code == 302


def test_password_page_escapes_the_code(client):
    res = client.get("/go/%3Cscript%3E")
    assert b"<script>" not in res.data


class TestTrustedHosts:
    @pytest.fixture
    def overrides(self):
        return {"core": {"trusted_hosts": ["short.example"]}}

    def test_unknown_host_is_refused(self, client, make_link, user):
        make_link(user, vanity="th")
        assert client.get("/go/th", headers={"Host": "short.example"}).status_code == 302
        assert client.get("/go/th", headers={"Host": "evil.example"}).status_code == 400

    def test_unknown_host_never_appears_in_returned_urls(self, api):
        res = api.post("/api/user/urls", json={"destination": "https://e.com/"}, headers={"Host": "evil.example"})
        assert res.status_code == 400 and "url" not in res.get_json() and b"/go/" not in res.data
