"""A plain user cannot mint a key wider than what they hold (admin, or a scope their credential lacks) through
any face: the settings form, the Zipline API (session, token, narrow key), the CLI; and no other face mints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.web.test_pages import csrf, log_in
from zipshort.cli import main
from zipshort.models import ApiKey

PACKAGE = Path(__file__).resolve().parents[2] / "zipshort"
# Every module that calls the key door; each is exercised below. A new face minting keys must be added here
# (and get its test), which this file checks.
MINTING_FACES = {"cli.py", "web/settings.py", "api/zipline/accounts.py"}


def user_keys() -> list[ApiKey]:
    return ApiKey.query.filter_by(is_token=False).all()


def test_the_settings_form_refuses_the_admin_scope_to_a_plain_user(client, user):
    assert log_in(client).status_code == 303
    page = client.get("/dashboard/settings")
    for scopes in (["admin"], ["links:read", "admin"]):
        res = client.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": "x", "scopes": scopes,
                                                            "expires": ""})
        assert res.status_code == 403 and "Only administrators" in res.get_data(as_text=True)
    assert user_keys() == []


def test_the_zipline_api_refuses_the_admin_scope_to_a_plain_user_session_and_token(client, user):
    assert client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"}).status_code == 200
    res = client.post("/api/user/keys", json={"name": "x", "scopes": ["admin", "links:read"]})
    assert res.status_code == 403 and res.get_json()["code"] == "missing_scope"
    token = Api(client.application.test_client(), client.get("/api/user/token").get_json()["token"])
    assert token.post("/api/user/keys", json={"name": "x", "scopes": ["admin"]}).status_code == 403
    assert user_keys() == []


@pytest.mark.parametrize("scopes", [["files:write"], ["admin"], ["links:read", "account"], None])
def test_a_narrow_key_cannot_mint_a_wider_one_through_the_zipline_api(client, user, make_key, scopes):
    narrow = Api(client, make_key(user, scopes=["links:read", "keys:read", "keys:write"]))
    body = {"name": "wider"} if scopes is None else {"name": "wider", "scopes": scopes}
    res = narrow.post("/api/user/keys", json=body)
    assert res.status_code == 403 and res.get_json()["code"] == "missing_scope"
    assert [k.name for k in user_keys()] == ["test"]
    assert narrow.post("/api/user/keys", json={"name": "same", "scopes": ["links:read"]}).status_code == 201


def test_the_cli_refuses_the_admin_scope_to_a_plain_user(runner, user):
    result = runner.invoke(main, ["key", "create", "alice", "--scope", "admin"])
    assert result.exit_code != 0 and "Only administrators" in result.output
    assert user_keys() == []


def test_only_the_known_faces_mint_keys():
    callers = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "services/apikeys.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
                if name in ("create_key", "ApiKey"):
                    callers.add(rel)
    assert callers == MINTING_FACES
