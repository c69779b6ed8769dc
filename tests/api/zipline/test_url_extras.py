"""The Zipline dialect shows and edits zipshort's link fields: tags, folder, UTM, rules, meta, QR options, domain."""

from __future__ import annotations

import pytest

from tests.conftest import Api, count
from zipshort.extensions import db
from zipshort.models import CustomDomain, Link, utcnow
from zipshort.services import folders


def test_create_with_every_extra_and_read_it_back(api, user, client):
    folder = folders.create_folder(user, "Campaigns")
    body = {"destination": "https://shop.example/p", "vanity": "spring", "title": "Spring", "description": "Sale",
            "image": "https://cdn.example/og.png", "tags": ["promo", "q2"], "folderId": folder.id,
            "utm": {"source": "news", "medium": "email"}, "deepLinking": True,
            "rules": [{"priority": 0, "languages": ["de"], "destination": {"type": "link", "value": "https://de.example/"},
                       "conditions": [{"type": "device", "matchKey": None, "matchValue": "desktop"}]}],
            "qrOptions": {"options": {"margin": 2, "dotsOptions": {"color": "#112233"}}}}
    res = api.post("/api/user/urls", json=body)
    assert res.status_code == 200, res.get_json()
    made = res.get_json()
    assert made["title"] == "Spring" and made["description"] == "Sale" and made["folderId"] == folder.id
    assert [t["name"] for t in made["tags"]] == ["promo", "q2"] and made["utm"] == {"source": "news", "medium": "email"}
    assert made["rules"][0]["languages"] == ["de"] and made["qrOptions"]["options"]["margin"] == 2
    assert made["rules"][0]["conditions"] == [{"type": "device", "matchKey": None, "matchValue": "desktop"}]
    assert made["deepLinking"] is True and made["cloaking"] is False
    assert api.get(f"/api/user/urls/{made['id']}").get_json()["tags"] == made["tags"]
    german = client.get("/go/spring", headers={"Accept-Language": "de-DE",
                                               "User-Agent": "Mozilla/5.0 (Windows NT 10.0)"})
    assert german.headers["Location"].startswith("https://de.example/?utm_source=news")


def test_edit_and_clear_extras(api):
    made = api.post("/api/user/urls", json={"destination": "https://a.example/", "tags": ["x"],
                                            "utm": {"source": "s"}}).get_json()
    res = api.patch(f"/api/user/urls/{made['id']}", json={"tags": ["y", "z"], "utm": None, "title": "New"})
    assert res.status_code == 200
    edited = res.get_json()
    assert [t["name"] for t in edited["tags"]] == ["y", "z"] and edited["utm"] is None and edited["title"] == "New"
    assert edited["destination"] == "https://a.example/"


@pytest.mark.parametrize("extra,status", [
    ({"tags": "x"}, 400), ({"tags": ["x"] * 11}, 400), ({"utm": {"source": 1}}, 400),
    ({"rules": [{"destination": {"type": "link", "value": "ftp://x"}}]}, 400),
    ({"qrOptions": {"options": {"margin": -1}}}, 400), ({"image": "javascript:x"}, 400), ({"cloaking": "yes"}, 400),
    ({"folderId": "not-mine"}, 404), ({"title": "t" * 300}, 400), ({"domain": "elsewhere.test"}, 400)])
def test_bad_extras_create_nothing(api, extra, status):
    res = api.post("/api/user/urls", json={"destination": "https://a.example/", **extra})
    assert res.status_code == status, res.get_json()
    assert count(Link) == 0


def test_create_on_a_verified_custom_domain(api, client, user):
    domain = api.post("/api/user/domains", json={"hostname": "go.acme.test"}).get_json()
    assert api.post("/api/user/urls", json={"destination": "https://a.example/", "domain": "go.acme.test"}
                    ).status_code == 400
    row = db.session.get(CustomDomain, domain["id"])
    row.verified_at = utcnow()  # the DNS proof itself: tests/api/test_domains.py
    db.session.commit()
    res = api.post("/api/user/urls", json={"destination": "https://a.example/", "domain": "GO.acme.test",
                                           "vanity": "acme"})
    assert res.status_code == 200 and res.get_json()["url"] == "http://go.acme.test/go/acme"
    assert res.get_json()["domain"] == "go.acme.test"
    assert client.get("/go/acme", headers={"Host": "go.acme.test"}).status_code == 302
    assert count(CustomDomain) == 1
    other = Api(client, api.key)
    assert other.get("/api/user/urls").get_json()[0]["url"] == "http://go.acme.test/go/acme"
