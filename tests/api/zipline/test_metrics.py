"""GET /api/stats: Zipline v4's instance metrics, field by field, with the features.metrics_* rules."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from tests.conftest import Api
from zipshort.models import Role, utcnow
from zipshort.services import metrics

HOUR = dt.timedelta(hours=1)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _snapshot(rt, when: dt.datetime | None = None):
    row = metrics.take_snapshot(rt, when or utcnow())
    assert row is not None
    return row


def test_a_snapshot_has_zipline_s_shape_and_the_real_counts(client, api, rt, make_user, make_link, make_file):
    upload = api.post("/api/upload", data={"file": [(io.BytesIO(b"hello world"), "a.txt", "text/plain")]},
                      content_type="multipart/form-data")
    assert upload.status_code == 200
    name = upload.get_json()["files"][0]["url"].rsplit("/", 1)[1]
    made = api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "stat"})
    assert made.status_code == 200
    assert client.get(f"/u/{name}").status_code == 200
    assert client.get("/go/stat").status_code == 302
    assert client.get("/go/stat").status_code == 302
    bob = make_user("bob")
    make_file(bob, b"\x89PNG....", name="b.png", type="image/png")
    row = _snapshot(rt)

    res = api.get("/api/stats")

    assert res.status_code == 200
    (item,) = res.get_json()
    assert set(item) == {"id", "createdAt", "updatedAt", "data"}
    assert item["id"] == row.id
    assert item["createdAt"] == item["updatedAt"] == _iso(row.created_at)[:23] + "Z"
    data = item["data"]
    assert set(data) == {"users", "files", "urls", "storage", "fileViews", "urlViews", "filesUsers", "urlsUsers",
                         "types"}
    assert (data["users"], data["files"], data["urls"]) == (2, 2, 1)
    assert (data["storage"], data["fileViews"], data["urlViews"]) == (11 + 8, 1, 2)
    assert data["filesUsers"] == [{"username": "alice", "sum": 1, "storage": 11, "views": 1},
                                  {"username": "bob", "sum": 1, "storage": 8, "views": 0}]
    assert data["urlsUsers"] == [{"username": "alice", "sum": 1, "views": 2}]
    assert data["types"] == [{"type": "image/png", "sum": 1}, {"type": "text/plain", "sum": 1}]


def test_from_and_to_pick_snapshots_newest_first(api, rt):
    now = utcnow().replace(microsecond=0)
    rows = [_snapshot(rt, now - dt.timedelta(days=d)) for d in (10, 3, 2, 1)]  # oldest first
    ids = lambda res: [item["id"] for item in res.get_json()]  # noqa: E731

    assert ids(api.get("/api/stats")) == [rows[3].id, rows[2].id, rows[1].id]  # default: the last 7 days
    window = {"from": _iso(now - dt.timedelta(days=3)), "to": _iso(now - dt.timedelta(days=2))}
    assert ids(api.get("/api/stats", query_string=window)) == [rows[2].id, rows[1].id]
    assert ids(api.get("/api/stats", query_string={"from": _iso(now - dt.timedelta(days=11))})) == \
        [r.id for r in rows[::-1]]
    assert ids(api.get("/api/stats", query_string={"all": "true"})) == [r.id for r in rows[::-1]]
    day = (now - dt.timedelta(days=10)).date().isoformat()  # a date alone is midnight UTC
    assert ids(api.get("/api/stats", query_string={"from": day, "to": _iso(now - dt.timedelta(days=5))})) == \
        [rows[0].id]
    assert ids(api.get("/api/stats", query_string={"from": _iso(now - HOUR)})) == []


@pytest.mark.parametrize("query, message", [
    ({"from": "yesterday"}, "from: Invalid date"),
    ({"to": "2024-13-45"}, "to: Invalid date"),
    ({"from": "9" * 200}, "from: Invalid date"),
    ({"from": "0001-01-01T00:00:00Z"}, "from: Invalid date"),
    ({"from": "2024-01-02T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "From date must be before to date"),
    ({"from": "9000-01-01T00:00:00Z", "to": "9001-01-01T00:00:00Z"}, "From date must be in the past"),
    ({"all": "maybe"}, "all: must be true or false"),
    ({"from": "2024-01-01T00:00:00\x00Z"}, "from contains a NUL character"),  # the input gate
])
def test_bad_query_is_a_zipline_400(api, query, message):
    res = api.get("/api/stats", query_string=query)
    assert res.status_code == 400
    body = res.get_json()
    assert body["error"] == message and body["statusCode"] == 400 and body["code"]


def test_a_reversed_range_is_fine_with_all(api, rt):
    _snapshot(rt)
    res = api.get("/api/stats", query_string={"from": "2024-01-02", "to": "2024-01-01", "all": "true"})
    assert res.status_code == 200 and len(res.get_json()) == 1


def test_the_caller_needs_the_stats_scope(client, user, make_key):
    assert client.get("/api/stats").status_code == 401
    res = Api(client, make_key(user, scopes=["links:read"])).get("/api/stats")
    assert res.status_code == 403 and res.get_json()["code"] == "missing_scope"
    assert Api(client, make_key(user, scopes=["stats:read"])).get("/api/stats").status_code == 200


class TestDisabled:
    @pytest.fixture
    def overrides(self):
        return {"features": {"metrics_enabled": False}}

    def test_403_with_zipline_s_message(self, api, rt):
        res = api.get("/api/stats")
        assert res.status_code == 403
        assert res.get_json() == {"error": "metrics are disabled", "statusCode": 403, "code": "metrics_disabled"}


class TestAdminOnly:
    @pytest.fixture
    def overrides(self):
        return {"features": {"metrics_admin_only": True}}

    def test_only_administrators(self, client, api, rt, make_user, make_key):
        _snapshot(rt)
        res = api.get("/api/stats")
        assert res.status_code == 403 and res.get_json()["error"] == "Admin only"
        admin = make_user("boss", role=Role.ADMIN)
        assert Api(client, make_key(admin, scopes=["stats:read"])).get("/api/stats").status_code == 403
        res = Api(client, make_key(admin, scopes=["stats:read", "admin"])).get("/api/stats")
        assert res.status_code == 200 and len(res.get_json()) == 1


class TestUserSpecificHidden:
    @pytest.fixture
    def overrides(self):
        return {"features": {"metrics_show_user_specific": False}}

    def test_per_user_arrays_are_empty(self, api, rt, user, make_link, make_file):
        make_link(user)
        make_file(user)
        _snapshot(rt)
        (item,) = api.get("/api/stats").get_json()
        assert item["data"]["filesUsers"] == [] and item["data"]["urlsUsers"] == []
        assert item["data"]["files"] == 1 and item["data"]["urls"] == 1
