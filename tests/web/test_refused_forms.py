"""A refused form comes back with what was typed (escaped, passwords left out) and the reason, on every
dashboard form and on setup and registration; nothing is written."""

from __future__ import annotations

import re

import pytest

from tests.conftest import count
from tests.web.test_pages import csrf, log_in
from zipshort.models import ApiKey, CustomDomain, Folder, Invite, Link, Role, Tag, User
from zipshort.services import folders

HOSTILE = '<b>x</b>"\'&'
ESCAPED = "&lt;b&gt;x&lt;/b&gt;&#34;&#39;&amp;"


def html_of(res) -> str:
    return res.get_data(as_text=True)


def input_value(html: str, ident: str) -> str:
    """The value attribute of the input with this id (as written in the HTML, i.e. escaped)."""
    tag = re.search(rf'<input[^>]*\bid="{re.escape(ident)}"[^>]*>', html)
    assert tag, ident
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def is_checked(html: str, name: str, value: str | None = None, form_action: str | None = None) -> bool:
    part = form_of(html, form_action) if form_action else html
    pattern = rf'<input type="checkbox" name="{re.escape(name)}"' + (rf' value="{re.escape(value)}"' if value else "")
    tag = re.search(pattern + r"[^>]*>", part)
    assert tag, (name, value)
    return " checked" in tag.group(0)


def selected(html: str, select_id: str) -> str:
    block = re.search(rf'<select id="{re.escape(select_id)}".*?</select>', html, re.S).group(0)
    chosen = re.search(r'<option(?: value="([^"]*)")? selected>([^<]*)<', block)
    return "" if chosen is None else (chosen.group(1) if chosen.group(1) is not None else chosen.group(2))


def form_of(html: str, action: str) -> str:
    return re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S).group(0)


def test_refused_new_link_keeps_every_field_escaped(browser):
    page = browser.get("/dashboard/urls")
    rules = '[{"priority": 0, "languages": ["fr"], "destination": {"type": "link", "value": "https://fr.example/"}}]'
    res = browser.post("/dashboard/urls", data={
        "csrf_token": csrf(page), "destination": "javascript:alert(1)", "vanity": "kept-code", "title": HOSTILE,
        "max_views": "7", "password": "secret-pw", "expires": "7d", "domain": "", "tags": "promo, spring",
        "description": HOSTILE, "image": "https://cdn.example/i.png", "utm_source": "news", "utm_term": HOSTILE,
        "qr_dark": "#112233", "qr_light": "#fefefe", "cloaking": "on", "rules": rules})
    html = html_of(res)
    assert res.status_code == 400 and count(Link) == 0
    assert 'class="flash error"' in html and "<b>x</b>" not in html
    assert input_value(html, "destination") == "javascript:alert(1)"
    assert input_value(html, "vanity") == "kept-code" and input_value(html, "title") == ESCAPED
    assert input_value(html, "max_views") == "7" and selected(html, "expires") == "7d"
    assert input_value(html, "tags") == "promo, spring" and input_value(html, "description") == ESCAPED
    assert input_value(html, "image") == "https://cdn.example/i.png" and input_value(html, "utm-source") == "news"
    assert input_value(html, "utm-term") == ESCAPED
    assert input_value(html, "qr-dark") == "#112233" and input_value(html, "qr-light") == "#fefefe"
    assert is_checked(html, "cloaking") and not is_checked(html, "deep_linking")
    assert not is_checked(html, "enabled")  # it was left unticked
    assert "fr.example" in re.search(r'<textarea id="rules".*?</textarea>', html, re.S).group(0)
    assert re.search(r'<details class="span-all link-more" open>', html)  # the "More" fields are in view
    assert "secret-pw" not in html


def test_refused_new_link_keeps_the_chosen_domain(browser, user, own_domain):
    own_domain(user, "go.mine.test")
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "notaurl",
                                                "domain": "go.mine.test"})
    assert res.status_code == 400 and selected(html_of(res), "domain") == "go.mine.test"


def test_refused_vanity_conflict_keeps_the_input(browser, user, make_link):
    make_link(user, vanity="taken")
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "https://example.com/n",
                                                "vanity": "taken", "enabled": "on"})
    html = html_of(res)
    assert res.status_code == 409 and count(Link) == 1
    assert input_value(html, "destination") == "https://example.com/n" and is_checked(html, "enabled")


