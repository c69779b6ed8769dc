"""What a person does in the dashboard, in a real browser against the real server."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyotp
import pytest
import requests

from tests.browser.conftest import log_in
from tests.conftest import count, dns_overrides, fresh
from zipshort.models import File, Folder, Link, Role, User
from zipshort.services import accounts, apikeys, mfa

pytestmark = pytest.mark.slow
HOSTILE = '<img src=x onerror=alert(1)>"\''


@pytest.fixture
def overrides(dns_zone):
    # Small chunks so the upload page's chunked path runs with a small file; custom domains ask the test DNS.
    return {"files": {"chunk_threshold": 64 * 1024, "chunk_size": 48 * 1024}, **dns_overrides(dns_zone)}


def test_first_run_setup_then_logout_and_login_with_the_keyboard(ui, live_server):
    ui.goto("/")
    ui.wait_for_url("**/setup")
    ui.shot("setup")
    ui.fill("#username", "root")
    ui.fill("#password", "pw-123456")
    ui.click("text=Create account")
    ui.wait_for_url("**/dashboard")
    ui.shot("dashboard-empty")
    ui.click("text=Log out")
    ui.wait_for_url("**/auth/login")
    ui.shot("login")
    assert requests.get(live_server.url + "/dashboard", cookies={c["name"]: c["value"] for c in ui.context.cookies()},
                        allow_redirects=False).status_code == 302  # the old cookie is worthless
    ui.fill("#username", "root")
    ui.fill("#password", "wrong")
    ui.keyboard.press("Enter")
    ui.wait_for_selector(".error")
    assert "Invalid username or password" in ui.inner_text(".error")
    ui.focus("#username")
    ui.fill("#username", "root")
    ui.keyboard.press("Tab")
    assert ui.evaluate("document.activeElement.id") == "password"
    ui.keyboard.type("pw-123456")
    ui.keyboard.press("Enter")
    ui.wait_for_url("**/dashboard")


def test_login_with_two_factor(ui, rt, user):
    secret = mfa.new_secret()
    mfa.enable(rt, user, secret, pyotp.TOTP(secret).now())
    ui.goto("/auth/login?next=/dashboard/urls")
    ui.fill("#username", "alice")
    ui.fill("#password", "correct horse")
    ui.click("button[type=submit]")
    ui.wait_for_selector("#code")
    ui.shot("login-totp")
    ui.fill("#code", "000000")
    ui.click("button[type=submit]")
    ui.wait_for_selector(".error")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    ui.fill("#code", pyotp.TOTP(secret).at(later))
    ui.click("button[type=submit]")
    ui.wait_for_url("**/dashboard/urls")


def test_enable_two_factor_in_settings(ui, user):
    log_in(ui)
    ui.goto("/dashboard/settings")
    assert ui.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    secret = ui.inner_text("#totp-secret").strip()
    ui.fill("#totp-code", pyotp.TOTP(secret).now())
    ui.click("button:has-text('Turn on')")
    ui.wait_for_selector("text=Two-factor authentication is on")
    assert fresh(User, user.id).totp_secret == secret


def test_upload_files_through_the_page_and_fetch_them(ui, user, tmp_path, live_server):
    log_in(ui)
    ui.goto("/dashboard/upload/file")
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello from the browser\n")
    big = tmp_path / "big.bin"
    big_bytes = bytes(range(256)) * 800  # 200 KiB: four chunks of 48 KiB and a tail
    big.write_bytes(big_bytes)
    ui.set_input_files("#file-input", [str(small), str(big)])
    ui.locator('#uploads a[href*="/u/"]').nth(1).wait_for()
    ui.shot("upload-done")
    links = ui.eval_on_selector_all('#uploads a[href*="/u/"]', "els => els.map(e => e.href)")
    bodies = sorted(requests.get(u.replace("/u/", "/raw/")).content for u in links)
    assert bodies == sorted([small.read_bytes(), big_bytes])
    assert count(File) == 2 and ui.locator("#uploads progress").count() == 2


def test_upload_with_options_drag_and_drop(ui, user, live_server):
    log_in(ui)
    ui.goto("/dashboard/upload/file")
    ui.select_option("#opt-format", "uuid")
    ui.fill("#opt-max-views", "1")
    data_transfer = ui.evaluate_handle("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(['dropped bytes'], 'dropped.txt', {type: 'text/plain'}));
        return dt; }""")
    ui.dispatch_event("#dropzone", "drop", {"dataTransfer": data_transfer})
    ui.wait_for_selector('#uploads a[href*="/u/"]')
    row = File.query.one()
    assert re.fullmatch(r"[0-9a-f-]{36}\.txt", row.name) and row.max_views == 1


