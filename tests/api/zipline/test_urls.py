"""Zipline v4 URL API through the Flask test client: shapes, headers, errors, ownership."""

from __future__ import annotations

import pytest

from tests.conftest import Api, count, fresh
from zipshort.models import Link, User
from zipshort.services import accounts

URL_KEYS = {"id", "createdAt", "updatedAt", "code", "vanity", "destination", "views", "maxViews", "enabled",
            "userId", "url", "password"}


def test_create_url_returns_every_zipline_key(api, user):
    res = api.post("/api/user/urls", json={"destination": "https://example.com/a"})
    assert res.status_code == 200
    body = res.get_json()
    assert URL_KEYS <= set(body)
    assert body["url"] == f"http://localhost/go/{body['code']}"
    assert (body["vanity"], body["views"], body["maxViews"], body["enabled"], body["userId"]) == \
        (None, 0, None, True, user.id)
    assert body["createdAt"].endswith("Z")


@pytest.mark.parametrize("style", ["raw", "token", "bearer", "x-api-key"])
def test_create_url_accepts_every_key_header_style(client, user, make_key, style):
    res = Api(client, make_key(user), style).post("/api/user/urls", json={"destination": "https://example.com/"})
    assert res.status_code == 200


def test_create_url_with_vanity_uses_it_in_the_url(api):
    body = api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "summer"}).get_json()
    assert body["vanity"] == "summer" and body["url"].endswith("/go/summer")


@pytest.mark.parametrize("vanity", [None, ""])
def test_create_url_null_or_empty_vanity_means_none(api, vanity):
    body = api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": vanity}).get_json()
    assert body["vanity"] is None and body["url"].endswith("/go/" + body["code"])


@pytest.mark.parametrize("body", [{}, {"destination": ""}, {"destination": None}])
def test_create_url_without_destination_is_400_destination_is_required(api, body):
    res = api.post("/api/user/urls", json=body)
    assert res.status_code == 400
    assert res.get_json()["error"] == "Destination is required"
    assert res.get_json()["statusCode"] == 400


def test_create_url_without_body_is_400(api):
    res = api.post("/api/user/urls")
    assert res.status_code == 400 and res.get_json()["error"] == "Destination is required"


@pytest.mark.parametrize("body", ["[1]", "not json", '"str"'])
def test_create_url_with_non_object_json_is_400(api, body):
    res = api.post("/api/user/urls", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and "error" in res.get_json()


@pytest.mark.parametrize("destination", ["javascript:alert(1)", "data:text/html,x", "//evil.example", 42])
def test_create_url_with_bad_destination_is_400_and_nothing_written(api, destination):
    res = api.post("/api/user/urls", json={"destination": destination})
    assert res.status_code == 400
    assert count(Link) == 0


def test_create_url_taken_vanity_is_400_vanity_already_taken(api):
    assert api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "dup"}).status_code == 200
    res = api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "DUP"})
    assert res.status_code == 400 and res.get_json()["error"] == "Vanity already taken"


@pytest.mark.parametrize("vanity", [123, ["a"], {"a": 1}])
def test_create_url_non_string_vanity_is_400(api, vanity):
    assert api.post("/api/user/urls", json={"destination": "https://e.com/", "vanity": vanity}).status_code == 400


def test_create_url_reserved_vanity_is_400(api):
    res = api.post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "api"})
    assert res.status_code == 400 and "reserved" in res.get_json()["error"]


def test_create_url_max_views_header_is_stored(api):
    body = api.post("/api/user/urls", json={"destination": "https://e.com/"},
                    headers={"x-zipline-max-views": "3"}).get_json()
    assert body["maxViews"] == 3


def test_create_url_max_views_zero_means_no_limit(api):
    body = api.post("/api/user/urls", json={"destination": "https://e.com/"},
                    headers={"x-zipline-max-views": "0"}).get_json()
    assert body["maxViews"] is None


@pytest.mark.parametrize("value,message", [("abc", "Max views must be a number"), ("1.5", "Max views must be a number"),
                                           ("-1", "Max views must be greater than 0"),
                                           ("", "Max views must be a number"),
                                           ("1e3", "Max views must be a number")])
def test_create_url_bad_max_views_is_400(api, value, message):
    res = api.post("/api/user/urls", json={"destination": "https://e.com/"}, headers={"x-zipline-max-views": value})
    assert res.status_code == 400 and res.get_json()["error"] == message
    assert count(Link) == 0


def test_create_url_password_header_protects_the_link(api, client):
    body = api.post("/api/user/urls", json={"destination": "https://e.com/", "vanity": "locked"},
                    headers={"x-zipline-password": "hunter22"}).get_json()
    assert body["password"] is True and "hunter22" not in str(body)
    res = client.get("/go/locked")
    assert res.status_code == 200 and b"Password required" in res.data


@pytest.mark.parametrize("value", ["true", "false", ""])
def test_create_url_no_json_header_presence_gives_text(api, value):
    res = api.post("/api/user/urls", json={"destination": "https://e.com/", "vanity": "plain"},
                   headers={"x-zipline-no-json": value})
    assert res.mimetype == "text/plain" and res.get_data(as_text=True) == "http://localhost/go/plain"


