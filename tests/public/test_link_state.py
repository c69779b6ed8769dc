"""One link state (active / disabled / expired / used up), the same in the redirect and in every dialect and page."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import Api, fresh
from tests.web.test_pages import log_in
from zipshort.errors import Gone
from zipshort.extensions import db
from zipshort.models import Link, User
from zipshort.services import links, redirects

STATES = {"act": links.ACTIVE, "off": links.DISABLED, "old": links.EXPIRED, "done": links.USED_UP}


@pytest.fixture
def walk(client, make_link, user):
    """One link of the user's in each state, reached the way a user reaches it."""
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    made = {"act": make_link(user, vanity="act"), "off": make_link(user, vanity="off", enabled=False),
            "old": make_link(user, vanity="old", expires_at=soon), "done": make_link(user, vanity="done", max_views=1)}
    db.session.query(Link).filter_by(id=made["old"].id).update(
        {"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
    db.session.commit()
    assert client.get("/go/done").status_code == 302  # its one view
    return {code: fresh(Link, link.id) for code, link in made.items()}


def test_state_function_names_each_state(walk):
    assert {code: links.link_state(link) for code, link in walk.items()} == STATES


def test_only_active_links_redirect(client, walk):
    for code, state in STATES.items():
        assert client.get(f"/go/{code}").status_code == (302 if state == links.ACTIVE else 404), code


def test_zipline_enabled_stays_the_stored_flag(api, walk):
    listed = {u["vanity"]: u["enabled"] for u in api.get("/api/user/urls").get_json()}
    assert listed == {"act": True, "off": False, "old": True, "done": True}
    assert api.get(f"/api/user/urls/{walk['old'].id}").get_json()["enabled"] is True


def test_hozip_is_active_only_when_active(client, user, make_key, walk):
    hozip = Api(client, make_key(user), style="token")
    listed = {r["short_code"]: r["is_active"] for r in hozip.get("/api/v1/external/links").get_json()["results"]}
    assert listed == {code: state == links.ACTIVE for code, state in STATES.items()}


def test_h0p_is_active_only_when_active(client, user, make_key, walk):
    h0p = Api(client, make_key(user), style="x-api-key")
    listed = {r["slug"]: r["isActive"] for r in h0p.get("/short-link/list").get_json()["data"]}
    assert listed == {code: state == links.ACTIVE for code, state in STATES.items()}
    for code, link in walk.items():
        assert h0p.get(f"/short-link/{link.id}").get_json()["isActive"] is (code == "act")


def test_links_page_shows_the_state_word(client, walk):
    assert log_in(client).status_code == 303
    html = client.get("/dashboard/urls").get_data(as_text=True)
    for code, state in STATES.items():
        row = re.search(rf"<tr>(?:(?!</tr>).)*/go/{code}\".*?</tr>", html, re.S).group(0)
        assert re.search(rf'<span class="badge[^"]*">{state}</span>', row), (code, row)
        assert ">on<" not in row


def test_owner_disabled_reads_disabled_and_does_not_redirect(client, make_link, user):
    link = make_link(user, vanity="own")
    db.session.query(User).filter_by(id=user.id).update({"disabled": True})
    db.session.commit()
    assert links.link_state(fresh(Link, link.id), owner_disabled=True) == links.DISABLED
    assert client.get("/go/own").status_code == 404


@pytest.mark.parametrize("offset,expected", [(-1, links.ACTIVE), (0, links.EXPIRED), (1, links.EXPIRED)])
def test_expiry_boundary_agrees_between_the_redirect_and_the_state(rt, make_link, user, offset, expected):
    link = make_link(user, vanity="edge", expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    at = fresh(Link, link.id).expires_at + dt.timedelta(microseconds=offset)
    assert links.link_state(fresh(Link, link.id), now=at) == expected
    if expected == links.ACTIVE:
        assert redirects.follow(rt, "edge", "localhost", now=at, count=False).destination == "https://example.com/"
    else:
        with pytest.raises(Gone):
            redirects.follow(rt, "edge", "localhost", now=at, count=False)


@pytest.mark.parametrize("views,expected", [(2, links.ACTIVE), (3, links.USED_UP)])
def test_view_limit_boundary_agrees_between_the_redirect_and_the_state(rt, make_link, user, views, expected):
    link = make_link(user, vanity="lim", max_views=3)
    db.session.query(Link).filter_by(id=link.id).update({"views": views})
    db.session.commit()
    assert links.link_state(fresh(Link, link.id)) == expected
    if expected == links.ACTIVE:
        assert redirects.follow(rt, "lim", "localhost", count=False).destination == "https://example.com/"
    else:
        with pytest.raises(Gone):
            redirects.follow(rt, "lim", "localhost", count=False)
