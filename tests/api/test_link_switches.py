"""Shlink's link switches (validSince, forwardQuery, crawlable) through the other dialects: Zipline v4's URL
objects show and edit them (zipshort's additions, beside tags and rules); h0p's object keeps the seed's exact
shape, so there only ``isActive`` shows a link before its start; other links keep the switches off."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.dialects.test_h0p import h0p  # noqa: F401  (the fixture)
from zipshort.models import utcnow


def test_zipline_creates_shows_and_edits_the_switches(api, client):
    res = api.post("/api/user/urls", json={"destination": "https://e.com/p?a=1", "vanity": "zsw",
                                           "validSince": "2031-05-06T07:08:09Z", "forwardQuery": True,
                                           "crawlable": True})
    assert res.status_code == 200, res.get_json()
    made = res.get_json()
    assert (made["validSince"], made["forwardQuery"], made["crawlable"]) == ("2031-05-06T07:08:09.000Z", True, True)
    assert client.get("/go/zsw").status_code == 404  # not live before its start
    edited = api.patch(f"/api/user/urls/{made['id']}", json={"validSince": None, "crawlable": False}).get_json()
    assert (edited["validSince"], edited["forwardQuery"], edited["crawlable"]) == (None, True, False)
    assert client.get("/go/zsw?a=2&b=3").headers["Location"] == "https://e.com/p?a=2&b=3"


def test_zipline_links_keep_the_switches_off_unless_asked(api, client):
    made = api.post("/api/user/urls", json={"destination": "https://e.com/p", "vanity": "plain"}).get_json()
    assert (made["validSince"], made["forwardQuery"], made["crawlable"]) == (None, False, False)
    assert client.get("/go/plain?x=1").headers["Location"] == "https://e.com/p"


@pytest.mark.parametrize(("field", "value"), [("forwardQuery", "yes"), ("crawlable", 1), ("validSince", "soon")])
def test_zipline_refuses_a_bad_switch(api, field, value):
    res = api.post("/api/user/urls", json={"destination": "https://e.com/", field: value})
    assert res.status_code == 400 and field in res.get_json()["error"]


def test_h0p_shows_a_link_before_its_start_as_inactive(h0p, make_link, user):  # noqa: F811
    link = make_link(user, vanity="hsw", valid_since=utcnow() + dt.timedelta(hours=1))
    assert h0p.get(f"/short-link/{link.id}").get_json()["isActive"] is False