def test_create_url_enabled_false_creates_a_disabled_link(api, client):
    body = api.post("/api/user/urls", json={"destination": "https://e.com/", "vanity": "dormant",
                                            "enabled": False}).get_json()
    assert body["enabled"] is False
    assert client.get("/go/dormant").status_code == 404


def test_create_url_non_boolean_enabled_is_400(api):
    assert api.post("/api/user/urls", json={"destination": "https://e.com/", "enabled": "yes"}).status_code == 400


class TestDomains:
    @pytest.fixture
    def overrides(self):
        return {"domains": ["a.example", "b.example"]}

    def test_create_url_domain_header_picks_an_allowed_domain(self, api):
        body = api.post("/api/user/urls", json={"destination": "https://e.com/"},
                        headers={"x-zipline-domain": "a.example, b.example"}).get_json()
        assert body["url"].split("/")[2] in ("a.example", "b.example")

    def test_create_url_domain_header_outside_the_list_is_400(self, api):
        res = api.post("/api/user/urls", json={"destination": "https://e.com/"},
                       headers={"x-zipline-domain": "a.example,evil.example"})
        assert res.status_code == 400 and "evil.example" in res.get_json()["error"]
        assert count(Link) == 0


class TestHttps:
    @pytest.fixture
    def overrides(self):
        return {"core": {"return_https_urls": True, "default_domain": "s.example"}}

    def test_create_url_uses_https_and_the_default_domain(self, api):
        body = api.post("/api/user/urls", json={"destination": "https://e.com/", "vanity": "v"}).get_json()
        assert body["url"] == "https://s.example/go/v"


def test_create_url_over_quota_is_403_with_zipline_text(api, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=1)))
    assert api.post("/api/user/urls", json={"destination": "https://e.com/"}).status_code == 200
    res = api.post("/api/user/urls", json={"destination": "https://e.com/"})
    assert res.status_code == 403
    assert res.get_json()["error"] == "Shortening this URL would exceed your quota of 1 URLs."


def test_create_url_without_auth_is_401(client):
    res = client.post("/api/user/urls", json={"destination": "https://e.com/"})
    assert res.status_code == 401 and res.get_json()["statusCode"] == 401
    assert count(Link) == 0


@pytest.mark.parametrize("value", ["nope", "zs_" + "a" * 43, "Bearer ", "Token zs_x"])
def test_create_url_with_wrong_key_is_401(client, user, make_key, value):
    make_key(user)
    res = client.post("/api/user/urls", json={"destination": "https://e.com/"}, headers={"Authorization": value})
    assert res.status_code == 401


def test_create_url_with_key_in_query_string_is_401(client, user, make_key):
    key = make_key(user)
    res = client.post(f"/api/user/urls?token={key}", json={"destination": "https://e.com/"})
    assert res.status_code == 401


def test_create_url_with_read_only_key_is_403(client, user, make_key):
    res = Api(client, make_key(user, scopes=["links:read"])).post("/api/user/urls",
                                                                  json={"destination": "https://e.com/"})
    assert res.status_code == 403 and "links:write" in res.get_json()["error"]


def test_list_urls_returns_own_links_with_password_as_boolean(api, make_user, make_link, user):
    make_link(user, vanity="mine", password="pw12345")
    make_link(make_user("bob"), vanity="theirs")
    body = api.get("/api/user/urls").get_json()
    assert [u["vanity"] for u in body] == ["mine"]
    assert body[0]["password"] is True


@pytest.mark.parametrize("field,query,expected", [("destination", "ORANGE", ["b"]), ("vanity", "a", ["a"]),
                                                   ("code", "b", ["b"])])
def test_list_urls_search(api, make_link, user, field, query, expected):
    make_link(user, destination="https://apple.example/", vanity="a")
    make_link(user, destination="https://orange.example/", vanity="b")
    body = api.get(f"/api/user/urls?searchField={field}&searchQuery={query}").get_json()
    assert [u["vanity"] for u in body] == expected


def test_list_urls_bad_search_field_is_400(api):
    res = api.get("/api/user/urls?searchField=password&searchQuery=x")
    assert res.status_code == 400 and res.get_json()["error"] == "Invalid searchField value"


def test_get_url_of_other_user_is_403_you_dont_own_this_url(api, make_user, make_link):
    link = make_link(make_user("bob"))
    res = api.get(f"/api/user/urls/{link.id}")
    assert res.status_code == 403 and res.get_json()["error"] == "You don't own this URL"


def test_get_url_unknown_is_404(api):
    assert api.get("/api/user/urls/01234567-0000-7000-8000-000000000000").status_code == 404


def test_patch_url_changes_fields_and_keeps_password(api, make_link, user, client):
    link = make_link(user, vanity="old", password="pw12345")
    res = api.patch(f"/api/user/urls/{link.id}", json={"vanity": "new", "destination": "https://n.example/",
                                                        "maxViews": 5, "enabled": True})
    body = res.get_json()
    assert res.status_code == 200 and (body["vanity"], body["maxViews"], body["password"]) == ("new", 5, True)
    assert client.get("/go/old").status_code == 404
    assert client.get("/go/new").status_code == 200  # still the password page


