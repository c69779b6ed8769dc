"""/api/docs: the vendored Swagger UI renders the server's own OpenAPI document under the pages' strict
Content-Security-Policy (the ``ui`` fixture fails on any console error, CSP violations included)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_api_docs_page_renders_every_dialect_under_the_strict_policy(ui):
    requests_seen: list[str] = []
    ui.page.on("request", lambda req: requests_seen.append(req.url))
    ui.goto("/api/docs")
    ui.wait_for_selector(".opblock-tag-section", timeout=30_000)
    ui.wait_for_load_state("networkidle")
    ui.shot("api-docs")
    tags = ui.locator(".opblock-tag").all_inner_texts()
    for dialect in ("Zipline", "hozip", "h0p", "hoko", "Shlink"):
        assert any(text.startswith(dialect) for text in tags), tags
    assert all(url.startswith(ui.base) or url.startswith("data:") for url in requests_seen), requests_seen
