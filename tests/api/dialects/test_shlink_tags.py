"""Shlink's tags: list (sorted, searched, paged), stats (counts, visits, order), rename, delete, key roles."""

from __future__ import annotations

import pytest

from tests.api.dialects.test_shlink_base import assert_problem
from tests.api.dialects.test_shlink_short_urls import create, role_key
from tests.conftest import Api
from tests.services.test_visitstats import CHROME, GOOGLEBOT, plant
from zipshort.extensions import db
from zipshort.models import Link, Tag, utcnow
from zipshort.services import tags as tag_service


@pytest.fixture
def shlink(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


def names(api, query: str = "") -> list[str]:
    res = api.get(f"/rest/v3/tags{query}")
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["tags"]["data"]


def test_list_is_every_tag_sorted_with_all_on_one_page(shlink, user):
    assert shlink.get("/rest/v3/tags").get_json() == {"tags": {"data": [], "pagination": {
        "currentPage": 1, "pagesCount": 1, "itemsPerPage": 1, "itemsInCurrentPage": 0, "totalItems": 0}}}
    create(shlink, tags=["foo", "bar", "baz"])
    tag_service.create_tag(user, "unused", "#ffffff")
    assert names(shlink) == ["bar", "baz", "foo", "unused"]
    assert names(shlink, "?orderBy=tag-DESC") == ["unused", "foo", "baz", "bar"]
    assert names(shlink, "?searchTerm=BA") == ["bar", "baz"]
    page = shlink.get("/rest/v3/tags?itemsPerPage=3&page=2").get_json()["tags"]
    assert page["data"] == ["unused"] and page["pagination"] == {
        "currentPage": 2, "pagesCount": 2, "itemsPerPage": 3, "itemsInCurrentPage": 1, "totalItems": 4}
    assert_problem(shlink.get("/rest/v3/tags?page=0"), 400, "invalid-data")


def test_stats(shlink, rt):
    create(shlink, customSlug="a", tags=["foo", "bar"])
    create(shlink, customSlug="b", tags=["foo"])
    links = {link.slug: link for link in db.session.scalars(db.select(Link))}
    now = utcnow()
    plant(rt, links["a"], now, agent=CHROME)
    plant(rt, links["b"], now, now, agent=GOOGLEBOT)
    data = shlink.get("/rest/v3/tags/stats").get_json()["tags"]["data"]
    assert data == [
        {"tag": "bar", "shortUrlsCount": 1, "visitsSummary": {"total": 1, "nonBots": 1, "bots": 0}},
        {"tag": "foo", "shortUrlsCount": 2, "visitsSummary": {"total": 3, "nonBots": 1, "bots": 2}},
    ]
    order = lambda q: [row["tag"] for row in shlink.get(f"/rest/v3/tags/stats?orderBy={q}").get_json()["tags"]["data"]]  # noqa: E731
    assert order("shortUrlsCount-DESC") == ["foo", "bar"]
    assert order("visits-ASC") == ["bar", "foo"]
    assert order("nonBotVisits-DESC") == ["bar", "foo"]  # a tie, broken by name
    assert order("nonsense-DESC") == ["foo", "bar"]  # an unknown field sorts by tag


def test_rename(shlink, user):
    create(shlink, tags=["foo", "bar"])
    assert shlink.put("/rest/v3/tags", json={"oldName": "foo", "newName": "fooRenamed"}).status_code == 204
    assert names(shlink) == ["bar", "fooRenamed"]  # the case is kept
    assert shlink.put("/rest/v3/tags", json={"oldName": "bar", "newName": "bar"}).status_code == 204
    body = assert_problem(shlink.put("/rest/v3/tags", json={"oldName": "nope", "newName": "x"}), 404,
                          "tag-not-found")
    assert body["tag"] == "nope" and body["title"] == "Tag not found"
    body = assert_problem(shlink.put("/rest/v3/tags", json={"oldName": "bar", "newName": "FOORENAMED"}), 409,
                          "tag-conflict")
    assert body["oldName"] == "bar" and body["newName"] == "FOORENAMED"
    for bad in ({}, {"oldName": "bar"}, {"newName": "x"}, {"oldName": None, "newName": "x"}, {"oldName": 1}):
        res = assert_problem(shlink.put("/rest/v3/tags", json=bad), 400, "invalid-data")
        assert res["invalidElements"] == ["oldName", "newName"]
    assert_problem(shlink.put("/rest/v3/tags", json={"oldName": "bar", "newName": " "}), 400, "invalid-data")
    assert_problem(shlink.put("/rest/v3/tags", data="{"), 400, "malformed-request-body")


def test_delete(shlink):
    create(shlink, customSlug="a", tags=["foo", "bar", "baz"])
    assert shlink.delete("/rest/v3/tags?tags[]=foo&tags%5B%5D=baz&tags[]=unknown").status_code == 204
    assert names(shlink) == ["bar"]
    assert shlink.get("/rest/v3/short-urls/a").get_json()["tags"] == ["bar"]
    assert shlink.delete("/rest/v3/tags").status_code == 204
    assert shlink.delete("/rest/v3/tags?tags[]=BAR").status_code == 204  # exact names
    assert names(shlink) == ["bar"]


def test_restricted_keys_see_their_tags_and_cannot_rename_or_delete(client, shlink, user, make_key, own_domain):
    create(shlink, tags=["admin-only"])
    authored = Api(client, role_key(user, make_key, authored_only=True), style="x-api-key")
    create(authored, tags=["mine"])
    assert names(authored) == ["mine"] and names(shlink) == ["admin-only", "mine"]
    own_domain(user, "go.example")
    bound = Api(client, role_key(user, make_key, domain="go.example", name="bound"), style="x-api-key")
    assert names(bound) == []
    for api in (authored, bound):
        body = assert_problem(api.put("/rest/v3/tags", json={"oldName": "mine", "newName": "x"}), 403,
                              "forbidden-tag-operation")
        assert body["detail"] == "You are not allowed to rename tags"
        assert_problem(api.delete("/rest/v3/tags?tags[]=mine"), 403, "forbidden-tag-operation")
    assert db.session.scalar(db.select(db.func.count()).select_from(Tag)) == 2


def test_another_users_tags_are_apart(client, shlink, make_user, make_key):
    create(shlink, tags=["alice"])
    bob = Api(client, make_key(make_user("bob")), style="x-api-key")
    create(bob, tags=["bob"])
    assert names(bob) == ["bob"]
    assert_problem(bob.put("/rest/v3/tags", json={"oldName": "alice", "newName": "x"}), 404, "tag-not-found")
    assert bob.delete("/rest/v3/tags?tags[]=alice").status_code == 204
    assert names(shlink) == ["alice"]
