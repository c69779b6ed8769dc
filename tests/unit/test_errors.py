"""ZipshortError: extra facts travel with the error and survive a dialect's rewording."""

from __future__ import annotations

import pytest

from zipshort.errors import NotFound, ValidationError


def test_an_error_has_no_extra_facts_unless_given():
    assert dict(ValidationError("bad").extra) == {}


def test_extra_facts_survive_a_dialects_wording_and_cannot_be_changed_afterwards():
    facts = {"shortCode": "abc", "domain": "s.example"}
    error = NotFound("No such link", code="short_url_not_found", extra=facts)
    facts["shortCode"] = "changed"  # the caller's dict is copied
    worded = error.with_message('No URL found with short code "abc"')
    assert type(worded) is NotFound and worded.status == 404 and worded.code == "short_url_not_found"
    assert dict(worded.extra) == {"shortCode": "abc", "domain": "s.example"}
    with pytest.raises(TypeError):
        worded.extra["shortCode"] = "x"  # type: ignore[index]
