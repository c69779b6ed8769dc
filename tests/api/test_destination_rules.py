"""Destinations every dialect refuses: this server's own short links (redirect loops), user-info, and
e-mail destinations that are more than one address. One check in the service layer, each dialect's error shape."""

from __future__ import annotations

import pytest

from tests.conftest import Api, count
from tests.web.test_pages import csrf, log_in
from zipshort.destinations import OwnHosts, link_route_host
from zipshort.models import Link
from zipshort.services import domains, folders

LOOPS = [
    "http://localhost/go/abc",  # the Host the request came in on
    "HTTPS://LOCALHOST./go/abc",
    "http://localhost:8080/go/abc",
    "http://localhost//go/abc",  # werkzeug merges the slashes with a redirect
    "http://localhost/%67o/abc",
    "http://localhost/x/../go/abc",
    "https://short.example/go/abc",  # core.default_domain
    "https://second.example/go/abc",  # DOMAINS
    "https://mine.example/go/abc",  # a verified custom domain (the caller's)
    "https://theirs.example/go/abc",  # a verified custom domain (someone else's)
    "http://localhost/dl/0190b3d4-0000-7000-8000-000000000000/abcdefghijklmnopqrstuv?u=https%3A%2F%2Fa.example",
]
ALLOWED = ["http://localhost/u/abc.png", "http://localhost/raw/abc.png", "http://localhost/view/abc.png",
           "http://localhost/go", "http://localhost/gopher/x", "https://elsewhere.example/go/abc",
           "https://pending.example/go/abc"]  # a custom domain not verified yet does not answer here
USER_INFO = ["https://user:pass@example.com/", "https://user@example.com/", "https://@example.com/",
             "https://example.com@evil.example/"]
BAD_EMAILS = ["a?cc=b@example.com", "a@example.com?body=hi", "a%2Cb@example.com", "a@example.com,b@example.com",
              "a@example.com\r\nBcc: b@example.com", "a#x@example.com", "Bob <a@example.com>"]
LOOP_TEXT = "must not be a short link of this server"


@pytest.fixture
def overrides():
    return {"core": {"default_domain": "short.example"}, "domains": ["second.example"]}


@pytest.fixture(autouse=True)
def hosts(user, make_user, own_domain, rt):
    own_domain(user, "mine.example")
    own_domain(make_user("bob"), "theirs.example")
    domains.add_custom(rt, user, "pending.example")


def test_own_hosts_names_every_loop_and_nothing_else(rt):
    own = OwnHosts(rt.settings, "localhost")
    assert [u for u in LOOPS if not own.points_home(u)] == []
    assert [u for u in ALLOWED if own.points_home(u)] == []


def test_link_route_host_reads_paths_as_the_server_routes_them():
    assert link_route_host("https://h.example/a/./b/../../go/x", ("/go",)) == "h.example"
    assert link_route_host("https://h.example/GO/x", ("/go",)) is None  # routes are case-sensitive
    assert link_route_host("http://2130706433/go/x", ("/go",)) == "127.0.0.1"
    assert link_route_host("https://bücher.example/go/x", ("/go",)) == "xn--bcher-kva.example"


# Zipline v4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("destination", LOOPS + USER_INFO)
def test_zipline_create_refuses(api, destination):
    res = api.post("/api/user/urls", json={"destination": destination})
    assert res.status_code == 400 and res.get_json()["statusCode"] == 400
    assert res.get_json()["error"].startswith("Destination")
    assert count(Link) == 0


@pytest.mark.parametrize("destination", ALLOWED)
def test_zipline_create_allows_files_and_other_hosts(api, destination):
    assert api.post("/api/user/urls", json={"destination": destination}).status_code == 200


def test_zipline_edit_and_rules_refuse_loops(api):
    link = api.post("/api/user/urls", json={"destination": "https://example.com/"}).get_json()
    res = api.patch(f"/api/user/urls/{link['id']}", json={"destination": LOOPS[0]})
    assert res.status_code == 400 and LOOP_TEXT in res.get_json()["error"]
    rules = [{"priority": 3, "destination": {"type": "link", "value": LOOPS[6]}, "countries": ["US"]}]
    res = api.patch(f"/api/user/urls/{link['id']}", json={"rules": rules})
    assert res.status_code == 400 and "rule with priority 3" in res.get_json()["error"]
    res = api.post("/api/user/urls", json={"destination": "https://example.com/", "rules": rules})
    assert res.status_code == 400 and count(Link) == 1


def test_zipline_edit_refuses_user_info(api):
    link = api.post("/api/user/urls", json={"destination": "https://example.com/"}).get_json()
    assert api.patch(f"/api/user/urls/{link['id']}", json={"destination": USER_INFO[0]}).status_code == 400


