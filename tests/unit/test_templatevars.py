"""Zipline's template variables (reference §6.11): one example per modifier, the blocked properties, unknown
types, ``\\n``, and properties for any input: never raises, bounded output, values never parsed again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zipshort.templatevars import LIMIT, human_bytes, render

CREATED = dt.datetime(2025, 1, 2, 15, 4, 5, 678000, tzinfo=dt.timezone.utc)
VALUES = {
    "file": {"name": "cat.png", "originalName": None, "size": 1_572_864, "views": 12, "favorite": True,
             "createdAt": CREATED, "deletesAt": None, "type": "image/png", "password": "$argon2id$…",
             "tags": [{"name": "t"}], "thumbnail": {"path": "/raw/x"}},
    "user": {"username": "Alice", "role": "USER", "avatar": "a.png", "view": {}},
    "link": {"returned": "https://s.example/u/cat.png", "raw": "https://s.example/raw/cat.png"},
    "metricsUser": lambda: {"files": 3, "urls": 1, "storage": 2048, "fileViews": 7, "urlViews": 0},
}


@pytest.mark.parametrize("template,expected", [
    # plain values, as JavaScript puts them in a string
    ("{file.name}", "cat.png"), ("{file.size}", "1572864"), ("{file.favorite}", "true"),
    ("{file.originalName}", "null"), ("{file.deletesAt}", "null"), ("{file.thumbnail}", "[object Object]"),
    ("{file.createdAt}", "Thu Jan 02 2025 15:04:05 GMT+0000 (Coordinated Universal Time)"),
    ("{link.returned}", "https://s.example/u/cat.png"), ("{metricsUser.storage::bytes}", "2 KB"),
    # dates
    ("{file.createdAt::locale}", "1/2/2025, 3:04:05\u202fPM"),
    ("{file.createdAt::locale::de-DE,Europe/Berlin}", "2.1.2025, 16:04:05"),
    ("{file.createdAt::time::en-GB}", "15:04:05"), ("{file.createdAt::date}", "1/2/2025"),
    ("{file.createdAt::date::en-GB,america/new_york}", "02/01/2025"),
    ("{file.createdAt::unix}", "1735830245"), ("{file.createdAt::iso}", "2025-01-02T15:04:05.678Z"),
    ("{file.createdAt::utc}", "Thu, 02 Jan 2025 15:04:05 GMT"), ("{file.createdAt::year}", "2025"),
    ("{file.createdAt::month}", "1"), ("{file.createdAt::day}", "2"), ("{file.createdAt::hour}", "15"),
    ("{file.createdAt::hour::en-US,Asia/Tokyo}", "0"), ("{file.createdAt::minute}", "4"),
    ("{file.createdAt::second}", "5"), ("{file.createdAt::ampm}", "pm"),
    ("{file.createdAt::nope}", "{unknown_date_modifier(nope)}"),
    ("{file.createdAt::locale::zz-!!,No/Where}", "1/2/2025, 3:04:05\u202fPM"),  # bad locale and zone: defaults
    # strings
    ("{user.username::upper}", "ALICE"), ("{user.username::lower}", "alice"), ("{file.type::title}", "Image/png"),
    ("{user.username::length}", "5"), ("{user.username::reverse}", "ecilA"), ("{user.username::hex}", "416c696365"),
    ("{user.username::base64}", "QWxpY2U="), ("{user.username::string}", "Alice"),
    ('{user.username::equalalice["me"||"not me"]}', "me"), ('{user.username::equalbob["me"||"not me"]}', "not me"),
    ('{file.type::startswithimage["pic"||"file"]}', "pic"),
    ('{file.name::endswithpng["png"||"other"]}', "png"), ('{file.type::includespng["y"||"n"]}', "y"),
    ("{file.type::equalx}", "{unknown_str_modifier(equalx)}"),  # a comparison needs its two tails
    ("{user.username::shout}", "{unknown_str_modifier(shout)}"),
    # numbers
    ("{file.size::comma}", "1,572,864"), ("{file.size::hex}", "180000"), ("{file.views::octal}", "14"),
    ("{file.views::binary}", "1100"), ("{file.size::bytes}", "1.5 MB"), ("{file.views::string}", "12"),
    ('{file.views::greater10["many"||"few"]}', "many"), ('{file.views::greaterequal12["y"||"n"]}', "y"),
    ('{file.views::equal12["y"||"n"]}', "y"), ('{file.views::lesser12["y"||"n"]}', "n"),
    ('{file.views::lesserequal12["y"||"n"]}', "y"), ("{file.views::bogus}", "{unknown_int_modifier(bogus)}"),
    # booleans
    ("{file.favorite::yesno}", "Yes"), ("{file.favorite::onoff}", "On"), ("{file.favorite::truefalse}", "True"),
    ("{file.favorite::string}", "true"), ('{file.favorite::istrue["★"||""]}', "★"),
    ('{file.favorite::isfalse["a"||"b"]}', "b"), ("{file.favorite::maybe}", "{unknown_bool_modifier(maybe)}"),
    # a missing value under a comparison takes the false tail
    ('{file.deletesAt::greater1["soon"||"never"]}', "never"), ("{file.deletesAt::upper}", "{unknown_modifier(upper)}"),
    # tails are templates themselves
    ('{file.favorite::istrue["by {user.username::upper}"||"x"]}', "by ALICE"),
    # blocked properties, unknown properties and types
    ("{file.password}", "{unknown_property}"), ("{user.avatar}", "{unknown_property}"),
    ("{file.tags}", "{unknown_property}"), ("{user.passkeys}", "{unknown_property}"),
    ("{user.oauthProviders}", "{unknown_property}"), ("{file.nothing}", "{unknown_property}"),
    ("{url.code}", "{unknown_type}"), ("{metricsZipline.files}", "{unknown_type}"), ("{FILE.name}", "{unknown_type}"),
    ("{other.name}", "{other.name}"), ("{file.name", "{file.name"), ("{}", "{}"),
    # \n
    ("a\\nb{file.name}\\n", "a\nbcat.png\n"),
])
def test_examples(template, expected):
    assert render(template, VALUES) == expected


def test_debug_redacts_secrets():
    data = json.loads(render("{debug.json}", VALUES))
    assert data["file"]["password"] == "***" and data["user"]["avatar"] == "***"
    assert data["file"]["createdAt"] == "2025-01-02T15:04:05.678Z" and data["url"] is None
    assert render("{debug.jsonf}", VALUES).startswith("{\n  ")


def test_metrics_are_asked_only_when_named():
    asked = []
    values = {**VALUES, "metricsZipline": lambda: asked.append(1) or {"files": 9}}
    assert render("{file.name}", values) == "cat.png" and asked == []
    assert render("{metricsZipline.files} {metricsZipline.files}", values) == "9 9" and asked == [1]


def test_values_are_never_parsed_again():
    values = {"file": {"name": "{debug.json}{user.username}"}, "user": {"username": "x"}}
    assert render("{file.name}", values) == "{debug.json}{user.username}"


def test_output_is_bounded():
    values = {"file": {"name": "n" * 5000}}
    assert len(render("{file.name}" * 100, values)) == LIMIT
    assert render("{file.name}" * 100, values, limit=10) == "n" * 10


def test_human_bytes_is_npm_bytes():
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 1048576, 1073741824 * 1.25, 1024 ** 5 * 3)] == \
        ["0 B", "1023 B", "1 KB", "1.5 KB", "1 MB", "1.25 GB", "3 PB"]


_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 60), 2 ** 60) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50) | st.datetimes(timezones=st.just(dt.timezone.utc)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5)
_props = st.dictionaries(st.sampled_from(["name", "size", "createdAt", "views", "x", "password", "tags"]), _value,
                         max_size=7)
_piece = st.one_of(
    st.text(max_size=20),
    st.builds(lambda t, p, m, tail: "{%s.%s%s%s}" % (t, p, m, tail),
              st.sampled_from(["file", "user", "url", "link", "debug", "metricsUser", "FILE", "nope"]),
              st.sampled_from(["name", "size", "createdAt", "views", "x", "password", "json", "jsonf"]),
              st.sampled_from(["", "::upper", "::bytes", "::comma", "::locale", "::hex", "::equal3", "::greater-1",
                               "::istrue", "::date", "::title", "::x"]),
              st.sampled_from(["", '["a"||"b"]', '["{file.name}"||"{debug.json}"]', "::en-US,UTC", "::de,nowhere",
                               "::en-GB,Pacific/Kiritimati", "::fr,Pacific/Niue",
                               "::"])))


@settings(max_examples=300, deadline=None)
@given(template=st.lists(_piece, max_size=12).map("".join), file=_props, user=_props,
       limit=st.integers(1, LIMIT))
def test_any_template_renders_within_its_limit(template, file, user, limit):
    out = render(template, {"file": file, "user": user, "link": {"returned": "r"}}, limit=limit, strict=True)
    assert isinstance(out, str) and len(out) <= limit


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_renders(text):
    out = render(text, VALUES, strict=True)
    assert isinstance(out, str) and len(out) <= LIMIT
    if "{" not in text and "\\n" not in text:
        assert out == text
