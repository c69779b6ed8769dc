"""Fixtures of the page tests: a Flask client logged in as alice."""

from __future__ import annotations

import pytest

from tests.web.test_pages import log_in


@pytest.fixture
def browser(client, user):
    """The test client with alice's session."""
    assert log_in(client).status_code == 303
    return client
