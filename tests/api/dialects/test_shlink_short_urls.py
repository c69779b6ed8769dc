"""Shlink's short URLs: create (every field, slug rules, findIfExists), shorten, get, edit, delete (threshold),
list (filters, order, pages), the ShortUrl object, key roles, bad input, races."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.api.dialects.test_shlink_base import ERROR, assert_problem
from tests.conftest import Api, burst, count, fetch
from tests.services.test_visitstats import CHROME, GOOGLEBOT, plant
from zipshort.extensions import db
from zipshort.models import Link, utcnow

KEYS = ["shortUrl", "shortCode", "longUrl", "dateCreated", "tags", "meta", "domain", "title", "crawlable",
        "forwardQuery", "visitsSummary", "hasRedirectRules"]
ATOM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


@pytest.fixture
def shlink(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


def create(shlink, **body):
    res = shlink.post("/rest/v3/short-urls", json={"longUrl": "https://example.com/", **body})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


def role_key(user, make_key, authored_only=False, domain=None, name="role"):
    return make_key(user, name=name, authored_only=authored_only, domain=domain)


def listing(shlink, query: str = "") -> dict:
    res = shlink.get(f"/rest/v3/short-urls{query}")
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["shortUrls"]


def codes(shlink, query: str = "") -> list[str]:
    return [item["shortCode"] for item in listing(shlink, query)["data"]]


# --- create ----------------------------------------------------------------------------------------------

def test_create_minimal_is_200_with_every_key_in_order_and_shlink_defaults(shlink):
    item = create(shlink)
    assert list(item) == KEYS
    assert item["longUrl"] == "https://example.com/" and item["domain"] is None and item["title"] is None
    assert item["forwardQuery"] is True and item["crawlable"] is False and item["hasRedirectRules"] is False
    assert item["tags"] == [] and item["meta"] == {"validSince": None, "validUntil": None, "maxVisits": None}
    assert item["visitsSummary"] == {"total": 0, "nonBots": 0, "bots": 0}
    assert ATOM.fullmatch(item["dateCreated"])
    assert item["shortUrl"] == f"http://localhost/go/{item['shortCode']}"


def test_create_with_every_field(shlink):
    item = create(shlink, customSlug="my cool slug", tags=["fo o", "  bar", "UUU", "bar"], title="Landing",
                  validSince="2025-01-01T00:00:00+02:00", validUntil="2099-12-31T23:59:59+00:00", maxVisits=500,
                  crawlable=True, forwardQuery=False, apiKey="ignored", deviceLongUrls={"android": "x"})
    assert item["shortCode"] == "my-cool-slug" and item["title"] == "Landing"
    assert sorted(item["tags"]) == ["bar", "fo-o", "uuu"]
    assert item["meta"] == {"validSince": "2024-12-31T22:00:00+00:00", "validUntil": "2099-12-31T23:59:59+00:00",
                            "maxVisits": 500}
    assert item["crawlable"] is True and item["forwardQuery"] is False
    link = db.session.get(Link, db.session.scalars(db.select(Link.id)).one())
    assert link.forward_query is False and link.crawlable is True


def test_body_is_json_whatever_the_content_type(shlink):
    res = shlink.post("/rest/v3/short-urls", data='{"longUrl": "https://example.com/x"}',
                      headers={"Content-Type": "text/plain"})
    assert res.status_code == 200 and res.get_json()["longUrl"] == "https://example.com/x"


def test_malformed_body(shlink, client):
    assert_problem(shlink.post("/rest/v3/short-urls", data="{nope"), 400, "malformed-request-body")
    assert_problem(shlink.post("/rest/v3/short-urls", data="[1]"), 400, "malformed-request-body")


@pytest.mark.parametrize("body,element", [
    ({}, "longUrl"), ({"longUrl": None}, "longUrl"), ({"longUrl": "  "}, "longUrl"), ({"longUrl": 5}, "longUrl"),
    ({"longUrl": "foo.com"}, "longUrl"), ({"longUrl": "javascript:alert(1)"}, "longUrl"),
    ({"customSlug": 5}, "customSlug"), ({"customSlug": ""}, "customSlug"), ({"customSlug": "a?b"}, "customSlug"),
    ({"customSlug": "a#b"}, "customSlug"), ({"customSlug": "a@b"}, "customSlug"), ({"pathPrefix": []}, "pathPrefix"),
    ({"pathPrefix": "x:y"}, "pathPrefix"), ({"shortCodeLength": 3}, "shortCodeLength"),
    ({"shortCodeLength": "5"}, "shortCodeLength"), ({"shortCodeLength": True}, "shortCodeLength"),
    ({"maxVisits": 0}, "maxVisits"), ({"maxVisits": -1}, "maxVisits"), ({"maxVisits": "5"}, "maxVisits"),
    ({"maxVisits": 1.5}, "maxVisits"), ({"validSince": "tomorrow"}, "validSince"), ({"validSince": 5}, "validSince"),
    ({"validUntil": "2025-13-01T00:00:00+00:00"}, "validUntil"), ({"validUntil": {}}, "validUntil"),
    ({"tags": "a"}, "tags"), ({"tags": [1]}, "tags"), ({"tags": [["a"]]}, "tags"), ({"title": 5}, "title"),
    ({"title": ["x"]}, "title"), ({"crawlable": "yes"}, "crawlable"), ({"forwardQuery": 1}, "forwardQuery"),
    ({"findIfExists": "true"}, "findIfExists"), ({"domain": 5}, "domain"), ({"domain": "not a domain"}, "domain"),
    ({"domain": "unknown.example"}, "domain"), ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
])
def test_bad_create_fields_are_invalid_data_naming_them(shlink, body, element):
    data = {"longUrl": "https://example.com/", **body} if "longUrl" not in body and body else body
    body_json = assert_problem(shlink.post("/rest/v3/short-urls", json=data), 400, "invalid-data")
    assert body_json["invalidElements"] == [element] and body_json["title"] == "Invalid data"
    assert count(Link) == 0


def test_every_bad_field_is_named(shlink):
    bad = {"longUrl": "x", "shortCodeLength": 2, "maxVisits": "many", "tags": "a", "crawlable": "no"}
    body = assert_problem(shlink.post("/rest/v3/short-urls", json=bad), 400, "invalid-data")
    assert body["invalidElements"] == ["longUrl", "shortCodeLength", "tags", "crawlable", "maxVisits"]
    create(shlink, customSlug="e0")
    body = assert_problem(shlink.patch("/rest/v3/short-urls/e0", json={"maxVisits": 0, "validSince": "x", "title": 1}),
                          400, "invalid-data")
    assert sorted(body["invalidElements"]) == ["maxVisits", "title", "validSince"]


def test_a_past_valid_until_is_taken_and_the_link_is_born_expired(shlink, client):
    item = create(shlink, customSlug="past", validUntil="2021-01-01T00:00:00+00:00")
    assert item["meta"]["validUntil"] == "2021-01-01T00:00:00+00:00"
    assert client.get("/go/past").status_code != 302
    assert codes(shlink, "?excludePastValidUntil=true") == []
    edited = shlink.patch("/rest/v3/short-urls/past", json={"validUntil": "2020-01-01T00:00:00+00:00"})
    assert edited.get_json()["meta"]["validUntil"] == "2020-01-01T00:00:00+00:00"


def test_create_answers_tags_as_get_does(shlink):
    made = create(shlink, customSlug="t", tags=["foo", "bar", "baz baz"])
    assert made["tags"] == ["bar", "baz-baz", "foo"] == shlink.get("/rest/v3/short-urls/t").get_json()["tags"]


def test_slug_taken_is_non_unique_slug(shlink, own_domain, user):
    create(shlink, customSlug="taken")
    body = assert_problem(shlink.post("/rest/v3/short-urls", json={"longUrl": "https://e.com/", "customSlug": "taken"}),
                          400, "non-unique-slug")
    assert body["customSlug"] == "taken" and "domain" not in body and body["title"] == "Invalid custom slug"
    own_domain(user, "go.example")
    create(shlink, customSlug="mine", domain="go.example")
    body = assert_problem(shlink.post("/rest/v3/short-urls", json={
        "longUrl": "https://e.com/", "customSlug": "mine", "domain": "go.example"}), 400, "non-unique-slug")
    assert body["domain"] == "go.example"


def test_custom_domain_and_default_domain_names(shlink, own_domain, user):
    own_domain(user, "go.example")
    item = create(shlink, domain="go.example", customSlug="x1")
    assert item["domain"] == "go.example" and item["shortUrl"] == "http://go.example/go/x1"
    assert create(shlink, domain="localhost", customSlug="x2")["domain"] is None  # the default domain's name


def test_short_code_length_and_path_prefix(shlink):
    assert len(create(shlink, shortCodeLength=9)["shortCode"]) == 9
    prefixed = create(shlink, pathPrefix="foo/b  ar")
    assert prefixed["shortCode"].startswith("foo-b--ar") and len(prefixed["shortCode"]) == len("foo-b--ar") + 6
    assert create(shlink, pathPrefix="pre-", customSlug="slug")["shortCode"] == "pre-slug"


def test_find_if_exists(shlink):
    first = create(shlink, tags=["a", "b"], maxVisits=5)
    again = create(shlink, findIfExists=True)
    assert again["shortCode"] == first["shortCode"]
    assert create(shlink, findIfExists=True, tags=["B", "a"])["shortCode"] == first["shortCode"]
    assert create(shlink, findIfExists=True, tags=["a"])["shortCode"] != first["shortCode"]  # exact tag set
    assert create(shlink, findIfExists=True, maxVisits=6)["shortCode"] != first["shortCode"]
    assert create(shlink, findIfExists=True, title="not compared")["shortCode"] == first["shortCode"]
    other = create(shlink, longUrl="https://other.example/", findIfExists=True)
    assert other["shortCode"] != first["shortCode"]
    slugged = create(shlink, customSlug="s1")
    assert create(shlink, customSlug="s1", findIfExists=True)["shortCode"] == slugged["shortCode"]
    res = shlink.post("/rest/v3/short-urls", json={"longUrl": "https://else.example/", "customSlug": "s1",
                                                   "findIfExists": True})
    assert_problem(res, 400, "non-unique-slug")
    assert count(Link) == 5


# --- shorten ---------------------------------------------------------------------------------------------

def test_shorten_takes_the_key_in_the_query(client, user, make_key):
    key = make_key(user)
    res = client.get(f"/rest/v3/short-urls/shorten?apiKey={key}&longUrl=https://example.com/s&format=TXT")
    assert res.status_code == 200 and res.mimetype == "text/plain"
    assert re.fullmatch(r"http://localhost/go/\w+", res.get_data(as_text=True))
    res = client.get(f"/rest/v3/short-urls/shorten?apiKey={key}&longUrl=https://example.com/s")
    assert res.status_code == 200 and list(res.get_json()) == KEYS and res.get_json()["forwardQuery"] is True
    res = client.get(f"/rest/v3/short-urls/shorten?apiKey={key}&longUrl=https://example.com/s",
                     headers={"Accept": "text/plain, application/json"})
    assert res.mimetype == "text/plain"
    body = assert_problem(client.get("/rest/v3/short-urls/shorten?longUrl=https://example.com/"), 401,
                          "missing-authentication")
    assert body["param"] == "apiKey"
    assert_problem(client.get("/rest/v3/short-urls/shorten?apiKey=bad&longUrl=https://e.com/"), 401,
                   "invalid-api-key")
    body = assert_problem(client.get(f"/rest/v3/short-urls/shorten?apiKey={key}"), 400, "invalid-data")
    assert body["invalidElements"] == ["longUrl"]


class TestShortenWithoutKeyInQuery:
    @pytest.fixture
    def overrides(self):
        return {"shlink": {"key_in_query": False}}

    def test_query_key_is_not_read(self, client, user, make_key):
        key = make_key(user)
        res = client.get(f"/rest/v3/short-urls/shorten?apiKey={key}&longUrl=https://example.com/")
        assert res.status_code == 401
        res = client.get("/rest/v3/short-urls/shorten?longUrl=https://example.com/", headers={"X-Api-Key": key})
        assert res.status_code == 200


# --- get, edit, delete -----------------------------------------------------------------------------------

def test_get_is_the_same_object_as_create_and_list(shlink):
    made = create(shlink, tags=["one"], customSlug="abc")
    assert shlink.get("/rest/v3/short-urls/abc").get_json() == made
    assert listing(shlink)["data"] == [made]


def test_get_unknown(shlink, own_domain, user):
    body = assert_problem(shlink.get("/rest/v3/short-urls/nope"), 404, "short-url-not-found")
    assert body["shortCode"] == "nope" and "domain" not in body and body["title"] == "Short URL not found"
    create(shlink, customSlug="abc")
    body = assert_problem(shlink.get("/rest/v3/short-urls/abc?domain=go.example"), 404, "short-url-not-found")
    assert body["domain"] == "go.example"
    assert body["detail"] == 'No URL found with short code "abc" for domain "go.example"'
    assert shlink.get("/rest/v3/short-urls/abc?domain=localhost").status_code == 200
    own_domain(user, "go.example")
    create(shlink, customSlug="xyz", domain="go.example")
    assert shlink.get("/rest/v3/short-urls/xyz").status_code == 404  # no fallback between domains
    assert shlink.get("/rest/v3/short-urls/xyz?domain=go.example").get_json()["domain"] == "go.example"


def test_get_shows_a_disabled_link(shlink):
    create(shlink, customSlug="old", validSince="2090-01-01T00:00:00+00:00")
    assert shlink.get("/rest/v3/short-urls/old").status_code == 200


def test_edit(shlink):
    create(shlink, customSlug="e1", tags=["a", "b"], title="T", maxVisits=5, validUntil="2099-01-01T00:00:00+00:00")
    res = shlink.patch("/rest/v3/short-urls/e1", json={"longUrl": "https://new.example/", "tags": ["C d", "a"],
                                                       "crawlable": True, "forwardQuery": False,
                                                       "validSince": "2025-01-01T00:00:00+00:00"})
    item = res.get_json()
    assert res.status_code == 200 and item["longUrl"] == "https://new.example/" and sorted(item["tags"]) == ["a", "c-d"]
    assert item["crawlable"] is True and item["forwardQuery"] is False and item["title"] == "T"
    assert item["meta"] == {"validSince": "2025-01-01T00:00:00+00:00", "validUntil": "2099-01-01T00:00:00+00:00",
                            "maxVisits": 5}
    item = shlink.patch("/rest/v3/short-urls/e1", json={"validSince": None, "validUntil": None, "maxVisits": None,
                                                        "title": None, "longUrl": None, "tags": None}).get_json()
    assert item["meta"] == {"validSince": None, "validUntil": None, "maxVisits": None} and item["title"] is None
    assert item["longUrl"] == "https://new.example/" and sorted(item["tags"]) == ["a", "c-d"]
    assert shlink.patch("/rest/v3/short-urls/e1", json={"tags": []}).get_json()["tags"] == []
    assert shlink.patch("/rest/v3/short-urls/e1", data="").status_code == 200  # an empty body changes nothing


@pytest.mark.parametrize("body,element", [
    ({"longUrl": "nope"}, "longUrl"), ({"maxVisits": "x"}, "maxVisits"), ({"validSince": "x"}, "validSince"),
    ({"validUntil": 7}, "validUntil"), ({"tags": "a"}, "tags"), ({"title": 1}, "title"),
    ({"crawlable": "x"}, "crawlable"), ({"forwardQuery": None, "crawlable": 0}, "crawlable"),
])
def test_bad_edit_is_invalid_data_even_for_an_unknown_code(shlink, body, element):
    create(shlink, customSlug="e1")
    for code in ("e1", "unknown"):
        res = assert_problem(shlink.patch(f"/rest/v3/short-urls/{code}", json=body), 400, "invalid-data")
        assert res["invalidElements"] == [element]


def test_edit_unknown(shlink):
    assert_problem(shlink.patch("/rest/v3/short-urls/nope", json={}), 404, "short-url-not-found")


def test_delete(shlink):
    create(shlink, customSlug="d1")
    assert shlink.delete("/rest/v3/short-urls/d1").status_code == 204
    assert_problem(shlink.delete("/rest/v3/short-urls/d1"), 404, "short-url-not-found")
    assert count(Link) == 0


class TestDeleteThreshold:
    @pytest.fixture
    def overrides(self):
        return {"shlink": {"delete_threshold": 2}}

    def test_refused_from_the_threshold_on(self, shlink, client, rt):
        create(shlink, customSlug="d1")
        create(shlink, customSlug="d2")
        client.get("/go/d1")
        assert shlink.delete("/rest/v3/short-urls/d1").status_code == 204  # 1 < 2
        for _ in range(2):
            client.get("/go/d2")
        from zipshort.services.visits import flush_views

        flush_views(db.engine, rt.views, rt.leases)
        body = assert_problem(shlink.delete("/rest/v3/short-urls/d2"), 422, "invalid-short-url-deletion")
        assert body["threshold"] == 2 and body["shortCode"] == "d2" and body["title"] == "Cannot delete short URL"
        assert count(Link) == 1


# --- list ------------------------------------------------------------------------------------------------

def test_list_pagination(shlink):
    empty = listing(shlink)
    assert empty == {"data": [], "pagination": {"currentPage": 1, "pagesCount": 1, "itemsPerPage": 10,
                                                "itemsInCurrentPage": 0, "totalItems": 0}}
    for i in range(12):
        create(shlink, customSlug=f"c{i:02d}")
    first = listing(shlink)
    assert len(first["data"]) == 10 and first["pagination"] == {
        "currentPage": 1, "pagesCount": 2, "itemsPerPage": 10, "itemsInCurrentPage": 10, "totalItems": 12}
    assert listing(shlink, "?page=2")["pagination"]["itemsInCurrentPage"] == 2
    assert listing(shlink, "?page=9")["data"] == []
    everything = listing(shlink, "?itemsPerPage=-1")
    assert len(everything["data"]) == 12 and everything["pagination"]["itemsPerPage"] == 12
    assert listing(shlink, "?itemsPerPage=5&page=3")["pagination"] == {
        "currentPage": 3, "pagesCount": 3, "itemsPerPage": 5, "itemsInCurrentPage": 2, "totalItems": 12}
    assert codes(shlink, "?itemsPerPage=3")[:3] == ["c11", "c10", "c09"]  # newest first


@pytest.mark.parametrize("query,elements", [
    ("?page=0", ["page"]), ("?page=-1", ["page"]), ("?page=x", ["page"]), ("?itemsPerPage=0", ["itemsPerPage"]),
    ("?itemsPerPage=x", ["itemsPerPage"]), ("?orderBy=nope", ["orderBy"]), ("?orderBy=title-UP", ["orderBy"]),
    ("?tagsMode=invalid&orderBy=invalid", ["orderBy", "tagsMode"]), ("?excludeTagsMode=some", ["excludeTagsMode"]),
    ("?startDate=yesterday", ["startDate"]), ("?endDate=2025-02-30", ["endDate"]),
    ("?excludeMaxVisitsReached=maybe", ["excludeMaxVisitsReached"]),
    ("?page=99999999999999999", ["page"]),
])
def test_bad_list_parameters(shlink, query, elements):
    assert assert_problem(shlink.get(f"/rest/v3/short-urls{query}"), 400, "invalid-data")["invalidElements"] == \
        elements


def test_list_filters(shlink, own_domain, user, rt, client):
    own_domain(user, "go.example")
    create(shlink, customSlug="alpha", longUrl="https://one.example/", tags=["red", "blue"], title="First page")
    create(shlink, customSlug="beta", longUrl="https://two.example/", tags=["red"], maxVisits=1)
    create(shlink, customSlug="gamma", longUrl="https://three.example/", tags=["green"],
           validUntil="2090-01-01T00:00:00+00:00", domain="go.example")
    create(shlink, customSlug="delta", longUrl="https://four.example/")
    assert codes(shlink, "?searchTerm=TWO") == ["beta"]
    assert codes(shlink, "?searchTerm=first") == ["alpha"]
    assert codes(shlink, "?searchTerm=gree") == ["gamma"]  # tag names
    assert codes(shlink, "?searchTerm=go.exa") == ["gamma"]  # the domain
    assert sorted(codes(shlink, "?searchTerm=localh")) == ["alpha", "beta", "delta"]  # the default domain
    assert codes(shlink, "?searchTerm=100%25") == []
    assert sorted(codes(shlink, "?tags[]=red&tags[]=green")) == ["alpha", "beta", "gamma"]
    assert sorted(codes(shlink, "?tags%5B%5D=RED&tags%5B%5D=blue&tagsMode=all")) == ["alpha"]
    assert sorted(codes(shlink, "?tags[0]=blue")) == ["alpha"]
    assert sorted(codes(shlink, "?excludeTags[]=red")) == ["delta", "gamma"]
    assert sorted(codes(shlink, "?excludeTags[]=red&excludeTags[]=blue&excludeTagsMode=all")) == \
        ["beta", "delta", "gamma"]
    assert codes(shlink, "?domain=go.example") == ["gamma"]
    assert sorted(codes(shlink, "?domain=DEFAULT")) == ["alpha", "beta", "delta"]
    assert codes(shlink, "?domain=localhost") == []
    client.get("/go/beta")
    from zipshort.services.visits import flush_views

    flush_views(db.engine, rt.views, rt.leases)
    assert "beta" not in codes(shlink, "?excludeMaxVisitsReached=true")
    assert "beta" in codes(shlink, "?excludeMaxVisitsReached=false")
    link = db.session.scalars(db.select(Link).where(Link.slug == "gamma")).one()
    link.expires_at = utcnow() - dt.timedelta(days=1)
    db.session.commit()
    assert sorted(codes(shlink, "?excludePastValidUntil=true")) == ["alpha", "beta", "delta"]
    old = db.session.scalars(db.select(Link).where(Link.slug == "alpha")).one()
    old.created_at = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    db.session.commit()
    assert codes(shlink, "?endDate=2024-05-02") == ["alpha"]
    assert codes(shlink, "?startDate=2024-05-01T12:00:00%2B00:00&endDate=2024-05-01T12:00:00%2B00:00") == ["alpha"]
    assert "alpha" not in codes(shlink, "?startDate=2024-05-02")


def test_list_order(shlink, rt):
    create(shlink, customSlug="b", longUrl="https://c.example/", title="zeta")
    create(shlink, customSlug="c", longUrl="https://a.example/")
    create(shlink, customSlug="a", longUrl="https://b.example/", title="alpha")
    assert codes(shlink) == ["a", "c", "b"]
    assert codes(shlink, "?orderBy=dateCreated-ASC") == ["b", "c", "a"]
    assert codes(shlink, "?orderBy=shortCode") == ["a", "b", "c"]
    assert codes(shlink, "?orderBy=shortCode-DESC") == ["c", "b", "a"]
    assert codes(shlink, "?orderBy=longUrl-ASC") == ["c", "a", "b"]
    assert codes(shlink, "?orderBy=title-ASC") == ["c", "a", "b"]  # no title sorts as ""
    links = {link.slug: link for link in db.session.scalars(db.select(Link))}
    now = utcnow()
    plant(rt, links["c"], now, now, agent=GOOGLEBOT)
    plant(rt, links["a"], now, agent=CHROME)
    assert codes(shlink, "?orderBy=visits-DESC") == ["c", "a", "b"]
    assert codes(shlink, "?orderBy=nonBotVisits-DESC")[0] == "a"
    summary = {item["shortCode"]: item["visitsSummary"] for item in listing(shlink)["data"]}
    assert summary == {"a": {"total": 1, "nonBots": 1, "bots": 0}, "c": {"total": 2, "nonBots": 0, "bots": 2},
                       "b": {"total": 0, "nonBots": 0, "bots": 0}}


# --- key roles and owners --------------------------------------------------------------------------------

def test_authored_only_key_sees_and_edits_only_its_own_links(client, shlink, user, make_key):
    theirs = create(shlink, customSlug="theirs")
    authored = Api(client, role_key(user, make_key, authored_only=True), style="x-api-key")
    mine = create(authored, customSlug="mine")
    assert codes(authored) == ["mine"] and sorted(codes(shlink)) == ["mine", "theirs"]
    for call in (authored.get, authored.delete):
        assert_problem(call("/rest/v3/short-urls/theirs"), 404, "short-url-not-found")
    assert_problem(authored.patch("/rest/v3/short-urls/theirs", json={}), 404, "short-url-not-found")
    assert authored.patch("/rest/v3/short-urls/mine", json={"title": "t"}).status_code == 200
    assert create(authored, longUrl=theirs["longUrl"], findIfExists=True)["shortCode"] not in ("theirs",)
    assert mine["shortCode"] == "mine"


def test_domain_key_is_bound_to_its_domain(client, shlink, user, make_key, own_domain):
    own_domain(user, "go.example")
    create(shlink, customSlug="plain")
    bound = Api(client, role_key(user, make_key, domain="go.example"), style="x-api-key")
    made = create(bound, customSlug="bound")  # no domain asked: the key's
    assert made["domain"] == "go.example"
    assert create(bound, customSlug="forced", domain="localhost")["domain"] == "go.example"
    assert sorted(codes(bound)) == ["bound", "forced"]
    assert_problem(bound.get("/rest/v3/short-urls/plain"), 404, "short-url-not-found")
    assert bound.get("/rest/v3/short-urls/bound?domain=go.example").status_code == 200


def test_another_users_links_are_not_found(client, shlink, make_user, make_key):
    create(shlink, customSlug="alices")
    bob = Api(client, make_key(make_user("bob")), style="x-api-key")
    assert_problem(bob.get("/rest/v3/short-urls/alices"), 404, "short-url-not-found")
    assert listing(bob)["data"] == []


# --- races -----------------------------------------------------------------------------------------------

def test_parallel_creates_of_one_slug_make_one_link(live_server, user, make_key):
    key = make_key(user)

    def post(_):
        return fetch("POST", f"{live_server.url}/rest/v3/short-urls", headers={"X-Api-Key": key},
                     json={"longUrl": "https://example.com/race", "customSlug": "race"})

    answers = burst(20, post)
    assert sorted(res.status_code for res in answers) == [200] + [400] * 19
    assert {res.json()["type"] for res in answers if res.status_code == 400} == {ERROR + "non-unique-slug"}
    assert count(Link) == 1


def test_parallel_find_if_exists_makes_one_link(live_server, user, make_key):
    key = make_key(user)

    def post(_):
        return fetch("POST", f"{live_server.url}/rest/v3/short-urls", headers={"X-Api-Key": key},
                     json={"longUrl": "https://example.com/once", "findIfExists": True, "tags": ["x"]})

    answers = burst(16, post)
    assert {res.status_code for res in answers} == {200}
    assert len({res.json()["shortCode"] for res in answers}) == 1
    assert count(Link) == 1


def test_nul_in_query_values_is_invalid_data(shlink):
    create(shlink, customSlug="n1")
    for url, element in (("/rest/v3/short-urls?tags[]=a%00b", "tags[]"), ("/rest/v3/short-urls/n1?domain=a%00",
                                                                          "domain"),
                         ("/rest/v3/short-urls?searchTerm=a%00", "searchTerm"),
                         ("/rest/v3/tags?tags[]=x", None)):
        res = shlink.get(url)
        if element is None:
            assert res.status_code == 200
        else:
            assert assert_problem(res, 400, "invalid-data")["invalidElements"] == [element]
    assert_problem(shlink.delete("/rest/v3/tags?tags[]=a%00"), 400, "invalid-data")


def test_the_same_link_through_the_other_dialects(client, shlink, user, make_key):
    item = create(shlink, customSlug="same", tags=["docs"], maxVisits=9, validUntil="2099-01-02T03:04:05+00:00")
    zipline = Api(client, make_key(user, name="z"))
    listed = [u for u in zipline.get("/api/user/urls").get_json() if u["vanity"] == "same"][0]
    assert listed["maxViews"] == 9 and listed["destination"] == item["longUrl"]
    h0p = Api(client, make_key(user, name="h"), style="x-api-key")
    (seen,) = [link for link in h0p.get("/short-link/list").get_json()["data"] if link["slug"] == "same"]
    assert [tag["name"] for tag in seen["tags"]] == item["tags"] and seen["maxClicks"] == 9
    assert seen["expiresAt"] == "2099-01-02T03:04:05.000Z" and seen["isActive"] is True
    edited = h0p.patch(f"/short-link/{seen['id']}", json={"tags": ["docs", "more"]})
    assert edited.status_code == 200, edited.get_data(as_text=True)
    assert shlink.get("/rest/v3/short-urls/same").get_json()["tags"] == ["docs", "more"]


def test_api_key_name_filter(client, shlink, user, make_key):
    create(shlink, customSlug="by-test")  # the "test" key
    other = Api(client, make_key(user, name="other"), style="x-api-key")
    create(other, customSlug="by-other")
    assert codes(shlink, "?apiKeyName=other") == ["by-other"]
    assert codes(shlink, "?apiKeyName=nobody") == []
    authored = Api(client, role_key(user, make_key, authored_only=True, name="mine"), style="x-api-key")
    create(authored, customSlug="by-mine")
    assert codes(authored, "?apiKeyName=other") == ["by-mine"]  # another key's name is ignored
    assert codes(authored, "?apiKeyName=mine") == ["by-mine"]


def test_views_and_state_agree_across_the_dialects(rt, client, shlink, user, make_key):
    """A link made through Shlink, used up by its visits: every dialect says the same views and state."""
    from zipshort.services import analytics

    create(shlink, customSlug="agree", maxVisits=2)
    assert [client.get("/go/agree").status_code for _ in range(3)] == [302, 302, 404]
    analytics.flush(rt, db.engine)
    db.session.rollback()
    item = shlink.get("/rest/v3/short-urls/agree").get_json()
    assert item["visitsSummary"] == {"total": 2, "nonBots": 2, "bots": 0} and item["meta"]["maxVisits"] == 2
    assert codes(shlink, "?excludeMaxVisitsReached=true") == []
    zipline = Api(client, make_key(user, name="z"))
    (listed,) = [u for u in zipline.get("/api/user/urls").get_json() if u["vanity"] == "agree"]
    assert (listed["views"], listed["maxViews"]) == (2, 2)
    h0p = Api(client, make_key(user, name="h"), style="x-api-key")
    (seen,) = [link for link in h0p.get("/short-link/list").get_json()["data"] if link["slug"] == "agree"]
    assert seen["isActive"] is False and seen["maxClicks"] == 2
    hozip = Api(client, make_key(user, name="o"), style="token")
    (found,) = [link for link in hozip.get("/api/v1/external/links").get_json()["results"]
                if link["short_code"] == "agree"]
    assert found["is_active"] is False


def test_max_visits_are_exact_under_a_burst(live_server, user, make_key):
    key = make_key(user)
    made = fetch("POST", f"{live_server.url}/rest/v3/short-urls", headers={"X-Api-Key": key},
                 json={"longUrl": "https://example.com/few", "customSlug": "few", "maxVisits": 15})
    assert made.status_code == 200, made.text
    answers = burst(60, lambda _: fetch("GET", f"{live_server.url}/go/few", allow_redirects=False).status_code)
    assert sorted(answers) == [302] * 15 + [404] * 45
    db.session.rollback()
    assert db.session.query(Link).filter_by(slug="few").one().views == 15
