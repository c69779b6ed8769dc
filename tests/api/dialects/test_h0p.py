"""h0p: short links with destinations, tags, folders, limits, rules, QR options and meta tags."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from tests.conftest import Api, burst, count, fetch
from zipshort.models import Link, Tag
from zipshort.services import folders

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0\x9f\x00\x00\x00\x00IEND\xaeB`\x82")

SEED_KEYS = {"domain", "rules", "qrCode", "destination", "metaTags", "tags", "id", "organizationId", "isActive",
             "qrCodeId", "domainId", "folderId", "slug", "originUrl", "expiresAt", "maxClicks", "currentClicks",
             "hasPassword", "cloaking", "destinationId", "createdAt", "updatedAt"}


@pytest.fixture
def h0p(client, user, make_key):
    return Api(client, make_key(user), style="x-api-key")


def seed_body(folder_id: str) -> dict:
    """The seed's example request (its domain is not configured here, so it is left out)."""
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"slug": "summer-sale",
            "destination": {"type": "link", "value": "https://example.com/products/summer-sale", "threatTypes": None},
            "tags": ["marketing", "sale"], "folderId": folder_id, "maxClicks": 1000, "expiresAt": future}


def test_seed_example_returns_the_complete_object(h0p, user, client):
    folder = folders.create_folder(user, "F")
    res = h0p.post("/short-link", json=seed_body(folder.id))
    assert res.status_code == 201
    body = res.get_json()
    assert set(body) == SEED_KEYS
    assert body["slug"] == "summer-sale" and body["maxClicks"] == 1000 and body["currentClicks"] == 0
    assert body["destination"] == {"type": "link", "value": "https://example.com/products/summer-sale",
                                   "threatTypes": None}
    assert sorted(t["name"] for t in body["tags"]) == ["marketing", "sale"]
    assert all(t["color"].startswith("#") and t["id"] for t in body["tags"])
    assert body["folderId"] == folder.id and body["hasPassword"] is False and body["isActive"] is True
    assert body["originUrl"] == "http://localhost/go/summer-sale" and body["domain"]["domain"] == "localhost"
    assert set(body["domain"]) == {"id", "domain", "isPrimary", "isVerified", "createdAt"}
    assert body["metaTags"] == {"title": None, "description": None, "imageId": None, "image": None}
    assert client.get("/go/summer-sale").headers["Location"] == "https://example.com/products/summer-sale"
    assert h0p.get(f"/short-link/{body['id']}").get_json()["currentClicks"] == 1


def test_email_and_phone_destinations(h0p, client):
    mail = h0p.post("/short-link", json={"slug": "mail", "destination": {"type": "email", "value": "a@b.co"}})
    tel = h0p.post("/short-link", json={"slug": "call", "destination": {"type": "phone", "value": "+1 (555) 010-99"}})
    assert mail.status_code == 201 and tel.status_code == 201
    assert client.get("/go/mail").headers["Location"] == "mailto:a@b.co"
    assert client.get("/go/call").headers["Location"] == "tel:+155501099"


@pytest.mark.parametrize("patch", [
    {"destination": {"type": "link", "value": "javascript:alert(1)"}},
    {"destination": {"type": "sms", "value": "x"}}, {"destination": {"type": "email", "value": "nope"}},
    {"slug": "-bad"}, {"slug": "bad_"}, {"slug": "a" * 51}, {"slug": "sp ace"},
    {"tags": ["x"] * 11}, {"tags": ["a" * 31]}, {"tags": [""]},
    {"maxClicks": 1}, {"maxClicks": 0}, {"maxClicks": 2.5},
    {"password": "four"}, {"password": "x" * 26},
    {"expiresAt": "yesterday"}, {"expiresAt": "2001-01-01T00:00:00Z"},
    {"cloaking": "yes"}, {"rules": [{"priority": 0, "destination": {"type": "link", "value": "https://e.com"},
                                     "countries": ["USA"]}]},
    {"rules": [{"destination": {"type": "link", "value": "ftp://e.com"}, "osTypes": ["ios"]}]},
    {"qrCode": {"options": {"width": 10}}}, {"qrCode": {"options": {"dotsOptions": {"color": "red"}}}},
])
def test_bad_fields_are_400_in_nest_style_and_create_nothing(h0p, patch):
    body = {"destination": {"type": "link", "value": "https://example.com/"}, **patch}
    res = h0p.post("/short-link", json=body)
    assert res.status_code == 400, (res.status_code, res.get_json())
    data = res.get_json()
    assert {"statusCode", "message", "error"} <= set(data) and data["statusCode"] == res.status_code
    assert count(Link) == 0


