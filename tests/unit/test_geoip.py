"""The visitor's country: a trusted proxy header counts only when it holds a real country code."""

from __future__ import annotations

import pytest

from zipshort.geoip import CountryLookup


@pytest.mark.parametrize("header,expected", [("us", "US"), ("XX", None), ("T1", None), ("USA", None), ("", None)])
def test_the_country_header_is_trusted_only_as_a_real_country_code(header, expected):
    lookup = CountryLookup("CF-IPCountry", "")
    assert lookup({"CF-IPCountry": header}, "203.0.113.5") == expected


def test_without_a_header_or_database_no_country_is_known():
    assert CountryLookup("", "")({"CF-IPCountry": "US"}, "203.0.113.5") is None
