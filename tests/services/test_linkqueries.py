"""Reading links: the owner's only, listed newest first, searched literally, paged, filtered by destination."""

from __future__ import annotations

import pytest

from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.services import linkqueries


@pytest.fixture
def three(user, make_user, make_link):
    make_link(make_user("bob"), destination="https://bob.example/", vanity="bobs")
    return [make_link(user, destination=f"https://example.com/{name}", vanity=name)
            for name in ("first", "second_one", "third")]


def test_get_owned_link_finds_the_owners_and_refuses_unknown(user, make_user, three):
    assert linkqueries.get_owned_link(user, three[0].id).id == three[0].id
    assert linkqueries.list_links(make_user("carol")) == []
    with pytest.raises(NotFound):
        linkqueries.get_owned_link(user, "no-such-link")


def test_someone_elses_link_is_forbidden(user, make_user, make_link):
    theirs = make_link(make_user("bob"))
    with pytest.raises(Forbidden):
        linkqueries.get_owned_link(user, theirs.id)


def test_lists_are_newest_first_and_the_owners_only(user, three):
    assert [link.vanity for link in linkqueries.list_links(user)] == ["third", "second_one", "first"]


def test_search_is_case_insensitive_and_literal(user, three):
    assert [link.vanity for link in linkqueries.list_links(user, "vanity", "SECOND")] == ["second_one"]
    assert [link.vanity for link in linkqueries.list_links(user, "vanity", "_")] == ["second_one"]  # not a wildcard
    assert linkqueries.list_links(user, "destination", "%") == []


@pytest.mark.parametrize("field,query", [("password", "x"), ("vanity", "a\x00")])
def test_bad_searches_are_refused(user, field, query):
    with pytest.raises(ValidationError):
        linkqueries.list_links(user, field, query)


def test_pages_and_totals(user, three):
    page, total = linkqueries.page_links(user, page=2, per_page=2)
    assert [link.vanity for link in page] == ["first"] and total == 3
    with pytest.raises(ValidationError):
        linkqueries.page_links(user, page=0)


def test_query_by_exact_destination_or_prefix(user, three):
    exact, total = linkqueries.query_links(user, 10, 0, "https://example.com/third")
    assert [link.vanity for link in exact] == ["third"] and total == 1
    prefixed, total = linkqueries.query_links(user, 10, 0, "https://example.com/", match="prefix")
    assert total == 3 and len(prefixed) == 3
    everything, total = linkqueries.query_links(user, 1, 0)
    assert len(everything) == 1 and total == 3  # the owner's counter