def test_unknown_folder_is_404_in_nest_style_and_creates_nothing(h0p):
    res = h0p.post("/short-link", json={"destination": {"type": "link", "value": "https://example.com/"},
                                        "folderId": "00000000-0000-7000-8000-000000000000"})
    assert res.status_code == 404
    assert res.get_json() == {"statusCode": 404, "message": "Folder not found", "error": "Not Found",
                              "code": "folder_not_found"}
    assert count(Link) == 0


def test_password_max_clicks_and_expiry(h0p, client):
    res = h0p.post("/short-link", json={"slug": "locked", "password": "secret1",
                                        "destination": {"type": "link", "value": "https://e.com/"}, "maxClicks": 2})
    body = res.get_json()
    assert body["hasPassword"] is True and body["maxClicks"] == 2
    assert client.get("/go/locked").status_code == 200  # the password page


def test_list_get_update_delete(h0p, client, make_user, make_key):
    ids = [h0p.post("/short-link", json={"destination": {"type": "link", "value": f"https://e.com/{i}"}})
           .get_json()["id"] for i in range(3)]
    listing = h0p.get("/short-link/list?limit=2").get_json()
    assert listing["meta"] == {"total": 3, "page": 1, "limit": 2, "totalPages": 2} and len(listing["data"]) == 2
    assert set(listing["data"][0]) == SEED_KEYS
    res = h0p.patch(f"/short-link/{ids[0]}", json={"slug": "renamed", "tags": ["a"], "isActive": False,
                                                   "metaTags": {"title": "T", "description": "D"}})
    body = res.get_json()
    assert res.status_code == 200 and body["slug"] == "renamed" and body["isActive"] is False
    assert body["metaTags"]["title"] == "T" and [t["name"] for t in body["tags"]] == ["a"]
    other = Api(client, make_key(make_user("bob")), "x-api-key")
    assert other.get(f"/short-link/{ids[1]}").status_code == 404
    assert other.delete(f"/short-link/{ids[1]}").status_code == 404
    assert h0p.delete(f"/short-link/{ids[1]}").status_code == 200
    assert h0p.get(f"/short-link/{ids[1]}").status_code == 404 and count(Link) == 2
    assert count(Tag) == 1


def test_rules_are_returned_with_ids_in_priority_order(h0p):
    rules = [{"priority": 5, "destination": {"type": "link", "value": "https://fr.example/"}, "languages": ["fr"]},
             {"priority": 1, "destination": {"type": "link", "value": "https://ios.example/"}, "osTypes": ["ios"],
              "countries": ["us", "CA"]}]
    body = h0p.post("/short-link", json={"destination": {"type": "link", "value": "https://e.com/"},
                                         "rules": rules}).get_json()
    assert [r["priority"] for r in body["rules"]] == [1, 5] and all(r["id"] for r in body["rules"])
    assert body["rules"][0]["countries"] == ["US", "CA"]
    assert body["rules"][0]["destination"] == {"type": "link", "value": "https://ios.example/", "threatTypes": None}


@pytest.mark.slow
def test_parallel_creates_of_one_slug_one_winner(app, live_server, user, make_key):
    key = make_key(user)
    results = burst(20, lambda i: fetch("POST", live_server.url + "/short-link", headers={"x-api-key": key},
                                        json={"slug": "race", "destination": {"type": "link",
                                                                              "value": f"https://e.com/{i}"}}))
    assert sorted(r.status_code for r in results) == [201] + [409] * 19
    assert count(Link) == 1


def test_keys_scopes_and_no_session_routes(client, user, make_key):
    reader = Api(client, make_key(user, scopes=["links:read"]), "x-api-key")
    assert reader.post("/short-link", json={"destination": {"type": "link", "value": "https://e.com"}}) \
        .status_code == 403
    assert reader.get("/short-link/list").status_code == 200
    assert client.get("/short-link/list").status_code == 401


def test_meta_image_from_an_upload_is_an_absolute_url_for_preview_bots(h0p, api, client):
    res = api.post("/api/upload", data={"file": [(io.BytesIO(PNG), "card.png", "image/png")]},
                   content_type="multipart/form-data")
    image = res.get_json()["files"][0]
    made = h0p.post("/short-link", json={"destination": {"type": "link", "value": "https://example.com/"},
                                         "slug": "with-card", "metaTags": {"title": "T", "imageId": image["id"]}})
    assert made.status_code == 201, made.get_json()
    page = client.get("/go/with-card", headers={"User-Agent": "Twitterbot/1.0"}).get_data(as_text=True)
    assert f'<meta property="og:image" content="http://localhost/raw/{image["name"]}">' in page
