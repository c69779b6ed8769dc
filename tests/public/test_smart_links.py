"""What visits to links with rules, UTM, cloaking and preview tags do; Dynamic Links; QR codes."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from zipshort.services import dynamic, linkfields, smart

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
RULES = [
    {"priority": 0, "destination": {"type": "link", "value": "https://fr.example/"}, "languages": ["fr"]},
    {"priority": 1, "destination": {"type": "link", "value": "https://ios-us.example/"}, "osTypes": ["ios"],
     "countries": ["US"]},
    {"priority": 2, "destination": {"type": "link", "value": "https://android.example/"}, "osTypes": ["android"]},
    {"priority": 3, "destination": {"type": "link", "value": "https://es-mx.example/"}, "languages": ["es-MX"]},
]


@pytest.fixture
def ruled(make_link, user, rt):
    return make_link(user, vanity="ruled", destination="https://main.example/",
                     rules=linkfields.validate_rules(RULES, 2048))


class TestRulesWithTheCountryHeader:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"country_header": "CF-IPCountry"}}

    @pytest.mark.parametrize("headers,expected", [
        ({}, "https://main.example/"),
        ({"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5", "User-Agent": IPHONE}, "https://fr.example/"),  # priority
        ({"Accept-Language": "en-US", "User-Agent": IPHONE, "CF-IPCountry": "US"}, "https://ios-us.example/"),
        ({"Accept-Language": "en-US", "User-Agent": IPHONE, "CF-IPCountry": "DE"}, "https://main.example/"),
        ({"User-Agent": ANDROID}, "https://android.example/"),
        ({"User-Agent": WINDOWS, "Accept-Language": "es-MX,es;q=0.8"}, "https://es-mx.example/"),
        ({"User-Agent": WINDOWS, "Accept-Language": "es-ES"}, "https://main.example/"),
        ({"Accept-Language": "en, fr;q=0.8"}, "https://main.example/"),  # only languages with q >= 0.9 count
        ({"Accept-Language": "en, fr;q=0.9"}, "https://fr.example/"),
    ])
    def test_rules_choose_by_language_os_and_country(self, client, ruled, headers, expected):
        res = client.get("/go/ruled", headers=headers)
        assert res.status_code == 302 and res.headers["Location"] == expected


def test_country_header_is_ignored_unless_configured(client, ruled):
    res = client.get("/go/ruled", headers={"User-Agent": IPHONE, "CF-IPCountry": "US"})
    assert res.headers["Location"] == "https://main.example/"


def test_smart_links_still_count_and_respect_limits(client, make_link, user):
    from tests.conftest import fresh
    from zipshort.models import Link

    link = make_link(user, vanity="few", destination="https://e.com/", max_views=2,
                     utm={"source": "x"})
    codes = [client.get("/go/few").status_code for _ in range(3)]
    assert codes == [302, 302, 404] and fresh(Link, link.id).views == 2


def test_preview_bots_get_meta_tags_people_get_redirected(client, make_link, user):
    make_link(user, vanity="meta", destination="https://e.com/", title='Launch <b>"2024"</b>',
              description="Be first")
    bot = client.get("/go/meta", headers={"User-Agent": "Mozilla/5.0 (compatible; Discordbot/2.0)"})
    html = bot.get_data(as_text=True)
    assert bot.status_code == 200 and 'property="og:title" content="Launch &lt;b&gt;&#34;2024&#34;&lt;/b&gt;"' in html
    assert 'og:description" content="Be first"' in html
    assert client.get("/go/meta", headers={"User-Agent": WINDOWS}).status_code == 302


def test_cloaking_serves_a_frame_page_that_may_frame_only_the_destination(client, make_link, user):
    make_link(user, vanity="cloak", destination="https://shop.example/p?a=1", cloaking=True, title="Shop")
    res = client.get("/go/cloak", headers={"User-Agent": WINDOWS})
    assert res.status_code == 200 and '<iframe class="cloak" src="https://shop.example/p?a=1"' in res.get_data(
        as_text=True)
    csp = res.headers["Content-Security-Policy"]
    assert "frame-src https://shop.example;" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert res.headers["Cache-Control"] == "no-store"
    assert client.head("/go/cloak").status_code == 302  # HEAD never renders the page


def test_os_parser_and_bot_detection():
    assert smart.os_type(IPHONE) == "ios" and smart.os_type(ANDROID) == "android"
    assert smart.os_type(WINDOWS) == "windows" and smart.os_type("") == "other"
    assert smart.is_preview_bot("Slackbot-LinkExpanding 1.0") and not smart.is_preview_bot(WINDOWS)


def test_dynamic_links_verify_their_signature(rt, client, user):
    secret = dynamic.secret_of(user)
    target = "https://example.com/once?x=1"
    signature = dynamic.sign(secret, target)
    path = f"/dl/{user.id}/{signature}"
    res = client.get(path, query_string={"u": target})
    assert res.status_code == 302 and res.headers["Location"] == target
    assert client.get(path, query_string={"u": target + "&evil=1"}).status_code == 404  # tampered
    assert client.get(f"/dl/{user.id}/{'A' * 22}", query_string={"u": target}).status_code == 404
    http = "http://example.com/"
    assert client.get(f"/dl/{user.id}/{dynamic.sign(secret, http)}", query_string={"u": http}).status_code == 404
    dynamic.rotate_secret(rt, user)
    assert client.get(path, query_string={"u": target}).status_code == 404  # the old secret is dead


def test_dynamic_link_algorithm_matches_the_readme_snippet(user):
    import base64
    import hashlib
    import hmac

    secret, url = "s3cret", "https://example.com/a"
    expected = base64.urlsafe_b64encode(hmac.new(secret.encode(), url.encode(), hashlib.sha256).digest())
    assert dynamic.sign(secret, url) == expected.decode().rstrip("=")[:22]


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_codes_decode_back_to_the_link(client, make_link, user, fmt):
    make_link(user, vanity="qrme", qr_options={"options": {"width": 300, "margin": 4,
                                                            "dotsOptions": {"color": "#1e3a8a"},
                                                            "backgroundOptions": {"color": "#ffffff"}}})
    res = client.get(f"/qr/qrme.{fmt}")
    assert res.status_code == 200
    if fmt == "svg":
        assert res.mimetype == "image/svg+xml" and b"#1e3a8a" in res.data
        from zipshort.services import qrcodes
        png = qrcodes.render("http://localhost/go/qrme", None, "png")  # the same code drawn as PNG
        image = Image.open(io.BytesIO(png))
    else:
        image = Image.open(io.BytesIO(res.data))
        assert 280 <= image.width <= 320
    (result,) = zxingcpp.read_barcodes(image.convert("L"))
    assert result.text == "http://localhost/go/qrme"
    assert client.get("/qr/missing.png").status_code == 404


def _upload_png(api, color=(220, 20, 60), size=(120, 120), ctype="image/png", name="logo.png") -> str:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    res = api.post("/api/upload", data={"file": [(io.BytesIO(out.getvalue()), name, ctype)]},
                   content_type="multipart/form-data")
    assert res.status_code == 200
    return res.get_json()["files"][0]["id"]


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_logo_from_an_uploaded_image_still_decodes(api, client, fmt):
    logo = _upload_png(api)
    res = api.post("/short-link", headers={"x-api-key": api.key}, json={
        "slug": "logo", "destination": {"type": "link", "value": "https://logo.example/"},
        "qrCode": {"options": {"width": 400, "imageOptions": {"imageSize": 0.4}}, "imageId": logo}})
    assert res.status_code == 201 and res.get_json()["qrCode"]["imageId"] == logo
    qr = client.get(f"/qr/logo.{fmt}")
    assert qr.status_code == 200
    if fmt == "svg":
        import base64
        import re

        assert "img-src data:" in qr.headers["Content-Security-Policy"]
        data = re.search(rb'href="data:image/png;base64,([^"]+)"', qr.data).group(1)
        image = Image.open(io.BytesIO(base64.b64decode(data)))
    else:
        image = Image.open(io.BytesIO(qr.data))
    centre = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert centre == (220, 20, 60)  # the logo sits in the middle
    (result,) = zxingcpp.read_barcodes(image.convert("L"))
    assert result.text == "http://localhost/go/logo"


def test_qr_logo_must_be_the_callers_image(api, client, make_user, make_key):
    from tests.conftest import Api, count
    from zipshort.models import Link

    text_id = api.post("/api/upload", data={"file": [(io.BytesIO(b"hi"), "a.txt", "text/plain")]},
                       content_type="multipart/form-data").get_json()["files"][0]["id"]
    bob = Api(client, make_key(make_user("bob")), style="x-api-key")
    theirs = _upload_png(Api(client, bob.key))
    for image_id, status in ((text_id, 400), (theirs, 404), ("no-such-file", 404)):
        res = api.post("/short-link", headers={"x-api-key": api.key}, json={
            "destination": {"type": "link", "value": "https://logo.example/"}, "qrCode": {"options": {},
                                                                                    "imageId": image_id}})
        assert res.status_code == status, (image_id, res.get_json())
    assert count(Link) == 0


@pytest.mark.parametrize("destination, package", [
    ("https://www.youtube.com/watch?v=abc&t=3", "com.google.android.youtube"), ("https://shop.example/item/9", None)])
def test_deep_linking_opens_the_app_on_android(client, make_link, user, destination, package):
    from urllib.parse import quote

    make_link(user, destination=destination, vanity="app", deep_linking=True)
    android = client.get("/go/app", headers={"User-Agent": ANDROID}).headers["Location"]
    rest = destination.split("://", 1)[1]
    assert android.startswith(f"intent://{rest}#Intent;scheme=https;")
    assert (f"package={package};" in android) == (package is not None)
    assert android.endswith(f"S.browser_fallback_url={quote(destination, safe='')};end")
    assert client.get("/go/app", headers={"User-Agent": IPHONE}).headers["Location"] == destination
    assert client.get("/go/app", headers={"User-Agent": WINDOWS}).headers["Location"] == destination


def test_deep_linking_follows_rules_and_utm_and_can_be_turned_off(api, client):
    made = api.post("/short-link", headers={"x-api-key": api.key}, json={
        "slug": "deep", "enableDeepLinking": True, "destination": {"type": "link", "value": "https://a.example/p"},
        "rules": [{"priority": 0, "osTypes": ["android"],
                   "destination": {"type": "link", "value": "https://play.google.com/store/apps/details?id=x"}}]})
    assert made.status_code == 201
    location = client.get("/go/deep", headers={"User-Agent": ANDROID}).headers["Location"]
    assert location.startswith("intent://play.google.com/store/apps/details?id=x#Intent;scheme=https;"
                               "package=com.android.vending;")
    assert api.patch(f"/short-link/{made.get_json()['id']}", headers={"x-api-key": api.key},
                     json={"enableDeepLinking": False, "rules": None}).status_code == 200
    assert client.get("/go/deep", headers={"User-Agent": ANDROID}).headers["Location"] == "https://a.example/p"


class TestCachedSmartLinks:
    """A smart link is cached like a plain one, with a snapshot of its rules: later visits read no row."""

    @pytest.fixture
    def overrides(self):
        return {"urls": {"view_flush_seconds": 60.0, "cache_seconds": 600}}  # no entry ages out mid-test

    @pytest.fixture
    def statements(self, app) -> list[str]:
        import sqlalchemy as sa

        from zipshort.extensions import db

        seen: list[str] = []
        with app.app_context():
            engine = db.engine

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        yield seen
        sa.event.remove(engine, "before_cursor_execute", record)

    def test_visits_after_the_first_decide_from_the_cache(self, client, ruled, statements):
        assert client.get("/go/ruled", headers={"User-Agent": ANDROID}).headers["Location"] == \
            "https://android.example/"
        statements.clear()
        for agent, expected in ((ANDROID, "https://android.example/"), (WINDOWS, "https://main.example/"),
                                (IPHONE, "https://main.example/")):
            assert client.get("/go/ruled", headers={"User-Agent": agent}).headers["Location"] == expected
            assert client.head("/go/ruled", headers={"User-Agent": agent}).headers["Location"] == expected
        assert not [s for s in statements if "links" in s], statements

    def test_an_edit_of_the_rules_is_seen_at_once(self, client, ruled, rt, user):
        from zipshort.services import links

        assert client.get("/go/ruled", headers={"User-Agent": ANDROID}).headers["Location"] == \
            "https://android.example/"
        only_ios = [{"priority": 0, "destination": {"type": "link", "value": "https://ios.example/"},
                     "osTypes": ["ios"]}]
        links.update_link(rt, user, ruled.id, links.LinkChanges(rules=linkfields.validate_rules(only_ios, 2048)))
        assert client.get("/go/ruled", headers={"User-Agent": ANDROID}).headers["Location"] == "https://main.example/"
        assert client.get("/go/ruled", headers={"User-Agent": IPHONE}).headers["Location"] == "https://ios.example/"

    def test_views_of_a_cached_smart_link_are_counted(self, client, ruled, rt):
        from tests.conftest import fresh
        from zipshort.extensions import db
        from zipshort.models import Link
        from zipshort.services import visits

        for _ in range(4):
            client.get("/go/ruled", headers={"User-Agent": IPHONE})
        visits.flush_views(db.engine, rt.views)
        assert fresh(Link, ruled.id).views == 4

    def test_bots_get_the_preview_from_the_cache_too(self, client, make_link, user):
        make_link(user, vanity="card", destination="https://main.example/", title="Card", description="Text")
        assert client.get("/go/card", headers={"User-Agent": IPHONE}).status_code == 302
        bot = client.get("/go/card", headers={"User-Agent": "Slackbot-LinkExpanding 1.0"})
        assert bot.status_code == 200 and "Card" in bot.get_data(as_text=True)
