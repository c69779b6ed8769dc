"""What a new user saw go wrong, in Debian's chromium against the real server: broken thumbnails, forms that
forgot their input, tables wider than a phone, and a chart without numbers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.browser.conftest import ARTIFACTS, Page, log_in
from tests.conftest import count
from zipshort.extensions import db
from zipshort.models import File, Link, Role
from zipshort.services import accounts, apikeys, folders, invites, thumbnails

pytestmark = pytest.mark.slow
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
LONG = "https://example.com/" + "a-very-long-path-segment/" * 8 + "?utm_campaign=" + "x" * 60


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 90, 200)).save(out, "PNG")
    return out.getvalue()


def api_upload(live_server, token: str, name: str, data: bytes, **headers: str) -> None:
    res = requests.post(live_server.url + "/api/upload", files={"file": (name, data)},
                        headers={"Authorization": token, "x-zipline-original-name": "true", **headers})
    assert res.status_code == 200, res.text


BROKEN_IMAGES = """() => [...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"""


def test_file_grid_never_shows_a_broken_image(ui, rt, user, live_server):
    token = apikeys.get_token(rt, user)
    api_upload(live_server, token, "photo.png", png_bytes())
    api_upload(live_server, token, "logo.svg", SVG)
    api_upload(live_server, token, "lost.png", png_bytes())
    api_upload(live_server, token, "locked.png", png_bytes(), **{"x-zipline-password": "pw"})
    thumbnails.generate_missing(rt.storage)
    lost = File.query.filter_by(original_name="lost.png").one()
    # A thumbnail that is not an image after all: only the browser finds out.
    Path(rt.storage.local_path(lost.thumbnail_key)).write_bytes(b"not a JPEG")
    log_in(ui)
    for path in ("/dashboard", "/dashboard/files"):
        ui.goto(path)
        ui.wait_for_load_state("networkidle")
        ui.shot(path.strip("/").replace("/", "-"))
        assert ui.evaluate(BROKEN_IMAGES) == [], path
        cards = ui.locator(".file-card")
        for name, label in [("logo.svg", "SVG"), ("lost.png", "PNG"), ("locked.png", "PNG")]:
            card = cards.filter(has_text=name)
            assert card.locator(".placeholder .ext").inner_text().strip() == label and \
                card.locator(".placeholder").is_visible(), (path, name)
        assert cards.filter(has_text="photo.png").locator("img").evaluate("i => i.naturalWidth") > 0
        assert ui.evaluate("[...document.images].filter(i => /\\.svg/.test(i.src)).length") == 0


def test_refused_link_form_keeps_everything_typed(ui, user, make_link):
    make_link(user, vanity="taken")
    log_in(ui)
    ui.goto("/dashboard/urls")
    ui.fill("#destination", "https://example.com/kept")
    ui.fill("#vanity", "taken")
    ui.fill("#title", "My <title>")
    ui.fill("#max_views", "5")
    ui.fill("#link-password", "hunter2")
    ui.select_option("#expires", "7d")
    ui.click("summary:has-text('More')")
    ui.fill("#tags", "spring, promo")
    ui.fill("#description", "Preview words")
    ui.fill("#utm-source", "newsletter")
    ui.check("input[name=deep_linking]")
    ui.fill("#rules", '[{"priority": 0, "languages": ["fr"], "destination": {"type": "link", "value": "https://f.example/"}}]')
    ui.click("button:has-text('Shorten')")
    ui.wait_for_selector(".flash.error")
    ui.shot("link-refused")
    assert "vanity" in ui.inner_text(".flash.error").lower()
    assert ui.input_value("#destination") == "https://example.com/kept" and ui.input_value("#vanity") == "taken"
    assert ui.input_value("#title") == "My <title>" and ui.input_value("#max_views") == "5"
    assert ui.input_value("#expires") == "7d" and ui.input_value("#link-password") == ""
    assert ui.is_visible("#tags") and ui.input_value("#tags") == "spring, promo"  # "More" is open
    assert ui.input_value("#description") == "Preview words" and ui.input_value("#utm-source") == "newsletter"
    assert ui.is_checked("input[name=deep_linking]") and "f.example" in ui.input_value("#rules")
    assert count(Link) == 1
    ui.fill("#vanity", "fresh")  # fix the one refused value and send it again
    ui.click("button:has-text('Shorten')")
    ui.wait_for_selector("text=Created")
    db.session.rollback()
    link = Link.query.filter_by(slug="fresh").one()
    assert link.title == "My <title>" and link.deep_linking and sorted(t.name for t in link.tags) == ["promo", "spring"]


def test_refused_text_upload_keeps_the_text(ui, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.parse_quota({"filesType": "BY_FILES",
                                                                                    "maxFiles": 0})))
    log_in(ui)
    ui.goto("/dashboard/upload/text")
    ui.fill("#text-content", "a long paste I do not want to lose\n")
    ui.fill("#text-name", "keep-me")
    ui.click("button:has-text('Upload text')")
    ui.wait_for_selector("#uploads .error")
    assert "quota" in ui.inner_text("#uploads .error")
    assert ui.input_value("#text-content") == "a long paste I do not want to lose\n"
    assert ui.input_value("#text-name") == "keep-me" and count(File) == 0


PHONE_PAGES = ["/dashboard", "/dashboard/files", "/dashboard/files?view=table", "/dashboard/upload/file",
               "/dashboard/upload/text", "/dashboard/urls", "/dashboard/folders", "/dashboard/settings",
               "/dashboard/admin/users", "/dashboard/admin/invites", "/dashboard/admin/domains"]
# Every element that could scroll sideways inside the page, and the page itself.
SIDEWAYS = """() => {
    const out = [];
    if (document.documentElement.scrollWidth > 390) out.push(['page', document.documentElement.scrollWidth]);
    document.querySelectorAll('.table-wrap, table, pre, .panel, nav').forEach(el => {
        if (el.closest('.sr-only')) return;  // for screen readers only, clipped to nothing
        if (el.scrollWidth > el.clientWidth + 1) out.push([el.className || el.tagName, el.scrollWidth, el.clientWidth]);
        const right = el.getBoundingClientRect().right;
        if (right > 391) out.push([el.className || el.tagName, 'right', right]);
    });
    return out; }"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_dashboard_page_fits_a_phone(chromium, live_server, rt, make_user, make_link, own_domain, scheme):
    admin = make_user("root", role=Role.SUPERADMIN)
    make_user("a-rather-long-user-name-for-a-phone")
    own_domain(admin, "links.a-long-custom-domain-name.example")
    for i in range(3):
        make_link(admin, destination=LONG, vanity=f"long-vanity-code-number-{i}", title="A title " * 8,
                  max_views=100, password="pw" if i == 0 else None)
    token = apikeys.get_token(rt, admin)
    api_upload(live_server, token, "a-file-with-a-remarkably-long-name-" + "x" * 40 + ".txt", b"note")
    api_upload(live_server, token, "photo.png", png_bytes())
    apikeys.create_key(rt, apikeys.Actor.of(admin), admin, name="a key with a long descriptive name",
                       scopes=["links:read", "links:write", "files:read", "files:write", "stats:read"])
    invites.create_invite(rt, admin, "7d", 5)
    folders.create_folder(admin, "Holiday pictures from the long summer of twenty-four", public=True)
    link = Link.query.first()
    context = chromium.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
    try:
        page = Page(context, live_server.url, f"phone-{scheme}")
        log_in(page, "root", "correct horse")
        for path in PHONE_PAGES + [f"/dashboard/urls/{link.id}/edit"]:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.shot("url-edit" if path.endswith("/edit") else path.strip("/").replace("/", "-").replace("?", "-")
                      .replace("=", "-"))
            assert page.evaluate(SIDEWAYS) == [], path
        assert not page.errors, page.errors
    finally:
        context.close()


def test_dashboard_chart_shows_values_and_axes(ui, user, make_link):
    for i in range(5):
        make_link(user, vanity=f"chart{i}")
    log_in(ui)
    ui.wait_for_selector(".chart")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ui.locator(".chart").screenshot(path=str(ARTIFACTS / "chart.png"))
    assert ui.locator(".chart-y span").all_inner_texts() == ["6", "4", "2", "0"]
    days = ui.locator(".chart-x li")
    assert days.count() == 14
    last = days.nth(13)
    assert last.locator(".v.links").inner_text() == "5" and last.locator(".v.files").inner_text() == "0"
    assert last.locator(".v.links").is_visible() and last.locator(".d").is_visible()
    top = ui.locator(".chart-bars").bounding_box()
    label = ui.locator(".chart-y span").first.bounding_box()
    assert abs((label["y"] + label["height"] / 2) - top["y"]) < 2  # the top number sits on the top gridline
    assert ui.locator(".sr-only caption").inner_text().startswith("Files and links you created per day")
