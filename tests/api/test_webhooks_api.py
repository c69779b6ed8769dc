"""/api/user/webhooks: scopes, the secret shown once, every bad input a 4xx in Zipline's shape (never a 500),
someone else's endpoint a 404, the test event, the delivery log."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst
from zipshort.services import webhookdelivery

HOOKS = ["webhooks:read", "webhooks:write"]


@pytest.fixture
def overrides():
    return {"outbound": {"allowed_networks": ["127.0.0.0/8"]}, "webhooks": {"max_endpoints_per_user": 3}}


@pytest.fixture
def hooks(client, user, make_key):
    return Api(client, make_key(user, scopes=HOOKS))


def _create(api, url, events=("link.created",), **extra):
    return api.post("/api/user/webhooks", json={"url": url, "events": list(events), **extra})


def test_scopes(client, user, make_key, receiver):
    default = Api(client, make_key(user))  # the default scopes do not include webhooks
    read_only = Api(client, make_key(user, scopes=["webhooks:read"]))
    for api in (default, read_only):
        refused = _create(api, receiver.url)
        assert refused.status_code == 403 and refused.get_json()["code"] == "missing_scope"
    assert default.get("/api/user/webhooks").status_code == 403
    assert read_only.get("/api/user/webhooks").get_json() == []
    assert client.get("/api/user/webhooks").status_code == 401


def test_create_shows_the_secret_once_and_list_get_update_delete(hooks, receiver):
    created = _create(hooks, receiver.url + "/hook", ("link.created", "file.uploaded"), description="ci")
    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["link.created", "file.uploaded"]
    assert body["enabled"] is True and body["disabledReason"] is None
    assert body["secretHint"] == body["secret"][:10] + "…"
    ident = body["id"]
    listed = hooks.get("/api/user/webhooks").get_json()
    assert [e["id"] for e in listed] == [ident] and "secret" not in listed[0]
    assert "secret" not in hooks.get(f"/api/user/webhooks/{ident}").get_json()
    patched = hooks.patch(f"/api/user/webhooks/{ident}", json={"events": ["link.deleted"], "enabled": False})
    assert patched.status_code == 200
    assert patched.get_json()["events"] == ["link.deleted"] and patched.get_json()["disabledReason"] == \
        "Disabled by its owner"
    assert hooks.post(f"/api/user/webhooks/{ident}/test").status_code == 409
    assert hooks.patch(f"/api/user/webhooks/{ident}", json={"enabled": True}).get_json()["enabled"] is True
    rotated = hooks.post(f"/api/user/webhooks/{ident}/secret").get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != body["secret"]
    assert hooks.delete(f"/api/user/webhooks/{ident}").status_code == 200
    assert hooks.get(f"/api/user/webhooks/{ident}").status_code == 404


def test_the_event_types_on_offer(hooks):
    events = hooks.get("/api/user/webhooks/events").get_json()["events"]
    assert {"link.created", "link.updated", "link.deleted", "link.visited", "file.uploaded", "file.viewed",
            "file.deleted"} <= set(events)
    assert "login.failed" not in events and "user.created" not in events


@pytest.mark.parametrize("body", [
    None, "not json", [], {"url": "https://example.com/"}, {"events": ["link.created"]},
    {"url": 5, "events": ["link.created"]}, {"url": "javascript:alert(1)", "events": ["link.created"]},
    {"url": "http://127.0.0.1:1/", "events": "nope"}, {"url": "http://127.0.0.1:1/", "events": [{}]},
    {"url": "http://127.0.0.1:1/", "events": ["link.created"], "secret": "whsec_mine"},
    {"url": "http://127.0.0.1:1/", "events": ["link.created"], "description": ["x"]},
    {"url": "http://127.0.0.1:1/\u0000", "events": ["link.created"]},
    {"url": "http://[::1", "events": ["link.created"]},
])
def test_bad_bodies_are_400(hooks, body):
    sent = hooks.post("/api/user/webhooks", data=body if isinstance(body, str) else None,
                      json=None if isinstance(body, str) or body is None else body,
                      content_type="application/json")
    assert sent.status_code == 400, sent.get_json()
    assert sent.get_json()["statusCode"] == 400


def test_private_targets_are_refused_without_the_setting(client, user, make_key, app, settings):
    import dataclasses

    from zipshort.config.sections import OutboundSettings

    rt = app.extensions["zipshort"]
    object.__setattr__(rt, "settings", dataclasses.replace(settings, outbound=OutboundSettings()))
    api = Api(client, make_key(user, scopes=HOOKS))
    for url in ("http://127.0.0.1:8080/", "http://localhost/", "http://169.254.169.254/", "http://192.168.1.1/"):
        refused = _create(api, url)
        assert refused.status_code == 400 and refused.get_json()["code"] == "destination_refused", url


def test_bad_paths_and_queries_are_4xx(hooks, receiver):
    ident = _create(hooks, receiver.url).get_json()["id"]
    for path in ("/api/user/webhooks/nope", "/api/user/webhooks/" + "x" * 300,
                 "/api/user/webhooks/nope/deliveries"):
        assert hooks.get(path).status_code == 404
    for query in ("page=abc", "page=0", "perpage=1000", "perpage=-1", "page=99999999999999999999",
                  "page=999999999999999999"):
        assert hooks.get(f"/api/user/webhooks/{ident}/deliveries?{query}").status_code == 400, query
    assert hooks.patch(f"/api/user/webhooks/{ident}", json={"enabled": "yes"}).status_code == 400
    assert hooks.patch(f"/api/user/webhooks/{ident}", json={"url": "ftp://x/"}).status_code == 400
    assert hooks.post("/api/user/webhooks/nope/test").status_code == 404


def test_someone_elses_endpoint_is_404(client, hooks, make_user, make_key, receiver):
    ident = _create(hooks, receiver.url).get_json()["id"]
    bob = Api(client, make_key(make_user("bob"), scopes=HOOKS))
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/secret"), ("post", "/test"),
                         ("get", "/deliveries")):
        kwargs = {"json": {"enabled": False}} if method == "patch" else {}
        assert getattr(bob, method)(f"/api/user/webhooks/{ident}{path}", **kwargs).status_code == 404
    assert bob.get("/api/user/webhooks").get_json() == []


def test_the_endpoint_limit_holds_under_a_burst(live_server, user, make_key, receiver):
    from tests.conftest import fetch

    key = make_key(user, scopes=HOOKS)
    statuses = burst(10, lambda i: fetch("POST", live_server.url + "/api/user/webhooks", headers={"Authorization": key},
                                         json={"url": receiver.url, "events": ["link.created"]}).status_code)
    assert sorted(statuses) == [201] * 3 + [409] * 7


def test_test_event_and_delivery_log(hooks, rt, receiver):
    ident = _create(hooks, receiver.url + "/hook").get_json()["id"]
    queued = hooks.post(f"/api/user/webhooks/{ident}/test")
    assert queued.status_code == 202 and queued.get_json()["messageId"].startswith("msg_")
    for message in webhookdelivery.claim(rt):
        webhookdelivery.settle(rt, message, webhookdelivery.attempt(rt, message))
    [log] = hooks.get(f"/api/user/webhooks/{ident}/deliveries").get_json()
    assert (log["event"], log["outcome"], log["statusCode"], log["attempt"]) == ("webhook.test", "delivered", 200, 1)
    assert log["messageId"] == queued.get_json()["messageId"]
    assert receiver.at("/hook")[0].headers["webhook-id"] == log["messageId"]