@pytest.mark.parametrize("body,message", [({"password": 5}, "password must be a string"),
                                          ({"maxViews": -1}, "maxViews must be >= 0"),
                                          ({"maxViews": "x"}, "maxViews must be a number"),
                                          ({"destination": "javascript:x"}, None)])
def test_patch_url_bad_values_are_400(api, make_link, user, body, message):
    link = make_link(user, vanity="stay")
    res = api.patch(f"/api/user/urls/{link.id}", json=body)
    assert res.status_code == 400
    if message:
        assert res.get_json()["error"] == message
    assert fresh(Link, link.id).destination == "https://example.com/"


def test_patch_url_duplicate_vanity_is_400_vanity_already_exists(api, make_link, user):
    make_link(user, vanity="taken")
    link = make_link(user, vanity="mine")
    res = api.patch(f"/api/user/urls/{link.id}", json={"vanity": "taken"})
    assert res.status_code == 400 and res.get_json()["error"] == "vanity already exists"


def test_patch_url_empty_password_clears_it(api, make_link, user, client):
    link = make_link(user, vanity="open", password="pw12345")
    assert api.patch(f"/api/user/urls/{link.id}", json={"password": ""}).get_json()["password"] is False
    assert client.get("/go/open").status_code == 302


def test_patch_url_of_other_user_is_403_and_unchanged(api, make_user, make_link):
    link = make_link(make_user("bob"), vanity="bobs")
    assert api.patch(f"/api/user/urls/{link.id}", json={"destination": "https://evil.example/"}).status_code == 403
    assert fresh(Link, link.id).destination == "https://example.com/"


def test_delete_url_returns_it_and_frees_quota(api, make_link, user):
    link = make_link(user)
    res = api.delete(f"/api/user/urls/{link.id}")
    assert res.status_code == 200 and res.get_json()["id"] == link.id
    assert count(Link) == 0 and fresh(User, user.id).url_count == 0


def test_delete_url_of_other_user_is_404(api, make_user, make_link):
    link = make_link(make_user("bob"))
    assert api.delete(f"/api/user/urls/{link.id}").status_code == 404
    assert count(Link) == 1


def test_delete_url_v3_body_style(api, make_link, user):
    link = make_link(user)
    assert api.delete("/api/user/urls", json={"id": link.id}).status_code == 200
    assert count(Link) == 0


def test_password_endpoint_checks_without_setting_cookies(client, make_link, user):
    link = make_link(user, vanity="pwd", password="pw12345")
    ok = client.post(f"/api/user/urls/{link.id}/password", json={"password": "pw12345"})
    assert ok.status_code == 200 and ok.get_json() == {"success": True}
    assert not [c for c in ok.headers.getlist("Set-Cookie") if "pw12345" in c]
    bad = client.post("/api/user/urls/pwd/password", json={"password": "nope"})
    assert bad.status_code == 403 and bad.get_json()["error"] == "Incorrect password"


def test_password_endpoint_unknown_or_unprotected_is_404(client, make_link, user):
    make_link(user, vanity="open")
    assert client.post("/api/user/urls/open/password", json={"password": "x"}).status_code == 404
    assert client.post("/api/user/urls/missing/password", json={"password": "x"}).status_code == 404


def test_unknown_api_route_is_json_404(client):
    res = client.get("/api/nothing/here")
    assert res.status_code == 404 and res.get_json()["statusCode"] == 404


def test_wrong_method_under_api_is_json_405(client):
    res = client.put("/api/user/urls")
    assert res.status_code == 405 and res.get_json()["statusCode"] == 405


def test_create_url_with_huge_body_is_413_json(api):
    res = api.post("/api/user/urls", data='{"destination": "' + "a" * (5 * 1024 * 1024) + '"}',
                   headers={"Content-Type": "application/json"})
    assert res.status_code == 413 and res.get_json()["statusCode"] == 413
    assert count(Link) == 0


@pytest.mark.parametrize("raw", [b'{"destination": "https://e.com/", "destination": 5}', b"\xff\xfe{}",
                                 b'{"destination": ["https://e.com/"]}', b'{"destination": {"a": 1}}'])
def test_create_url_type_confusion_is_400_not_500(api, raw):
    res = api.post("/api/user/urls", data=raw, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and count(Link) == 0


@pytest.mark.parametrize("path,status", [("/api/user/urls/a%00b", 404),
                                         ("/api/user/urls?searchField=code&searchQuery=a%00", 400)])
def test_nul_bytes_in_ids_and_queries_are_not_500(api, path, status):
    assert api.get(path).status_code == status


def test_nul_byte_in_username_at_login_is_refused_before_any_lookup(client, user):
    res = client.post("/api/auth/login", json={"username": "ali\x00ce", "password": "correct horse"})
    assert res.status_code == 400 and res.get_json()["error"] == "username contains a NUL character"


def test_nul_byte_in_key_name_is_400(client, user):
    client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"})
    assert client.post("/api/user/keys", json={"name": "a\x00b"}).status_code == 400