def test_refused_link_edit_shows_the_edit_page_with_what_was_typed(browser, user, make_link):
    link = make_link(user, vanity="editme", title="Old title")
    page = browser.get(f"/dashboard/urls/{link.id}/edit")
    res = browser.post(f"/dashboard/urls/{link.id}", data={
        "csrf_token": csrf(page), "destination": "https://example.com/new", "vanity": "editme", "title": HOSTILE,
        "enabled": "on", "expires_at": "2999-01-02T03:04", "rules": "not json", "tags": "a, b"})
    html = html_of(res)
    assert res.status_code == 400 and f'action="/dashboard/urls/{link.id}"' in html
    assert input_value(html, "destination") == "https://example.com/new" and input_value(html, "title") == ESCAPED
    assert input_value(html, "link-expires") == "2999-01-02T03:04" and input_value(html, "tags") == "a, b"
    assert "not json" in html and Link.query.one().title == "Old title"


def test_refused_folder_forms_keep_the_name(browser, user):
    page = browser.get("/dashboard/folders")
    res = browser.post("/dashboard/folders", data={"csrf_token": csrf(page), "name": HOSTILE + "x" * 300,
                                                   "public": "on"})
    html = html_of(res)
    assert res.status_code == 400 and count(Folder) == 0
    assert input_value(html, "folder-name") == ESCAPED + "x" * 300
    assert is_checked(html, "public", form_action="/dashboard/folders")
    folder = folders.create_folder(user, "Holiday")
    page = browser.get("/dashboard/folders")
    res = browser.post(f"/dashboard/folders/{folder.id}", data={"csrf_token": csrf(page), "name": "x" * 300,
                                                                "allow_uploads": "on"})
    html = html_of(res)
    assert res.status_code == 400 and input_value(html, f"name-{folder.id}") == "x" * 300
    assert is_checked(html, "allow_uploads", form_action=f"/dashboard/folders/{folder.id}")
    assert input_value(html, "folder-name") == ""  # the other form is as new


def test_refused_tag_keeps_its_name_and_colour(browser, user):
    page = browser.get("/dashboard/files")
    res = browser.post("/dashboard/tags", data={"csrf_token": csrf(page), "name": HOSTILE + "y" * 64,
                                                "color": "#123456"})
    html = html_of(res)
    assert res.status_code == 400 and count(Tag) == 0
    assert input_value(html, "tag-name") == ESCAPED + "y" * 64 and input_value(html, "tag-color") == "#123456"
    assert 'name="back" value="/dashboard/files"' in html  # the bulk form still goes back to the listing


def test_refused_api_key_keeps_name_expiry_and_scopes(browser, user):
    page = browser.get("/dashboard/settings")
    res = browser.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": HOSTILE,
                                                         "expires": "bogus", "scopes": ["links:read"], "bot": "on"})
    html = html_of(res)
    assert res.status_code == 400 and count(ApiKey) == 1  # only the Zipline token
    assert input_value(html, "key-name") == ESCAPED
    assert is_checked(html, "scopes", "links:read") and not is_checked(html, "scopes", "files:write")
    assert is_checked(html, "bot")
    res = browser.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": "k", "expires": "30d"})
    assert res.status_code == 400 and selected(html_of(res), "key-expires") == "30d"


def test_refused_domain_and_embed_forms_keep_their_input(browser, user):
    page = browser.get("/dashboard/settings")
    res = browser.post("/dashboard/settings/domains", data={"csrf_token": csrf(page), "hostname": "http://x/<b>"})
    assert res.status_code == 400 and input_value(html_of(res), "domain-hostname") == "http://x/&lt;b&gt;"
    assert count(CustomDomain) == 0
    res = browser.post("/dashboard/settings/embed", data={"csrf_token": csrf(page), "embedTitle": HOSTILE,
                                                          "embedSiteName": "Mine", "embedColor": "red"})
    html = html_of(res)
    assert res.status_code == 400 and input_value(html, "embedTitle") == ESCAPED
    assert input_value(html, "embedSiteName") == "Mine" and not is_checked(html, "embed")
    assert not (User.query.one().view or {}).get("embedTitle")


def test_refused_password_change_does_not_echo_passwords(browser, user):
    page = browser.get("/dashboard/settings")
    res = browser.post("/dashboard/settings/password", data={
        "csrf_token": csrf(page), "current_password": "wrong-one", "new_password": "new-secret-1",
        "confirm_password": "new-secret-1"})
    html = html_of(res)
    assert res.status_code == 400 and "The current password is wrong" in html
    assert "wrong-one" not in html and "new-secret-1" not in html


@pytest.fixture
def admin_browser(client, make_user):
    make_user("boss", role=Role.ADMIN)
    assert log_in(client, "boss").status_code == 303
    return client