def test_paste_text_and_pick_a_language(ui, user, live_server):
    log_in(ui)
    ui.goto("/dashboard/upload/text")
    ui.fill("#text-content", "print('hi')\n")
    ui.select_option("#text-language", "py")
    ui.fill("#text-name", "snippet")
    ui.click("button:has-text('Upload text')")
    ui.wait_for_selector('#uploads a[href*="/u/"]')
    ui.shot("text-done")
    url = ui.get_attribute('#uploads a[href*="/u/"]', "href")
    assert requests.get(url.replace("/u/", "/raw/")).text == "print('hi')\n"
    assert File.query.one().name.endswith(".py")


def test_create_edit_disable_and_delete_a_link(ui, user, live_server):
    log_in(ui)
    ui.goto("/dashboard/urls")
    ui.fill("#destination", "https://example.com/first")
    ui.fill("#vanity", "browser")
    ui.fill("#title", HOSTILE)
    ui.click("button:has-text('Shorten')")
    ui.wait_for_selector("text=Created")
    ui.shot("links")
    assert ui.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    assert HOSTILE in ui.inner_text(".link-title")  # shown as text, never run
    res = requests.get(live_server.url + "/go/browser", allow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"] == "https://example.com/first"
    ui.click("text=Edit")
    ui.fill("#destination", "https://example.com/second")
    ui.click("button:has-text('Save')")
    ui.wait_for_selector("text=Saved")
    assert requests.get(live_server.url + "/go/browser", allow_redirects=False).headers["Location"] == \
        "https://example.com/second"
    ui.click("button:has-text('Disable')")
    ui.wait_for_selector("text=Disabled")
    assert requests.get(live_server.url + "/go/browser", allow_redirects=False).status_code == 404
    ui.click("button:has-text('Delete')")
    ui.wait_for_selector("text=No links yet")
    assert ui.dialogs == ["Delete this link?"] and count(Link) == 0


def test_link_with_more_options_on_a_custom_domain(ui, user, live_server, dns_zone):
    from zipshort.models import CustomDomain

    log_in(ui)
    ui.goto("/dashboard/settings")
    # localhost:<port> also reaches this server (the browser itself is on 127.0.0.1:<port>, a platform host).
    host = "localhost:" + live_server.url.rsplit(":", 1)[1]
    ui.fill("#domain-hostname", host)
    ui.click("button:has-text('Add domain')")
    ui.wait_for_selector("text=_zipshort-challenge.localhost")
    dns_zone.txt["_zipshort-challenge.localhost"] = [CustomDomain.query.one().verify_token]
    ui.click("button:has-text('Check now')")
    ui.wait_for_selector(f"text={host} is verified")
    assert fresh(CustomDomain, CustomDomain.query.one().id).verified
    ui.goto("/dashboard/urls")
    ui.click("summary:has-text('More')")
    ui.select_option("#domain", host)
    ui.fill("#destination", "https://example.com/more")
    ui.fill("#vanity", "more")
    ui.fill("#tags", "promo, spring")
    ui.fill("#utm-source", "newsletter")
    ui.fill("#rules", json.dumps([{"priority": 0, "languages": ["fr"],
                                   "destination": {"type": "link", "value": "https://example.fr/"}}]))
    ui.click("button:has-text('Shorten')")
    ui.wait_for_selector("text=Created")
    ui.shot("links-more")
    from zipshort.extensions import db

    db.session.rollback()  # see what the server wrote
    link = Link.query.filter_by(slug="more").one()
    assert link.domain == host and sorted(t.name for t in link.tags) == ["promo", "spring"]
    res = requests.get(f"http://{host}/go/more", allow_redirects=False, headers={"Accept-Language": "fr"})
    assert res.headers["Location"] == "https://example.fr/?utm_source=newsletter"
    res = requests.get(f"http://{host}/go/more", allow_redirects=False, headers={"Accept-Language": "en"})
    assert res.headers["Location"] == "https://example.com/more?utm_source=newsletter"
    assert requests.get(live_server.url + "/go/more", allow_redirects=False).status_code == 404  # its host only
    assert ui.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    ui.click("text=Edit")
    assert ui.input_value("#tags") == "promo, spring" and ui.input_value("#utm-source") == "newsletter"


def test_create_a_folder_and_open_its_public_page(ui, user):
    log_in(ui)
    ui.goto("/dashboard/folders")
    ui.fill("#folder-name", "Screens")
    ui.check("input[name=public] >> nth=0")
    ui.click("button:has-text('Create folder')")
    ui.wait_for_selector("text=Created folder Screens")
    ui.shot("folders")
    folder = Folder.query.one()
    assert folder.public
    ui.click("text=Public page")
    ui.wait_for_url(f"**/folder/{folder.id}")
    ui.shot("folder-public")


def _sharex_value(template: str, data) -> str:
    """Evaluate a ShareX URL template like {json:files[0].url} against a JSON answer."""
    match = re.fullmatch(r"\{json:([^}]+)\}", template)
    assert match, template
    value = data
    for part in re.findall(r"[^.\[\]]+", match.group(1)):
        value = value[int(part)] if part.isdigit() else value[part]
    return value


def test_download_sharex_configs_and_use_them_against_the_server(ui, user, tmp_path):
    log_in(ui)
    ui.goto("/dashboard/settings")
    ui.shot("settings")
    with ui.expect_download() as info:
        ui.click('a[href*="sxcu"]:has-text("ShareX (files)")')
    config = json.loads(Path(info.value.path()).read_text())
    assert info.value.suggested_filename == "zipshort-file.sxcu"
    # What ShareX does with it: multipart POST with the headers, then the URL template.
    res = requests.request(config["RequestMethod"], config["RequestURL"], headers=config["Headers"],
                           files={config["FileFormName"]: ("shot.png", b"\x89PNG\r\n\x1a\n" + b"1" * 32, "image/png")})
    assert res.status_code == 200, res.text
    url = _sharex_value(config["URL"], res.json())
    assert requests.get(url.replace("/u/", "/raw/")).content.startswith(b"\x89PNG")
    with ui.expect_download() as info:
        ui.click('a[href*="sxcu"]:has-text("ShareX (links)")')
    config = json.loads(Path(info.value.path()).read_text())
    body = config["Data"].replace("{input}", "https://example.com/from-sharex")
    res = requests.post(config["RequestURL"], headers={**config["Headers"], "Content-Type": "application/json"},
                        data=body)
    short = _sharex_value(config["URL"], res.json())
    assert requests.get(short, allow_redirects=False).headers["Location"] == "https://example.com/from-sharex"


def test_create_and_revoke_an_api_key(ui, user, live_server):
    log_in(ui)
    ui.goto("/dashboard/settings")
    ui.fill("#key-name", "laptop")
    ui.uncheck("input[name=scopes][value='files:write']")
    ui.click("button:has-text('Create key')")
    ui.wait_for_selector("#new-key-value")
    ui.shot("settings-new-key")
    key = ui.inner_text("#new-key-value").strip()
    headers = {"Authorization": key}
    assert requests.get(live_server.url + "/api/user/urls", headers=headers).status_code == 200
    ui.goto("/dashboard/settings")
    assert key not in ui.content()  # shown once
    ui.click("button:has-text('Revoke')")
    ui.wait_for_selector("text=Revoked key laptop")
    assert requests.get(live_server.url + "/api/user/urls", headers=headers).status_code == 401


def test_admin_creates_a_user_whose_quota_then_applies(ui, rt, make_user, live_server):
    make_user("boss", role=Role.ADMIN)
    log_in(ui, "boss")
    ui.goto("/dashboard/admin/users")
    ui.fill("#new-username", "limited")
    ui.fill("#new-password", "pw-123456")
    ui.select_option("#quota-type-new", "BY_FILES")
    ui.fill("#max-files-new", "1")
    ui.click("button:has-text('Create user')")
    ui.wait_for_selector("text=Created user limited")
    ui.shot("admin-users")
    limited = accounts.find_user("limited")
    token = apikeys.get_token(rt, limited)
    first = requests.post(live_server.url + "/api/upload", headers={"Authorization": token},
                          files={"file": ("a.txt", b"a")})
    second = requests.post(live_server.url + "/api/upload", headers={"Authorization": token},
                           files={"file": ("b.txt", b"b")})
    assert first.status_code == 200 and second.status_code == 413, second.text
    ui.goto("/dashboard/admin/invites")
    ui.fill("#inv-max", "2")
    ui.click("button:has-text('Create invite')")
    ui.wait_for_selector("text=Created invite")
    ui.shot("admin-invites")


def test_a_form_without_its_csrf_token_is_refused(ui, user):
    log_in(ui)
    ui.goto("/dashboard/urls")
    ui.evaluate("document.querySelector('form[action=\"/dashboard/urls\"] input[name=csrf_token]').remove()")
    ui.fill("#destination", "https://example.com/csrf")
    ui.click("button:has-text('Shorten')")
    ui.wait_for_selector("h1:has-text('400')")
    assert count(Link) == 0


def test_hostile_names_are_shown_as_text(ui, user, rt, make_link, live_server):
    token = apikeys.get_token(rt, user)
    requests.post(live_server.url + "/api/upload", headers={"Authorization": token, "x-zipline-original-name": "true"},
                  files={"file": (HOSTILE + ".txt", b"x")})
    make_link(user, vanity="hostile", title=HOSTILE)
    log_in(ui)
    for path in ("/dashboard", "/dashboard/files", "/dashboard/files?view=table", "/dashboard/urls"):
        ui.goto(path)
        ui.wait_for_load_state("load")
    assert ui.dialogs == []  # no alert() ran
    ui.goto("/dashboard/files?view=table")
    assert HOSTILE + ".txt" in ui.inner_text("table")


PAGES = ["/dashboard", "/dashboard/files", "/dashboard/files?view=table", "/dashboard/upload/file",
         "/dashboard/upload/text", "/dashboard/urls", "/dashboard/folders", "/dashboard/settings",
         "/dashboard/admin/users", "/dashboard/admin/invites", "/dashboard/admin/domains", "/dashboard/admin/audit"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_every_page_on_desktop_and_phone_without_errors(chromium, live_server, rt, make_user, make_link,
                                                        scheme, viewport):
    from tests.browser.conftest import Page

    admin = make_user("root", role=Role.SUPERADMIN)
    make_link(admin, vanity="sample", title="Sample link")
    token = apikeys.get_token(rt, admin)
    requests.post(live_server.url + "/api/upload", headers={"Authorization": token},
                  files={"file": ("note.txt", b"note")})
    context = chromium.new_context(viewport=viewport, color_scheme=scheme)
    try:
        page = Page(context, live_server.url, f"{scheme}-{viewport['width']}")
        log_in(page, "root", "correct horse")
        for path in PAGES + ["/nope", "/go/missing"]:
            page.goto(path)
            label = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "root"
            page.shot(label)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)  # nothing wider than the screen
            unlabeled = page.evaluate("""() => [...document.querySelectorAll(
                    'input:not([type=hidden]), select, textarea')]
                .filter(el => !el.hidden && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name || el.id)""")
            assert unlabeled == [], (path, unlabeled)
        assert not page.errors, page.errors
    finally:
        context.close()
