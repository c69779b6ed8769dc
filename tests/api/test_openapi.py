"""The API's contract: /api/openapi.json is a valid OpenAPI 3.1 document that names exactly the API routes of the
URL map, /api/docs shows it, and the live server keeps it (Schemathesis)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from zipshort.api.openapi import api_operations, openapi_path
from zipshort.models import Role
from zipshort.models.apikey import SCOPES

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")


def document(client) -> dict:
    res = client.get("/api/openapi.json")
    assert res.status_code == 200 and res.mimetype == "application/json"
    return res.get_json()


def test_openapi_document_is_valid_openapi_31(client):
    doc = document(client)
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_openapi_document_needs_no_caller_and_reveals_no_key(client, make_user, make_key):
    admin = make_user("root", role=Role.SUPERADMIN)
    key = make_key(admin)
    text = client.get("/api/openapi.json").get_data(as_text=True)
    assert key not in text and key[:12] not in text


def test_every_api_route_is_in_the_document_and_every_operation_is_a_route(app, client):
    doc = document(client)
    routes = {(openapi_path(rule.rule), method) for rule, method in api_operations(app)}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}
    assert routes == documented
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    for prefix in ("/api/user/urls", "/api/v1/external/links", "/short-link", "/api/links", "/rest/v3/short-urls"):
        assert prefix in rules and openapi_path(prefix) in doc["paths"], prefix
    assert len(documented) > 150


def test_every_operation_names_its_dialect_error_and_security(client):
    doc = document(client)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            errors = operation["responses"]["4XX"]["content"]
            if path.startswith("/rest/"):
                assert list(errors) == ["application/problem+json"], (method, path)
                assert operation["tags"] == ["Shlink"]
            else:
                assert list(errors) == ["application/json"], (method, path)
            assert "security" in operation, (method, path)
    shlink = doc["paths"]["/rest/v3/short-urls"]["post"]["security"]
    assert {"xApiKey": ["links:write"]} in shlink and not any("session" in s for s in shlink)
    assert doc["paths"]["/api/users"]["get"]["security"][0] == {"keyHeader": ["admin"]}
    assert doc["paths"]["/api/healthcheck"]["get"]["security"] == []
    schemes = doc["components"]["securitySchemes"]
    assert {"keyHeader", "tokenHeader", "bearer", "xApiKey"} <= set(schemes)


@pytest.mark.parametrize("style", ["raw", "token", "bearer", "x-api-key"])
def test_every_documented_key_style_is_accepted(client, user, make_key, style):
    from tests.conftest import Api

    assert Api(client, make_key(user), style).get("/api/user/urls").status_code == 200


def test_docs_page_loads_the_vendored_viewer_under_the_strict_policy(client):
    res = client.get("/api/docs")
    assert res.status_code == 200 and res.mimetype == "text/html"
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    html = res.get_data(as_text=True)
    assert "<script>" not in html and "cdn" not in html.lower()
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
    assert (ROOT / "static/vendor/swagger-ui/LICENSE").is_file()


def described(doc: dict) -> tuple[int, int]:
    """(operations with a described success body, all operations)."""
    total = done = 0
    for item in doc["paths"].values():
        for operation in item.values():
            total += 1
            done += "2XX" not in operation["responses"]
    return done, total


def test_every_operation_but_mercure_has_a_described_body(client):
    doc = document(client)
    done, total = described(doc)
    print(f"OpenAPI: {done} of {total} operations have described success bodies")
    left = sorted(path for path, item in doc["paths"].items() for operation in item.values()
                  if "2XX" in operation["responses"])
    assert left == [f"/rest/{version}/mercure-info" for version in ("v1", "v2", "v3")]


# --- Schemathesis against the live server -----------------------------------------------------------------------

# Operations left out of the run because they would end the run's own credentials or account, so that every later
# operation still has a caller: a new Zipline token, a changed password or username (PATCH /api/user), and the key
# and user deletions whose id Schemathesis could only hit by chance (excluded anyway: the run must not depend on it).
CREDENTIAL_ENDERS = [
    ("PATCH", "/api/user/token"),
    ("PATCH", "/api/user"),
    ("DELETE", "/api/user/keys/<key_id>"),
    ("DELETE", "/api/users/<user_id>"),
    ("PATCH", "/api/users/<user_id>"),
]
# Shlink's Mercure route always answers 501 (documented: zipshort runs no hub), which Schemathesis counts as a
# server error whatever the document says.
ALWAYS_501 = [("GET", f"/rest/{version}/mercure-info") for version in ("v1", "v2", "v3")]
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance")


def run_schemathesis(url: str, key: str, phases: str, examples: int, report: Path) -> subprocess.CompletedProcess:
    """One Schemathesis run (one worker: Hypothesis describes strategies with ``ast.parse``, which CPython 3.11
    does not make safe across threads)."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/api/openapi.json", "--url", url,
               "--checks", CHECKS, "--phases", phases, "--max-examples", str(examples),
               "--seed", "14", "--workers", "1", "--request-timeout", "20", "--no-shrink",
               # Every key header at once: Schemathesis would otherwise fill the x-api-key scheme with values of its
               # own, and Shlink's routes take an empty X-Api-Key for a missing key.
               "-H", f"Authorization: Bearer {key}", "-H", f"x-api-key: {key}", "--suppress-health-check", "all",
               "--report", "json", "--report-json-path", str(report), "--output-sanitize", "true",
               "--max-redirects", "0"]
    for method, rule in CREDENTIAL_ENDERS + ALWAYS_501:
        command += ["--exclude-operation-id", f"{method.lower()}:{rule}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=report.parent)


@pytest.mark.slow
def test_live_server_keeps_its_openapi_contract(live_server, backend, make_user, make_key, make_link, tmp_path):
    admin = make_user("root", role=Role.SUPERADMIN)
    everything = make_key(admin, scopes=list(SCOPES), name="schemathesis")
    make_link(admin, "https://example.com/a", vanity="known")
    # SQLite: the coverage phase (every boundary and negative case the document defines, ~5,000 requests) and
    # five fuzzed cases per operation; PostgreSQL: three fuzzed cases per operation.
    phases, examples = ("coverage,fuzzing", 5) if backend == "sqlite" else ("fuzzing", 3)
    report = tmp_path / "schemathesis.json"
    result = run_schemathesis(live_server.url, everything, phases, examples, report)
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-3000:]
    run = json.loads(report.read_text())
    assert run["complete"] and not run["failures"] and not run["errors"], result.stdout[-30000:]
    assert run["operations"]["tested"] == run["operations"]["selected"] >= 150, run["operations"]
    assert run["test_cases"]["generated"] >= 2 * run["operations"]["tested"], run["test_cases"]


