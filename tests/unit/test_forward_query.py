"""The merge of a visitor's query string into a destination (Shlink's forwardQuery, reference §11.2)."""

from __future__ import annotations

import pytest

from zipshort.destinations import forward_query


@pytest.mark.parametrize(("destination", "visitor", "location"), [
    # the reference's example: names verbatim, re-encoded RFC 3986 style (a space is %20)
    ("https://example.com", b"foo bar=123", "https://example.com?foo%20bar=123"),
    ("https://example.com", b"foo+bar=1+2", "https://example.com?foo%20bar=1%202"),
    # the destination's parameters first, the visitor's new ones after, in their order
    ("https://e.com/p?a=1&b=2", b"c=3&d=4", "https://e.com/p?a=1&b=2&c=3&d=4"),
    # the visitor wins a name in both, at the destination's place
    ("https://e.com/p?a=1&b=2", b"c=3&a=9", "https://e.com/p?a=9&b=2&c=3"),
    # a repeated name keeps every value; the visitor's replace all of the destination's
    ("https://e.com/p?a=1&a=2&b=x", b"a=8&a=9", "https://e.com/p?a=8&a=9&b=x"),
    # a name without "=" stays bare, an empty value keeps its "="
    ("https://e.com/p?flag&e=", b"other", "https://e.com/p?flag&e=&other"),
    # the destination's fragment stays last
    ("https://e.com/p?a=1#part", b"b=2", "https://e.com/p?a=1&b=2#part"),
    ("https://e.com/p#part", b"b=2", "https://e.com/p?b=2#part"),
    # the whole merged query is re-encoded, the destination's own parameters included
    ("https://e.com/p?q=a,b", b"z=%2F", "https://e.com/p?q=a%2Cb&z=%2F"),
    # UTF-8 stays percent-encoded, an IRI destination's characters too
    ("https://e.com/é?ü=1", b"n=%C3%A9", "https://e.com/é?%C3%BC=1&n=%C3%A9"),
    # empty parts are dropped
    ("https://e.com/p?a=1", b"&&b=2&", "https://e.com/p?a=1&b=2"),
])
def test_the_visitors_query_is_merged_as_shlink_merges_it(destination, visitor, location):
    assert forward_query(destination, visitor) == location


def test_without_a_visitor_query_the_destination_is_unchanged():
    assert forward_query("https://e.com/p?q=a,b&x", b"") == "https://e.com/p?q=a,b&x"
