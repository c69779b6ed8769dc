"""Shlink's visits through the test client with real keys: the Visit object field by field (visitLocation from a
generated city database), the envelope and its pagination, every list, filters, key roles, who sees orphan
visits, the overview, deletions and the problems each endpoint answers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.api.dialects.test_shlink_base import assert_problem
from tests.api.dialects.test_shlink_short_urls import create, role_key
from tests.conftest import Api
from tests.services.test_analytics import CHROME_WINDOWS as CHROME
from tests.services.test_analytics import GOOGLEBOT
from zipshort.extensions import db
from zipshort.models import Role, Visit
from zipshort.services import analytics

V3 = "/rest/v3"
KEYS = ["referer", "date", "userAgent", "visitLocation", "potentialBot", "visitedUrl", "redirectUrl"]


@pytest.fixture
def city_database(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en"], ipv4_compatible=True)
    writer.insert_network(IPSet(["198.51.100.0/24"]), {
        "country": {"iso_code": "FR", "names": {"en": "France"}}, "subdivisions": [{"names": {"en": "Île-de-France"}}],
        "city": {"names": {"en": "Paris"}},
        "location": {"latitude": 48.8534, "longitude": 2.3488, "time_zone": "Europe/Paris"}})
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "DE"}})  # a country, nothing more
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture
def overrides(city_database):
    return {"urls": {"geoip_database": city_database}, "domains": ["s.example"],
            "analytics": {"store_address": True}}


@pytest.fixture
def shlink(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


@pytest.fixture
def boss(make_user):
    return make_user("root", role=Role.ADMIN)


@pytest.fixture
def admin_api(client, boss, make_key):
    return Api(client, make_key(boss, scopes=["stats:read", "links:read", "links:write", "admin"]), style="x-api-key")


def flushed(rt) -> int:
    stored = analytics.flush(rt, db.engine)
    db.session.rollback()
    return stored


def visit(client, path: str, agent: str = CHROME, address: str = "8.8.8.8", **headers):
    return client.get(path, headers={"User-Agent": agent, **headers}, environ_base={"REMOTE_ADDR": address})


def visits(api, path: str) -> dict:
    res = api.get(V3 + path)
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["visits"]


# --- the Visit object ------------------------------------------------------------------------------------------

def test_a_visit_is_shlinks_visit_object(rt, client, shlink):
    made = create(shlink, longUrl="https://example.com/landing", customSlug="paris")
    assert visit(client, "/go/paris?utm=1", address="198.51.100.7", Referer="https://news.example/a").status_code == 302
    flushed(rt)
    [shaped] = visits(shlink, "/short-urls/paris/visits")["data"]
    assert list(shaped) == KEYS  # no type on a short URL's visit, and never the address (stored here)
    assert shaped == {
        "referer": "https://news.example/a", "date": shaped["date"], "userAgent": CHROME,
        "visitLocation": {"countryCode": "FR", "countryName": "France", "regionName": "Île-de-France",
                          "cityName": "Paris", "latitude": 48.8534, "longitude": 2.3488, "timezone": "Europe/Paris",
                          "isEmpty": False},
        "potentialBot": False, "visitedUrl": "http://localhost/go/paris?utm=1",
        "redirectUrl": made["longUrl"] + "?utm=1"}  # forwardQuery is on for links made through Shlink
    assert len(shaped["date"]) == 25 and shaped["date"].endswith("+00:00") and shaped["date"][10] == "T"
    assert db.session.scalar(select(Visit.address)) == "198.51.100.0"


def test_without_a_referrer_agent_or_place_the_texts_are_empty_and_the_location_null(rt, client, shlink):
    create(shlink, customSlug="bare")
    client.get("/go/bare", headers={"User-Agent": ""}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    visit(client, "/go/bare", address="203.0.113.9")  # a country without region, city or coordinates
    flushed(rt)
    germany, nowhere = visits(shlink, "/short-urls/bare/visits")["data"]
    assert (nowhere["referer"], nowhere["userAgent"], nowhere["visitLocation"]) == ("", "", None)
    assert germany["visitLocation"] == {"countryCode": "DE", "countryName": "Germany", "regionName": "",
                                        "cityName": "", "latitude": 0.0, "longitude": 0.0, "timezone": "",
                                        "isEmpty": False}


def test_orphan_visits_carry_their_type(rt, client, admin_api):
    client.get("/")
    client.get("/go/nothing", headers={"User-Agent": GOOGLEBOT})
    client.get("/wp-login.php")
    flushed(rt)
    data = visits(admin_api, "/visits/orphan")["data"]
    assert [(v["type"], v["visitedUrl"], v["potentialBot"]) for v in data] == [
        ("regular_404", "http://localhost/wp-login.php", False),
        ("invalid_short_url", "http://localhost/go/nothing", True), ("base_url", "http://localhost/", False)]
    assert list(data[0]) == [*KEYS, "type"] and data[0]["redirectUrl"] is None


# --- lists and their envelope ----------------------------------------------------------------------------------

def test_the_envelope_and_its_pagination(rt, client, shlink):
    create(shlink, customSlug="pg")
    for i in range(5):
        visit(client, f"/go/pg?n={i}")
    flushed(rt)
    page = visits(shlink, "/short-urls/pg/visits?page=2&itemsPerPage=2")
    assert page["pagination"] == {"currentPage": 2, "pagesCount": 3, "itemsPerPage": 2, "itemsInCurrentPage": 2,
                                  "totalItems": 5}
    assert [v["visitedUrl"][-1] for v in page["data"]] == ["2", "1"]  # newest first
    every = visits(shlink, "/short-urls/pg/visits?page=0&itemsPerPage=-1")
    assert every["pagination"] == {"currentPage": 1, "pagesCount": 1, "itemsPerPage": 5, "itemsInCurrentPage": 5,
                                   "totalItems": 5}
    create(shlink, customSlug="quiet")
    assert visits(shlink, "/short-urls/quiet/visits") == {"data": [], "pagination": {
        "currentPage": 1, "pagesCount": 1, "itemsPerPage": 1, "itemsInCurrentPage": 0, "totalItems": 0}}
    assert visits(shlink, "/short-urls/pg/visits?page=7&itemsPerPage=2")["data"] == []


def test_exclude_bots_works_by_presence_and_dates_bound_the_list(rt, client, shlink):
    create(shlink, customSlug="eb")
    visit(client, "/go/eb", agent=GOOGLEBOT)
    visit(client, "/go/eb")
    flushed(rt)
    for query in ("?excludeBots", "?excludeBots=false", "?excludeBots=true"):
        assert [v["potentialBot"] for v in visits(shlink, "/short-urls/eb/visits" + query)["data"]] == [False]
    assert len(visits(shlink, "/short-urls/eb/visits")["data"]) == 2
    assert visits(shlink, "/short-urls/eb/visits?endDate=2020-01-01")["data"] == []
    assert len(visits(shlink, "/short-urls/eb/visits?startDate=2020-01-01T00:00:00%2B02:00")["data"]) == 2


def test_every_version_lists_the_same(rt, client, shlink):
    create(shlink, customSlug="ver")
    visit(client, "/go/ver")
    flushed(rt)
    answers = [shlink.get(f"/rest/{v}/short-urls/ver/visits").get_json() for v in ("v1", "v2", "v3")]
    assert answers[0] == answers[1] == answers[2] and answers[0]["visits"]["pagination"]["totalItems"] == 1


def test_tag_domain_and_non_orphan_lists(rt, client, shlink, user, own_domain):
    own_domain(user, "go.example")
    create(shlink, customSlug="t1", tags=["launch"])
    create(shlink, customSlug="t2", tags=["launch"], domain="go.example")
    create(shlink, customSlug="t3")
    for path in ("/go/t1", "/go/t3", "/go/none"):
        visit(client, path)
    visit(client, "/go/t2", HOST="go.example")
    flushed(rt)

    def slugs(path: str) -> list[str]:
        return [v["visitedUrl"].rsplit("/", 1)[1] for v in visits(shlink, path)["data"]]

    assert slugs("/tags/launch/visits") == ["t2", "t1"]
    assert slugs("/tags/launch/visits?domain=DEFAULT") == ["t1"]
    assert slugs("/tags/launch/visits?domain=go.example") == ["t2"]
    assert slugs("/domains/go.example/visits") == ["t2"]
    for default in ("DEFAULT", "s.example", "localhost"):
        assert slugs(f"/domains/{default}/visits") == ["t3", "t1"]
    assert slugs("/visits/non-orphan") == ["t2", "t3", "t1"]
    assert slugs("/visits/non-orphan?domain=DEFAULT") == ["t3", "t1"]


def test_orphan_filters_and_a_bad_type(rt, client, admin_api):
    client.get("/")
    client.get("/go/nothing")
    client.get("/", headers={"Host": "s.example"})
    flushed(rt)
    assert [v["type"] for v in visits(admin_api, "/visits/orphan?type=base_url")["data"]] == ["base_url"] * 2
    assert [v["visitedUrl"] for v in visits(admin_api, "/visits/orphan?domain=DEFAULT")["data"]] == [
        "http://s.example/"]
    assert [v["visitedUrl"] for v in visits(admin_api, "/visits/orphan?domain=localhost/go")["data"]] == [
        "http://localhost/go/nothing"]
    body = assert_problem(admin_api.get(V3 + "/visits/orphan?type=nope"), 400, "invalid-data")
    assert body["invalidElements"] == ["type"]


# --- problems --------------------------------------------------------------------------------------------------

def test_unknown_short_url_tag_and_domain(shlink):
    body = assert_problem(shlink.get(V3 + "/short-urls/nope/visits?domain=go.example"), 404, "short-url-not-found")
    assert (body["shortCode"], body["domain"]) == ("nope", "go.example")
    assert "domain" not in assert_problem(shlink.get(V3 + "/short-urls/nope/visits"), 404, "short-url-not-found")
    assert assert_problem(shlink.get(V3 + "/tags/nope/visits"), 404, "tag-not-found")["tag"] == "nope"
    body = assert_problem(shlink.get(V3 + "/domains/nope.example/visits"), 404, "domain-not-found")
    assert body["authority"] == "nope.example"
    assert_problem(shlink.delete(V3 + "/short-urls/nope/visits"), 404, "short-url-not-found")


@pytest.mark.parametrize("query,field", [("page=x", "page"), ("itemsPerPage=1.5", "itemsPerPage"),
                                         ("startDate=soon", "startDate"), ("endDate=2026-02-30", "endDate")])
def test_bad_parameters_are_invalid_data(shlink, query, field):
    body = assert_problem(shlink.get(f"{V3}/visits/non-orphan?{query}"), 400, "invalid-data")
    assert body["invalidElements"] == [field]


def test_every_invalid_parameter_is_named(shlink, admin_api):
    query = "page=x&itemsPerPage=y&startDate=soon&endDate=later&type=nope"
    body = assert_problem(admin_api.get(f"{V3}/visits/orphan?{query}"), 400, "invalid-data")
    assert body["invalidElements"] == ["page", "itemsPerPage", "startDate", "endDate", "type"]
    far = assert_problem(shlink.get(f"{V3}/visits/non-orphan?page={10**15}&itemsPerPage={10**15}"), 400,
                         "invalid-data")
    assert far["invalidElements"] == ["page"]


def test_keys_without_the_scope_are_refused(client, user, make_key):
    files_only = Api(client, make_key(user, scopes=["files:read"]), style="x-api-key")
    for path in ("/visits", "/visits/orphan", "/visits/non-orphan"):
        assert_problem(files_only.get(V3 + path), 403, "missing-scope")
    assert_problem(client.get(V3 + "/visits"), 401, "missing-authentication")


# --- key roles and orphan visits -------------------------------------------------------------------------------

def test_an_authored_only_key_sees_its_links_visits_only(rt, client, shlink, user, make_key):
    authored = Api(client, role_key(user, make_key, authored_only=True), style="x-api-key")
    create(authored, customSlug="own")
    create(shlink, customSlug="other", tags=["other"])
    for path in ("/go/own", "/go/other", "/go/other"):
        visit(client, path)
    flushed(rt)
    assert visits(authored, "/short-urls/own/visits")["pagination"]["totalItems"] == 1
    assert_problem(authored.get(V3 + "/short-urls/other/visits"), 404, "short-url-not-found")
    assert_problem(authored.get(V3 + "/tags/other/visits"), 404, "tag-not-found")
    assert visits(authored, "/visits/non-orphan")["pagination"]["totalItems"] == 1
    assert visits(authored, "/visits")["nonOrphanVisits"] == {"total": 1, "nonBots": 1, "bots": 0}
    assert visits(shlink, "/visits")["nonOrphanVisits"] == {"total": 3, "nonBots": 3, "bots": 0}


def test_a_domain_key_sees_its_domain_only(rt, client, shlink, user, make_key, own_domain):
    own_domain(user, "go.example", "other.example")
    bound = Api(client, role_key(user, make_key, domain="go.example"), style="x-api-key")
    create(shlink, customSlug="on-go", domain="go.example")
    create(shlink, customSlug="bare")
    visit(client, "/go/on-go", HOST="go.example")
    visit(client, "/go/bare")
    flushed(rt)
    assert visits(bound, "/domains/go.example/visits")["pagination"]["totalItems"] == 1
    for other in ("other.example", "DEFAULT"):
        assert_problem(bound.get(f"{V3}/domains/{other}/visits"), 404, "domain-not-found")
    assert visits(bound, "/visits/non-orphan")["pagination"]["totalItems"] == 1


def test_orphan_visits_are_only_for_administrators_with_the_admin_scope(rt, client, shlink, boss, make_key):
    client.get("/")
    flushed(rt)
    no_admin_scope = Api(client, make_key(boss, scopes=["stats:read", "links:write"]), style="x-api-key")
    for api in (shlink, no_admin_scope):
        page = visits(api, "/visits/orphan")
        assert (page["data"], page["pagination"]["totalItems"]) == ([], 0)
        assert visits(api, "/visits")["orphanVisits"] == {"total": 0, "nonBots": 0, "bots": 0}
        res = api.delete(V3 + "/visits/orphan")
        assert (res.status_code, res.get_json()) == (200, {"deletedVisits": 0})
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 1


# --- the overview and deletions --------------------------------------------------------------------------------

def test_the_overview_counts_bots_apart(rt, client, shlink, admin_api, boss):
    create(shlink, customSlug="ov")
    visit(client, "/go/ov")
    visit(client, "/go/ov", agent=GOOGLEBOT)
    client.get("/", headers={"User-Agent": GOOGLEBOT})
    client.get("/wp-login.php")
    flushed(rt)
    assert shlink.get(V3 + "/visits").get_json() == {"visits": {
        "nonOrphanVisits": {"total": 2, "nonBots": 1, "bots": 1},
        "orphanVisits": {"total": 0, "nonBots": 0, "bots": 0}}}
    assert visits(admin_api, "/visits") == {"nonOrphanVisits": {"total": 0, "nonBots": 0, "bots": 0},
                                            "orphanVisits": {"total": 2, "nonBots": 1, "bots": 1}}


def test_deleting_visits(rt, client, shlink, admin_api):
    create(shlink, customSlug="gone")
    for _ in range(3):
        visit(client, "/go/gone")
    client.get("/")
    client.get("/wp-login.php")
    flushed(rt)
    res = shlink.delete(V3 + "/short-urls/gone/visits")
    assert (res.status_code, res.get_json()) == (200, {"deletedVisits": 3})
    assert visits(shlink, "/short-urls/gone/visits")["data"] == []
    assert shlink.get(V3 + "/short-urls/gone").get_json()["visitsSummary"] == {"total": 0, "nonBots": 0, "bots": 0}
    assert admin_api.delete(V3 + "/visits/orphan").get_json() == {"deletedVisits": 2}
    assert visits(admin_api, "/visits/orphan")["data"] == []
    assert admin_api.delete(V3 + "/visits/orphan").get_json() == {"deletedVisits": 0}
