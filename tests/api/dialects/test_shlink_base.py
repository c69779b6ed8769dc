"""Shlink's REST API, the frame: versions, X-Api-Key, problem+json errors, CORS, health, Mercure, off switch."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import Api

PROBLEM = "application/problem+json"
ERROR = "https://shlink.io/api/error/"


@pytest.fixture
def shlink(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


def assert_problem(res, status: int, suffix: str) -> dict:
    assert res.status_code == status, res.get_data(as_text=True)
    assert res.mimetype == PROBLEM
    body = res.get_json()
    assert body["type"] == ERROR + suffix and body["status"] == status
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body


@pytest.mark.parametrize("path", ["/rest/health", "/rest/v1/health", "/rest/v2/health", "/rest/v3/health"])
def test_health_needs_no_key_and_ignores_a_bad_one(client, path):
    for headers in ({}, {"X-Api-Key": "nonsense"}):
        res = client.get(path, headers=headers)
        assert res.status_code == 200 and res.mimetype == "application/health+json"
        body = res.get_json()
        assert body["status"] == "pass" and body["version"] == "5.1.5"
        assert body["links"] == {"about": "https://shlink.io", "project": "https://github.com/shlinkio/shlink"}


def test_health_fails_when_the_database_is_down(client, monkeypatch):
    from zipshort.extensions import db

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", down)  # the database, not our code, is what fails here
    res = client.get("/rest/v3/health")
    assert res.status_code == 503 and res.get_json()["status"] == "fail"
    assert res.mimetype == "application/health+json"


def test_missing_key(client):
    body = assert_problem(client.get("/rest/v3/mercure-info"), 401, "missing-authentication")
    assert body["expectedHeaders"] == ["X-Api-Key"] and body["title"] == "Invalid authorization"


@pytest.mark.parametrize("headers", [{"X-Api-Key": ""}, {"X-Api-Key": "  "}, {"Authorization": ""}])
def test_an_empty_key_is_a_missing_one(client, headers):
    body = assert_problem(client.get("/rest/v3/mercure-info", headers=headers), 401, "missing-authentication")
    assert body["expectedHeaders"] == ["X-Api-Key"]


def test_bad_key(client):
    body = assert_problem(client.get("/rest/v3/mercure-info", headers={"X-Api-Key": "nope"}), 401, "invalid-api-key")
    assert body["title"] == "Invalid API key"


def test_revoked_or_expired_key(client, user, make_key, rt):
    import datetime as dt

    from zipshort.models import utcnow

    old = make_key(user, expires_at=utcnow() + dt.timedelta(seconds=1))
    from zipshort.extensions import db
    from zipshort.models import ApiKey

    for key in db.session.scalars(db.select(ApiKey)):
        key.expires_at = utcnow() - dt.timedelta(days=1)
    db.session.commit()
    assert_problem(client.get("/rest/v3/mercure-info", headers={"X-Api-Key": old}), 401, "invalid-api-key")


def test_a_browser_session_is_not_a_shlink_caller(client, user):
    assert client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"}).status_code == 200
    assert client.get("/api/user").status_code == 200
    assert_problem(client.get("/rest/v3/mercure-info"), 401, "missing-authentication")


def test_every_version_answers_the_same(shlink):
    answers = [shlink.get(f"/rest/{v}/mercure-info") for v in ("v1", "v2", "v3")]
    assert {res.status_code for res in answers} == {501}
    assert answers[0].get_json() == answers[1].get_json() == answers[2].get_json()


def test_unknown_rest_route_is_a_problem(shlink):
    body = assert_problem(shlink.get("/rest/v3/nothing-here"), 404, "not-found")
    assert body["title"] == "Not Found" and body["detail"].startswith("Cannot GET http://localhost/rest/v3/nothing")
    assert_problem(shlink.get("/rest/v4/mercure-info"), 404, "not-found")


def test_wrong_method_is_a_problem(shlink):
    res = shlink.put("/rest/v3/mercure-info", json={})
    assert res.status_code == 405 and res.mimetype == PROBLEM
    assert res.get_json()["type"] == ERROR + "method-not-allowed"


def test_mercure_is_not_configured(shlink):
    body = assert_problem(shlink.get("/rest/v3/mercure-info"), 501, "mercure-not-configured")
    assert body["title"] == "Mercure integration not configured"


def test_missing_scope_is_a_problem(client, user, make_key):
    narrow = Api(client, make_key(user, scopes=["files:read"]), style="x-api-key")
    body = assert_problem(narrow.get("/rest/v3/mercure-info"), 403, "missing-scope")
    assert "links:read" in body["detail"]


def test_preflight_needs_no_key(client):
    res = client.options("/rest/v3/mercure-info", headers={
        "Origin": "https://app.shlink.io", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type"})
    assert res.status_code == 204 and res.get_data() == b""
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert res.headers["Access-Control-Allow-Methods"] == "GET"
    assert res.headers["Access-Control-Allow-Headers"] == "x-api-key, content-type"
    assert res.headers["Access-Control-Max-Age"] == "3600"
    for path, methods in (("/rest/v3/short-urls", "GET,POST"), ("/rest/v2/short-urls/abc", "DELETE,GET,PATCH"),
                          ("/rest/v3/tags", "DELETE,GET,PUT")):
        res = client.options(path, headers={"Origin": "https://app.shlink.io"})
        assert res.status_code == 204 and res.headers["Access-Control-Allow-Methods"] == methods
        assert res.headers["Allow"] == methods


def test_cors_only_with_an_origin(shlink):
    assert "Access-Control-Allow-Origin" not in shlink.get("/rest/v3/mercure-info").headers
    res = shlink.get("/rest/v3/mercure-info", headers={"Origin": "https://x.example"})
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    failed = client_bad_key = shlink.get("/rest/v3/mercure-info", headers={"Origin": "https://x.example"})
    assert failed.status_code == 501 and client_bad_key.headers["Access-Control-Allow-Origin"] == "*"


class TestCorsSettings:
    @pytest.fixture
    def overrides(self):
        return {"shlink": {"cors_allow_origin": ["https://a.example", "https://b.example"], "cors_max_age": 60}}

    def test_listed_origins_are_echoed(self, shlink, client):
        res = shlink.get("/rest/v3/mercure-info", headers={"Origin": "https://b.example"})
        assert res.headers["Access-Control-Allow-Origin"] == "https://b.example"
        other = shlink.get("/rest/v3/mercure-info", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        pre = client.options("/rest/v3/mercure-info", headers={"Origin": "https://a.example"})
        assert pre.headers["Access-Control-Max-Age"] == "60"


class TestDisabled:
    @pytest.fixture
    def overrides(self):
        return {"shlink": {"enabled": False}}

    def test_the_dialect_does_not_answer(self, shlink, client):
        res = shlink.get("/rest/v3/mercure-info")
        assert res.status_code == 404 and res.mimetype == "text/html"
        assert client.get("/rest/health").status_code == 404