# Zipline v3 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("destination", [LOOPS[0], LOOPS[8], USER_INFO[0]])
def test_v3_shorten_refuses_naming_url(api, destination):
    res = api.post("/api/shorten", json={"url": destination})
    assert res.status_code == 400 and res.get_json()["code"] == 400
    assert res.get_json()["error"].startswith("url ") and count(Link) == 0


# hozip -----------------------------------------------------------------------------------------------


@pytest.fixture
def hozip(client, user, make_key):
    return Api(client, make_key(user), style="token")


@pytest.mark.parametrize("destination", ["https://localhost/go/abc", "https://mine.example/go/abc",
                                         "https://user:pass@example.com/"])
def test_hozip_create_refuses_naming_long_url(hozip, destination):
    res = hozip.post("/api/v1/external/links/create-link", json={"long_url": destination})
    assert res.status_code == 400 and res.get_json()["error_code"] == "validation_error"
    assert res.get_json()["detail"].startswith("long_url") and count(Link) == 0


# h0p -------------------------------------------------------------------------------------------------


@pytest.fixture
def h0p(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


def dest(value: str, kind: str = "link") -> dict:
    return {"type": kind, "value": value, "threatTypes": None}


@pytest.mark.parametrize("destination", [LOOPS[0], LOOPS[9], USER_INFO[1]])
def test_h0p_create_refuses(h0p, destination):
    res = h0p.post("/short-link", json={"destination": dest(destination)})
    assert res.status_code == 400 and res.get_json()["error"] == "Bad Request"
    assert "Destination" in res.get_json()["message"] and count(Link) == 0


@pytest.mark.parametrize("method", ["patch", "put"])
def test_h0p_edit_refuses_loops_and_loops_in_rules(h0p, method):
    link = h0p.post("/short-link", json={"destination": dest("https://example.com/")}).get_json()
    res = getattr(h0p, method)(f"/short-link/{link['id']}", json={"destination": dest(LOOPS[1])})
    assert res.status_code == 400 and LOOP_TEXT in res.get_json()["message"]
    rules = [{"priority": 0, "destination": dest(LOOPS[7]), "languages": ["fr"]}]
    res = getattr(h0p, method)(f"/short-link/{link['id']}", json={"destination": dest("https://example.com/"),
                                                                 "rules": rules})
    assert res.status_code == 400 and "rule with priority 0" in res.get_json()["message"]


@pytest.mark.parametrize("address", BAD_EMAILS)
def test_h0p_email_destination_must_be_one_address(h0p, address):
    res = h0p.post("/short-link", json={"destination": dest(address, "email")})
    assert res.status_code == 400 and "e-mail address" in res.get_json()["message"] and count(Link) == 0


def test_h0p_email_rule_must_be_one_address(h0p):
    rules = [{"destination": dest("a@example.com?bcc=b@example.com", "email"), "countries": ["US"]}]
    res = h0p.post("/short-link", json={"destination": dest("https://example.com/"), "rules": rules})
    assert res.status_code == 400 and count(Link) == 0


def test_h0p_plain_email_still_works(h0p, client):
    res = h0p.post("/short-link", json={"slug": "mail", "destination": dest("first.last+tag@example.com", "email")})
    assert res.status_code == 201
    assert client.get("/go/mail").headers["Location"] == "mailto:first.last+tag@example.com"


# hoko ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("destination", [LOOPS[0], LOOPS[9], USER_INFO[0]])
def test_hoko_bulk_refuses_all_naming_the_index(client, user, make_key, destination):
    hoko = Api(client, make_key(user), style="bearer")
    collection = folders.create_folder(user, "Campaign")
    items = [{"url": "https://example.com/a", "collectionId": collection.id},
             {"url": "https://example.com/b", "collectionId": collection.id},
             {"url": destination, "collectionId": collection.id}]
    res = hoko.post("/api/links", json=items)
    assert res.status_code == 400 and res.get_json()["index"] == 2
    assert res.get_json()["error"].startswith("links[2]: url") and count(Link) == 0


# the web link form -----------------------------------------------------------------------------------


@pytest.mark.parametrize("destination", [LOOPS[0], LOOPS[8], USER_INFO[0]])
def test_web_form_refuses(client, destination):
    assert log_in(client).status_code == 303
    page = client.get("/dashboard/urls")
    res = client.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": destination},
                      follow_redirects=True)
    html = res.get_data(as_text=True)
    assert 'class="flash error"' in html and "Destination" in html and count(Link) == 0


def test_web_edit_refuses_a_loop(client, make_link, user):
    link = make_link(user, vanity="edit-me")
    assert log_in(client).status_code == 303
    edit = client.get(f"/dashboard/urls/{link.id}/edit")
    res = client.post(f"/dashboard/urls/{link.id}", data={"csrf_token": csrf(edit), "destination": LOOPS[2]},
                      follow_redirects=True)
    assert LOOP_TEXT in res.get_data(as_text=True)
    assert count(Link) == 1 and client.get("/go/edit-me").headers["Location"] == "https://example.com/"