def answer_matches(doc: dict, method: str, path: str, res) -> None:
    """Validate one test-client answer against the document's schema for its status (JSON answers)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    operation = doc["paths"][path][method]
    status = str(res.status_code)
    answer = operation["responses"].get(status) or operation["responses"][f"{status[0]}XX"]
    schema = answer["content"][res.mimetype]["schema"]
    registry = Registry().with_resource("urn:doc", Resource(contents=doc, specification=DRAFT202012))
    rooted = json.loads(json.dumps(schema).replace('"#/components/', '"urn:doc#/components/'))
    Draft202012Validator(rooted, registry=registry).validate(res.get_json())


def test_known_objects_match_their_schemas_in_every_dialect(client, user, make_key, make_link, make_file):
    from tests.conftest import Api

    doc = document(client)
    api = Api(client, make_key(user))
    link = make_link(user, "https://example.com/known?x=1", vanity="known", title="Known", tags=["a", "b"],
                     max_views=9)
    stored = make_file(user, b"data", name="a.txt", type="text/plain")
    checks = [
        ("get", "/api/user/urls/{link_id}", f"/api/user/urls/{link.id}"),
        ("get", "/api/user/urls", "/api/user/urls"),
        ("get", "/api/user/urls/{link_id}/stats", f"/api/user/urls/{link.id}/stats"),
        ("get", "/api/user/urls/{link_id}/visits", f"/api/user/urls/{link.id}/visits"),
        ("get", "/short-link/{link_id}", f"/short-link/{link.id}"),
        ("get", "/short-link/list", "/short-link/list"),
        ("get", "/api/v1/external/links", "/api/v1/external/links"),
        ("get", "/rest/v3/short-urls/{code}", "/rest/v3/short-urls/known"),
        ("get", "/rest/v3/short-urls", "/rest/v3/short-urls"),
        ("get", "/rest/v3/short-urls/{code}/visits", "/rest/v3/short-urls/known/visits"),
        ("get", "/rest/v3/short-urls/{code}/redirect-rules", "/rest/v3/short-urls/known/redirect-rules"),
        ("get", "/rest/v3/tags/stats", "/rest/v3/tags/stats"),
        ("get", "/api/user/files/{ident}", f"/api/user/files/{stored.id}"),
        ("get", "/api/user/files", "/api/user/files"),
        ("get", "/api/user", "/api/user"),
        ("get", "/api/user/stats", "/api/user/stats"),
    ]
    for method, template, url in checks:
        res = getattr(api, method)(url)
        assert res.status_code == 200, (url, res.get_data(as_text=True)[:300])
        answer_matches(doc, method, template, res)
    refused = api.get("/rest/v3/short-urls/unknown")
    assert refused.status_code == 404
    answer_matches(doc, "get", "/rest/v3/short-urls/{code}", refused)
