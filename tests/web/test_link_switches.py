"""The link form's Shlink switches: live from (validSince), forward the query string, crawlable."""

from __future__ import annotations

import datetime as dt

from tests.conftest import fresh
from tests.web.test_pages import csrf
from zipshort.models import Link


def test_the_link_form_sets_and_shows_the_start_and_the_switches(browser, user):
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "https://example.com/a",
                                                "vanity": "sw", "enabled": "on", "valid_since": "2031-05-06T07:08",
                                                "forward_query": "on", "crawlable": "on"})
    assert res.status_code == 303
    link = fresh(Link, Link.query.filter_by(slug="sw").one().id)
    assert (link.valid_since, link.forward_query, link.crawlable) == (
        dt.datetime(2031, 5, 6, 7, 8, tzinfo=dt.timezone.utc), True, True)
    assert "not yet valid" in browser.get("/dashboard/urls").get_data(as_text=True)
    edit = browser.get(f"/dashboard/urls/{link.id}/edit").get_data(as_text=True)
    assert 'name="valid_since" type="datetime-local" value="2031-05-06T07:08"' in edit
    assert 'name="forward_query" checked' in edit and 'name="crawlable" checked' in edit
    assert "<details class=\"span-all link-more\" open>" in edit


def test_the_edit_form_clears_the_start_and_the_switches(browser, user, make_link):
    link = make_link(user, vanity="sw", valid_since=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc),
                     forward_query=True, crawlable=True)
    edit = browser.get(f"/dashboard/urls/{link.id}/edit")
    res = browser.post(f"/dashboard/urls/{link.id}", data={"csrf_token": csrf(edit), "destination": "https://e.com/",
                                                           "vanity": "sw", "enabled": "on"})
    assert res.status_code == 303
    link = fresh(Link, link.id)
    assert (link.valid_since, link.forward_query, link.crawlable) == (None, False, False)


def test_a_bad_start_is_shown_again_and_nothing_is_created(browser):
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "https://example.com/a",
                                                "valid_since": "tomorrow", "crawlable": "on"}, follow_redirects=True)
    body = res.get_data(as_text=True)
    assert "Live from must be a date and time" in body and 'name="crawlable" checked' in body
    assert Link.query.count() == 0