def test_refused_new_user_keeps_username_role_and_quota_and_creates_nobody(admin_browser):
    page = admin_browser.get("/dashboard/admin/users")
    res = admin_browser.post("/dashboard/admin/users", data={
        "csrf_token": csrf(page), "username": "newbie", "password": "pw-123456", "role": "USER",
        "quota_type": "BY_BYTES", "max_bytes": "lots", "max_files": "", "max_urls": "5"})
    html = html_of(res)
    assert res.status_code == 400 and count(User) == 1  # a bad quota must not leave the user half-made
    assert input_value(html, "new-username") == "newbie" and "pw-123456" not in html
    assert selected(html, "quota-type-new") == "BY_BYTES" and input_value(html, "max-bytes-new") == "lots"
    assert input_value(html, "max-urls-new") == "5"


def test_refused_user_update_keeps_that_users_form(admin_browser, make_user):
    other = make_user("worker")
    page = admin_browser.get("/dashboard/admin/users")
    res = admin_browser.post(f"/dashboard/admin/users/{other.id}", data={
        "csrf_token": csrf(page), "role": "USER", "quota_type": "BY_FILES", "max_files": "-3", "disabled": "on"})
    html = html_of(res)
    assert res.status_code == 400 and selected(html, f"quota-type-{other.id}") == "BY_FILES"
    assert input_value(html, f"max-files-{other.id}") == "-3"
    assert is_checked(html, "disabled", form_action=f"/dashboard/admin/users/{other.id}")


def test_refused_invite_keeps_expiry_and_max_uses(admin_browser):
    page = admin_browser.get("/dashboard/admin/invites")
    res = admin_browser.post("/dashboard/admin/invites", data={"csrf_token": csrf(page), "expires": "7d",
                                                               "max_uses": "0"})
    html = html_of(res)
    assert res.status_code == 400 and count(Invite) == 0
    assert selected(html, "inv-expires") == "7d" and input_value(html, "inv-max") == "0"


def test_refused_setup_keeps_the_username(client):
    page = client.get("/setup")
    res = client.post("/setup", data={"csrf_token": csrf(page), "username": "bad name<b>", "password": "pw-12345"})
    html = html_of(res)
    assert res.status_code == 400 and input_value(html, "username") == "bad name&lt;b&gt;"
    assert "pw-12345" not in html


@pytest.mark.parametrize("overrides,status", [
    ({}, 403),  # registration is closed by default
    ({"features": {"user_registration": True, "invites_enabled": False}}, 409),  # open, and the name is taken
], ids=["closed", "taken"])
def test_refused_registration_keeps_the_username(app, client, user, status):
    page = client.get("/auth/register")
    res = client.post("/auth/register", data={"csrf_token": csrf(page), "username": "alice", "password": "pw-9"})
    assert res.status_code == status and input_value(html_of(res), "username") == "alice"


def test_refused_form_still_gives_a_fresh_page_after_success(browser):
    page = browser.get("/dashboard/urls")
    browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "javascript:x", "vanity": "v1"})
    assert input_value(html_of(browser.get("/dashboard/urls")), "vanity") == ""  # nothing lingers


def test_refused_bulk_action_shows_the_same_listing_with_the_selection(browser):
    from tests.web.test_dashboard_pages import upload
    from zipshort.models import File

    for name in ("a.txt", "b.txt"):
        assert upload(browser, name).status_code == 200
    first, second = (f.id for f in File.query.order_by(File.created_at))
    page = browser.get("/dashboard/files?view=table&sort=name")
    action = re.search(r'<form method="post" action="([^"]+)" id="bulk"', html_of(page)).group(1).replace("&amp;", "&")
    assert action == "/dashboard/files/bulk?view=table&sort=name"
    res = browser.post(action, data={"csrf_token": csrf(page), "back": "/dashboard/files?view=table&sort=name",
                                     "ids": [first], "action": "nonsense"})
    html = html_of(res)
    assert res.status_code == 400 and '<table class="stack">' in html  # the table view, as it was
    assert re.search(rf'value="{first}" form="bulk" checked', html)
    assert not re.search(rf'value="{second}" form="bulk" checked', html)
    assert 'name="back" value="/dashboard/files?view=table&amp;sort=name"' in html
    elsewhere = browser.post("/dashboard/files/bulk", data={"csrf_token": csrf(page), "ids": [first],
                                                            "back": "/dashboard/files?view=table", "action": "x"})
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/dashboard/files?view=table"


def test_a_refused_form_never_runs_a_view_outside_the_dashboard(browser, user):
    page = browser.get("/dashboard/folders")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    res = browser.post("/dashboard/folders", data={"csrf_token": token, "name": "", "back": "/api/auth/logout"})
    assert res.status_code == 303 and res.headers["Location"] == "/api/auth/logout"
    assert browser.get("/api/user").status_code == 200  # still logged in: the API view did not run
