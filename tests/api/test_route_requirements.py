"""Every route declares what it needs, the route table in docs/ is generated from those declarations, and
a key without the declared scope is refused on every route, in the caller's dialect."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Api
from zipshort.auth import Requirement, requirement_of, route_table
from zipshort.models import Role

ROUTES_DOC = Path(__file__).resolve().parents[2] / "docs" / "routes.md"
ANY_VALUE = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def declared(app) -> list[tuple[str, str, Requirement | None]]:
    return [(rule.rule, method, requirement_of(app.view_functions[rule.endpoint]))
            for rule in app.url_map.iter_rules() if rule.endpoint != "static"
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def test_every_route_declares_what_it_needs(app):
    missing = sorted({path for path, _, requirement in declared(app) if requirement is None})
    assert not missing, f"routes without a declared requirement (use require_user/public_route/page): {missing}"


def test_every_api_route_is_a_key_route_or_says_why_it_is_public(app):
    for path, method, requirement in declared(app):
        if path.startswith(("/api/", "/short-link")):
            assert not requirement.session, f"{method} {path}: API routes take keys"
            assert not requirement.anonymous or requirement.note, f"{method} {path}: say what guards it"


def test_route_table_in_docs_is_current(app):
    table = route_table(app)
    assert table in ROUTES_DOC.read_text(), "docs/routes.md is stale: regenerate its table with `zipshort routes`"


def test_key_without_the_declared_scope_is_refused_on_every_route(app, client, make_user, make_key):
    admin = make_user("root", role=Role.SUPERADMIN)
    keys = {scope: Api(client, make_key(admin, scopes=[scope])) for scope in ("stats:read", "domains:read")}
    checked = 0
    for path, method, requirement in declared(app):
        needed = "admin" if requirement.admin else requirement.scope
        if requirement.anonymous or requirement.session or needed is None:
            continue
        narrow = keys["domains:read" if needed == "stats:read" else "stats:read"]
        url = ANY_VALUE.sub("x0", path).replace(".<fmt>", ".svg")
        res = getattr(narrow, method.lower())(url, json={})
        assert res.status_code == 403, f"{method} {path}: {res.status_code} {res.get_data(as_text=True)[:200]}"
        assert "scope" in res.get_data(as_text=True), f"{method} {path}: {res.get_data(as_text=True)[:200]}"
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("method,path,body", [
    ("get", "/api/user/token", None), ("patch", "/api/user/token", None),
    ("patch", "/api/user", {"password": "taken over 1"}), ("patch", "/api/user", {"username": "mallory"}),
    ("get", "/api/user/mfa/totp", None), ("post", "/api/user/mfa/totp", {"secret": "A" * 32, "code": "123456"}),
    ("delete", "/api/user/mfa/totp", {"code": "123456"}), ("get", "/api/user/sessions", None),
    ("delete", "/api/user/sessions", {"all": True}), ("get", "/api/user/keys", None),
    ("post", "/api/user/keys", {"name": "more", "scopes": ["stats:read"]}), ("get", "/api/users", None),
])
def test_narrow_key_cannot_manage_the_account(client, make_user, make_key, method, path, body):
    owner = make_user("boss", role=Role.SUPERADMIN, password="correct horse")
    narrow = Api(client, make_key(owner, scopes=["stats:read"]))
    res = getattr(narrow, method)(path, json=body)
    assert res.status_code == 403 and res.get_json()["code"] == "missing_scope", res.get_json()
    fresh = client.application.test_client()
    assert fresh.post("/api/auth/login", json={"username": "boss", "password": "correct horse"}).status_code == 200


def test_default_key_holds_neither_account_nor_keys_nor_admin(client, make_user, make_key):
    owner = make_user("boss", role=Role.ADMIN)
    default = Api(client, make_key(owner))
    assert default.get("/api/user/urls").status_code == 200
    for path in ("/api/user/token", "/api/user/keys", "/api/users", "/api/user/sessions"):
        assert default.get(path).status_code == 403, path


def test_zipline_token_and_account_key_still_manage_the_account(client, user, make_key):
    assert client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"}).status_code == 200
    token = client.get("/api/user/token").get_json()["token"]
    zipline = Api(client.application.test_client(), token)
    assert zipline.get("/api/user/token").get_json()["token"]
    assert zipline.patch("/api/user", json={"username": "alice2"}).status_code == 200
    account = Api(client.application.test_client(), make_key(user, scopes=["account"]))
    assert account.patch("/api/user", json={"password": "new password 1"}).status_code == 200
    fresh = client.application.test_client()
    assert fresh.post("/api/auth/login", json={"username": "alice2", "password": "new password 1"}).status_code == 200


def test_key_cannot_mint_a_key_with_the_account_scope_it_lacks(client, user, make_key):
    keys_only = Api(client, make_key(user, scopes=["keys:write", "links:read"]))
    res = keys_only.post("/api/user/keys", json={"name": "escalate", "scopes": ["account"]})
    assert res.status_code == 403 and res.get_json()["code"] == "missing_scope"
