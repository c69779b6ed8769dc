"""Key permissions: h0p's and hoko's permission names map onto zipshort scopes; keys and bot keys."""

from __future__ import annotations

import pytest

from tests.conftest import Api, burst, count
from zipshort.models import ApiKey, Link


def login(client, username="alice", password="correct horse"):
    assert client.post("/api/auth/login", json={"username": username, "password": password}).status_code == 200


@pytest.mark.parametrize("given, scopes", [
    (["shortLinks"], ["links:read", "links:write"]),
    (["shortLinks:read", "stats"], ["links:read", "stats:read"]),
    (["domains", "apiKeys"], ["domains:read", "domains:write", "keys:read", "keys:write"]),
    (["files:write", "linksWrite"], ["links:write", "files:write"]),
    ("shortLinks, files", ["links:read", "links:write", "files:read", "files:write"]),
])
def test_permission_names_expand_to_scopes(client, user, given, scopes):
    login(client)
    res = client.post("/api/user/keys", json={"name": "k", "scopes": given})
    assert res.status_code == 201 and res.get_json()["scopes"] == scopes


@pytest.mark.parametrize("given", [["shortLinks:delete"], ["everything"], ["apiKeys:"], [1]])
def test_unknown_permission_names_are_refused(client, user, given):
    login(client)
    res = client.post("/api/user/keys", json={"name": "k", "scopes": given})
    assert res.status_code == 400 and count(ApiKey) == 0


def test_each_permission_guards_its_endpoints(client, user, make_key):
    links_only = Api(client, make_key(user, scopes=["shortLinks"]), style="x-api-key")
    assert links_only.get("/short-link/list").status_code == 200
    assert links_only.get("/api/user/files").status_code == 403
    assert links_only.get("/api/user/keys").status_code == 403
    assert links_only.get("/api/user/domains").status_code == 403
    keys_only = Api(client, make_key(user, scopes=["apiKeys:read"]))
    assert keys_only.get("/api/user/keys").status_code == 200
    assert keys_only.post("/api/user/keys", json={"name": "x", "scopes": []}).status_code == 403
    assert keys_only.get("/short-link/list", headers={"x-api-key": keys_only.key}).status_code == 403


def test_the_zipline_token_holds_every_scope(client, user):
    login(client)
    token = client.get("/api/user/token").get_json()["token"]
    bearer = Api(client, token)
    assert bearer.get("/api/user/domains").status_code == 200
    assert bearer.get("/api/user/keys").status_code == 200


def test_bot_key_works_on_links_but_never_on_the_account(client, user):
    login(client)
    res = client.post("/api/user/keys", json={"name": "ci bot", "scopes": ["shortLinks", "domains"], "bot": True})
    assert res.status_code == 201 and res.get_json()["bot"] is True
    bot = Api(client.application.test_client(), res.get_json()["key"], style="x-api-key")
    made = bot.post("/short-link", json={"destination": {"type": "link", "value": "https://bot.example/"}})
    assert made.status_code == 201 and made.get_json()["organizationId"] == user.id
    assert bot.get("/api/user/domains").status_code == 200
    for method, path, body in [("get", "/api/user/token", None), ("patch", "/api/user/token", None),
                               ("get", "/api/user/keys", None), ("post", "/api/user/keys", {"name": "x"}),
                               ("patch", "/api/user", {"password": "taken over"}),
                               ("get", "/api/user/mfa/totp", None)]:
        answer = getattr(bot, method)(path, json=body)
        assert answer.status_code == 403 and answer.get_json()["code"] == "bot_key", path
    assert accounts_password_unchanged(client)


def accounts_password_unchanged(client) -> bool:
    fresh = client.application.test_client()
    return fresh.post("/api/auth/login", json={"username": "alice", "password": "correct horse"}).status_code == 200


def test_one_live_bot_key_per_user(client, user):
    login(client)
    first = client.post("/api/user/keys", json={"name": "bot", "bot": True}).get_json()
    again = client.post("/api/user/keys", json={"name": "bot 2", "bot": True})
    assert again.status_code == 409 and again.get_json()["code"] == "bot_key_exists"
    assert client.post("/api/user/keys", json={"name": "person", "bot": False}).status_code == 201
    assert client.delete(f"/api/user/keys/{first['id']}").status_code == 200
    assert client.post("/api/user/keys", json={"name": "bot 3", "bot": True}).status_code == 201
    assert client.post("/api/user/keys", json={"name": "x", "bot": "yes"}).status_code == 400


def test_parallel_bot_key_creation_yields_one(client, user, make_key):
    api = Api(client, make_key(user, scopes=["apiKeys", "shortLinks"]))
    body = {"bot": True, "scopes": ["shortLinks"]}
    statuses = burst(10, lambda i: api.post("/api/user/keys", json={"name": f"b{i}", **body}).status_code)
    assert sorted(statuses) == [201] + [409] * 9
    assert count(ApiKey) == 2 and count(Link) == 0
