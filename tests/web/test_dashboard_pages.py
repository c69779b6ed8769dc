"""Dashboard pages through the Flask client: every page renders, forms change state (POST + CSRF),
hostile values are escaped, admin pages respect roles, TOTP and invite sign-up work through the pages."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pyotp
import pytest

from tests.conftest import count, fresh
from tests.web.test_pages import csrf, log_in
from zipshort.models import ApiKey, File, Folder, Invite, Link, Role, User
from zipshort.services import domains, folders, tags

HOSTILE = '<img src=x onerror=alert(1)>"\'&'


def token_of(res) -> str:
    return csrf(res)


def upload(client, name: str, data: bytes = b"hello", headers: dict | None = None):
    page = client.get("/dashboard/upload/file")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/api/upload", data={"file": (io.BytesIO(data), name)},
                       headers={"X-CSRF-Token": token, **(headers or {})}, content_type="multipart/form-data")


PAGES = ["/dashboard", "/dashboard/files", "/dashboard/files?view=table", "/dashboard/upload/file",
         "/dashboard/upload/text", "/dashboard/urls", "/dashboard/folders", "/dashboard/settings"]


def test_every_page_renders_for_a_user_with_data(browser, user, make_link, rt):
    assert upload(browser, "photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64).status_code == 200
    make_link(user, vanity="abc", title="A title")
    folders.create_folder(user, "Holiday", public=True)
    tags.create_tag(user, "work", "#ff0000")
    for path in PAGES:
        res = browser.get(path)
        assert res.status_code == 200, path
        assert res.headers["Content-Security-Policy"].startswith("default-src 'self'")
        html = res.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html, path  # no inline script or style (CSP)
        assert 'name="csrf-token"' in html


def test_pages_need_login_and_remember_where_to_go(client):
    res = client.get("/dashboard/files?view=table")
    assert res.status_code == 302 and res.headers["Location"] == "/auth/login?next=/dashboard/files%3Fview%3Dtable"


def test_hostile_file_name_and_link_title_are_escaped(browser, user, make_link):
    assert upload(browser, HOSTILE + ".txt", headers={"x-zipline-original-name": "true"}).status_code == 200
    make_link(user, destination="https://example.com/?q=" + "%3Cscript%3E", title=HOSTILE)
    for path in ("/dashboard", "/dashboard/files", "/dashboard/files?view=table", "/dashboard/urls"):
        html = browser.get(path).get_data(as_text=True)
        assert "<img src=x" not in html, path
    assert "&lt;img src=x onerror=alert(1)&gt;" in browser.get("/dashboard/urls").get_data(as_text=True)


def test_link_create_edit_toggle_delete_through_forms(browser, user):
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "https://example.com/a",
                                                "vanity": "formlink", "max_views": "3", "enabled": "on",
                                                "title": "Mine"})
    assert res.status_code == 303
    link = fresh(Link, Link.query.filter_by(slug="formlink").one().id)
    assert link.max_views == 3 and link.enabled and link.title == "Mine"
    listing = browser.get("/dashboard/urls").get_data(as_text=True)
    assert "/go/formlink" in listing and f"/dashboard/urls/{link.id}/qr.svg" in listing
    qr = browser.get(f"/dashboard/urls/{link.id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    edit = browser.get(f"/dashboard/urls/{link.id}/edit")
    assert edit.status_code == 200
    res = browser.post(f"/dashboard/urls/{link.id}", data={"csrf_token": csrf(edit), "destination": "https://example.com/b",
                                                           "vanity": "formlink2", "enabled": "on"})
    assert res.status_code == 303
    link = fresh(Link, link.id)
    assert link.destination == "https://example.com/b" and link.slug == "formlink2" and link.max_views is None
    browser.post(f"/dashboard/urls/{link.id}/toggle", data={"csrf_token": csrf(edit)})
    assert fresh(Link, link.id).enabled is False
    assert browser.post(f"/dashboard/urls/{link.id}/delete", data={"csrf_token": csrf(edit)}).status_code == 303
    assert count(Link) == 0


def test_bad_link_input_is_shown_again_and_nothing_is_created(browser):
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "javascript:alert(1)"})
    assert res.status_code == 400 and 'class="flash error"' in res.get_data(as_text=True)
    assert count(Link) == 0


def test_someone_elses_link_cannot_be_edited(browser, make_user, make_link):
    other = make_link(make_user("bob"), vanity="bobs")
    page = browser.get("/dashboard/urls")
    assert browser.get(f"/dashboard/urls/{other.id}/edit").status_code == 403
    browser.post(f"/dashboard/urls/{other.id}/delete", data={"csrf_token": csrf(page)})
    assert count(Link) == 1


def test_files_page_filters_paginates_and_bulk_actions(browser, user):
    for i in range(30):
        assert upload(browser, f"file{i:02}.txt", headers={"x-zipline-original-name": "true"}).status_code == 200
    page = browser.get("/dashboard/files?per=12")
    html = page.get_data(as_text=True)
    assert html.count('class="file-card"') == 12 and "Page 1 of 3" in html
    assert browser.get("/dashboard/files?per=12&page=3").get_data(as_text=True).count('class="file-card"') == 6
    ids = [f.id for f in File.query.order_by(File.created_at).limit(3)]
    folder = folders.create_folder(user, "Box")
    tag = tags.create_tag(user, "red", "#ff0000")
    token = csrf(page)
    assert browser.post("/dashboard/files/bulk", data={"csrf_token": token, "ids": ids,
                                                       "action": f"folder:{folder.id}"}).status_code == 303
    assert browser.post("/dashboard/files/bulk", data={"csrf_token": token, "ids": ids[:2],
                                                       "action": f"tag:{tag.id}"}).status_code == 303
    browser.post("/dashboard/files/bulk", data={"csrf_token": token, "ids": ids[:1], "action": "favorite"})
    in_folder = browser.get(f"/dashboard/files?folder={folder.id}").get_data(as_text=True)
    assert in_folder.count('class="file-card"') == 3
    assert browser.get(f"/dashboard/files?tag={tag.id}").get_data(as_text=True).count('class="file-card"') == 2
    assert browser.get("/dashboard/files?fav=1").get_data(as_text=True).count('class="file-card"') == 1
    assert browser.get("/dashboard/files?q=file07").get_data(as_text=True).count('class="file-card"') == 1
    res = browser.post("/dashboard/files/bulk", data={"csrf_token": token, "ids": ids, "delete": "1",
                                                      "action": "favorite"})
    assert res.status_code == 303 and count(File) == 27 and fresh(User, user.id).file_count == 27


def test_bulk_delete_of_someone_elses_file_deletes_nothing(browser, app, make_user):
    assert upload(browser, "mine.txt").status_code == 200
    bob = make_user("bob")
    other = app.test_client()
    log_in(other, "bob")
    assert upload(other, "bobs.txt").status_code == 200
    bobs = File.query.filter_by(user_id=bob.id).one()
    mine = File.query.filter_by(user_id=fresh(User, bob.id).id).count()
    page = browser.get("/dashboard/files")
    ids = [f.id for f in File.query.all()]
    browser.post("/dashboard/files/bulk", data={"csrf_token": csrf(page), "ids": ids, "delete": "1"})
    assert count(File) == 2 and fresh(File, bobs.id) is not None and mine == 1


def test_folders_page_and_public_folder(browser, client, app, user):
    page = browser.get("/dashboard/folders")
    browser.post("/dashboard/folders", data={"csrf_token": csrf(page), "name": HOSTILE, "public": "on"})
    folder = Folder.query.one()
    assert folder.public and not folder.allow_uploads
    assert "<img src=x" not in browser.get("/dashboard/folders").get_data(as_text=True)
    assert upload(browser, "in-folder.txt", headers={"x-zipline-folder": folder.id,
                                                    "x-zipline-original-name": "true"}).status_code == 200
    anon = app.test_client()
    public = anon.get(f"/folder/{folder.id}")
    assert public.status_code == 200 and "in-folder" in public.get_data(as_text=True)
    assert "<img src=x" not in public.get_data(as_text=True)
    browser.post(f"/dashboard/folders/{folder.id}", data={"csrf_token": csrf(page), "name": "Private"})
    assert anon.get(f"/folder/{folder.id}").status_code == 404
    browser.post(f"/dashboard/folders/{folder.id}/delete", data={"csrf_token": csrf(page)})
    assert count(Folder) == 0 and count(File) == 1


def test_api_key_created_shown_once_then_revoked(browser, app):
    page = browser.get("/dashboard/settings")
    res = browser.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": "ci",
                                                         "scopes": ["links:read", "links:write"], "expires": "7d"})
    assert res.status_code == 201
    key = re.search(r'id="new-key-value">([^<]+)<', res.get_data(as_text=True)).group(1)
    assert app.test_client().get("/api/user/urls", headers={"Authorization": key}).status_code == 200
    assert app.test_client().get("/api/user/files", headers={"Authorization": key}).status_code == 403
    assert key not in browser.get("/dashboard/settings").get_data(as_text=True)
    row = ApiKey.query.filter_by(name="ci").one()
    assert row.expires_at is not None
    browser.post(f"/dashboard/settings/keys/{row.id}/revoke", data={"csrf_token": csrf(page)})
    assert app.test_client().get("/api/user/urls", headers={"Authorization": key}).status_code == 401


def test_a_user_cannot_give_a_key_the_admin_scope(browser):
    page = browser.get("/dashboard/settings")
    assert "admin" not in re.findall(r'name="scopes" value="([^"]+)"', page.get_data(as_text=True))
    browser.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": "x", "scopes": ["admin"],
                                                   "expires": ""})
    assert count(ApiKey) <= 1 and not ApiKey.query.filter_by(name="x").count()


def test_password_change_needs_the_current_one_and_ends_other_sessions(browser, app, user):
    other = app.test_client()
    log_in(other)
    page = browser.get("/dashboard/settings")
    new = {"new_password": "new pass 1", "confirm_password": "new pass 1", "csrf_token": csrf(page)}
    wrong = browser.post("/dashboard/settings/password", data={**new, "current_password": "nope"},
                         follow_redirects=True)
    assert "The current password is wrong" in wrong.get_data(as_text=True)
    res = browser.post("/dashboard/settings/password", data={**new, "current_password": "correct horse"})
    assert res.status_code == 303
    assert browser.get("/dashboard").status_code == 200  # this session goes on
    assert other.get("/dashboard").status_code == 302  # the other one is over
    assert log_in(app.test_client(), password="new pass 1").status_code == 303


def test_totp_through_the_pages(browser, app, user):
    page = browser.get("/dashboard/settings")
    html = page.get_data(as_text=True)
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', html).group(1)
    assert 'src="data:image/svg+xml' in html
    bad = browser.post("/dashboard/settings/totp/enable", data={"csrf_token": csrf(page), "secret": secret,
                                                                "code": "000000"})
    assert bad.status_code == 400 and secret in bad.get_data(as_text=True)  # same secret offered again
    res = browser.post("/dashboard/settings/totp/enable", data={"csrf_token": csrf(page), "secret": secret,
                                                                "code": pyotp.TOTP(secret).now()})
    assert res.status_code == 303 and fresh(User, user.id).totp_secret == secret
    visitor = app.test_client()
    step = log_in(visitor, next_url="/dashboard/urls")
    assert step.status_code == 200 and 'action="/auth/login/totp"' in step.get_data(as_text=True)
    assert visitor.get("/dashboard").status_code == 302  # the password alone is not a session
    wrong = visitor.post("/auth/login/totp", data={"csrf_token": csrf(step), "code": "123456"})
    assert wrong.status_code == 401
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    ok = visitor.post("/auth/login/totp", data={"csrf_token": csrf(step), "code": pyotp.TOTP(secret).at(later)})
    assert ok.status_code == 303 and ok.headers["Location"] == "/dashboard/urls"
    assert visitor.get("/dashboard").status_code == 200


def test_embed_settings_are_saved_and_validated(browser, user):
    page = browser.get("/dashboard/settings")
    browser.post("/dashboard/settings/embed", data={"csrf_token": csrf(page), "embed": "on", "embedTitle": HOSTILE,
                                                    "embedColor": "#112233"})
    view = fresh(User, user.id).view
    assert view["embed"] is True and view["embedTitle"] == HOSTILE and view["embedColor"] == "#112233"
    res = browser.post("/dashboard/settings/embed", data={"csrf_token": csrf(page), "embedColor": "red"},
                       follow_redirects=True)
    assert "embedColor must look like" in res.get_data(as_text=True)
    assert "<img src=x" not in browser.get("/dashboard/settings").get_data(as_text=True)


def test_view_text_is_saved_and_shown_on_file_pages(browser, client, user, make_file):
    page = browser.get("/dashboard/settings")
    assert 'name="content"' in page.get_data(as_text=True)
    browser.post("/dashboard/settings/embed", data={"csrf_token": csrf(page), "enabled": "on",
                                                    "content": "By {user.username::upper}\r\n<b>{file.name}</b>"})
    view = fresh(User, user.id).view
    assert view["enabled"] is True and view["embed"] is False and "{user.username::upper}" in view["content"]
    row = make_file(user, b"hi", name="page.bin", type="application/octet-stream")
    html = client.get(f"/view/{row.name}").get_data(as_text=True)
    assert "By ALICE\r\n&lt;b&gt;page.bin&lt;/b&gt;" in html


@pytest.mark.parametrize("name", ["zipshort-file.sxcu", "zipshort-url.sxcu", "zipshort-shlink.sxcu",
                                  "zipshort-file.iscu", "zipshort-upload.sh", "zipshort-flameshot.sh",
                                  "zipshort-shorten.sh"])
def test_client_configs_carry_this_server_and_the_users_token(browser, rt, user, name):
    from zipshort.services import apikeys

    res = browser.get(f"/dashboard/settings/generators/{name}?format=date&max_views=2")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    assert res.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    body = res.get_data(as_text=True)
    assert apikeys.get_token(rt, user) in body and "http://localhost" in body
    if name.endswith(("sxcu", "iscu")):
        json.loads(body)
    assert browser.get("/dashboard/settings/generators/other.sxcu").status_code == 404


def test_admin_pages_need_an_administrator(browser, client):
    assert browser.get("/dashboard/admin/users").status_code == 403
    assert browser.get("/dashboard/admin/invites").status_code == 403
    assert browser.get("/dashboard/admin/domains").status_code == 403


@pytest.fixture
def admin_browser(app, make_user):
    make_user("boss", role=Role.ADMIN)
    c = app.test_client()
    log_in(c, "boss")
    return c


def test_admin_creates_a_user_with_a_quota_edits_and_deletes(admin_browser, app, make_user):
    page = admin_browser.get("/dashboard/admin/users")
    assert page.status_code == 200
    res = admin_browser.post("/dashboard/admin/users", data={
        "csrf_token": csrf(page), "username": "quota", "password": "pw-123456", "role": "USER",
        "quota_type": "BY_FILES", "max_files": "1", "max_urls": "2"})
    assert res.status_code == 303
    quota = User.query.filter_by(username="quota").one()
    assert quota.quota_files_type == "BY_FILES" and quota.quota_max_files == 1 and quota.quota_max_urls == 2
    # an ADMIN cannot create another ADMIN nor touch a SUPERADMIN
    admin_browser.post("/dashboard/admin/users", data={"csrf_token": csrf(page), "username": "adm2",
                                                       "password": "pw-123456", "role": "ADMIN"})
    assert not User.query.filter_by(username="adm2").count()
    root = make_user("root", role=Role.SUPERADMIN)
    admin_browser.post(f"/dashboard/admin/users/{root.id}", data={"csrf_token": csrf(page), "disabled": "on"})
    assert fresh(User, root.id).disabled is False
    admin_browser.post(f"/dashboard/admin/users/{quota.id}", data={"csrf_token": csrf(page), "role": "USER",
                                                                   "disabled": "on"})
    assert fresh(User, quota.id).disabled is True and fresh(User, quota.id).quota_max_files is None
    admin_browser.post(f"/dashboard/admin/users/{quota.id}/delete", data={"csrf_token": csrf(page)})
    assert fresh(User, quota.id) is None


def test_admin_invites_page_and_sign_up_with_the_invite(admin_browser, app):
    page = admin_browser.get("/dashboard/admin/invites")
    admin_browser.post("/dashboard/admin/invites", data={"csrf_token": csrf(page), "expires": "1d", "max_uses": "1"})
    invite = Invite.query.one()
    assert invite.max_uses == 1 and invite.expires_at is not None
    assert f"/invite/{invite.code}" in admin_browser.get("/dashboard/admin/invites").get_data(as_text=True)
    visitor = app.test_client()
    form = visitor.get(visitor.get(f"/invite/{invite.code}").headers["Location"])
    assert form.status_code == 200 and invite.code in form.get_data(as_text=True)
    res = visitor.post("/auth/register", data={"csrf_token": csrf(form), "code": invite.code, "username": "invited",
                                               "password": "pw-123456"})
    assert res.status_code == 303 and visitor.get("/dashboard").status_code == 200
    again = app.test_client()
    form = again.get(f"/auth/register?code={invite.code}")
    assert form.status_code == 400  # used up
    admin_browser.post(f"/dashboard/admin/invites/{invite.id}/delete", data={"csrf_token": csrf(page)})
    assert count(Invite) == 0


@pytest.mark.parametrize("overrides", [{"features": {"invites_enabled": False}}])
def test_register_page_closed_by_default_without_invite(client, user, rt):
    res = client.get("/auth/register")
    assert res.status_code == 403 and "Registration is closed" in res.get_data(as_text=True)


def test_error_pages_share_the_look(client, browser):
    for path, status in [("/dashboard/urls/nope/edit", 404), ("/dashboard/admin/users", 403), ("/u/missing", 404)]:
        res = browser.get(path)
        assert res.status_code == status and 'href="/static/style.css"' in res.get_data(as_text=True)


@pytest.mark.parametrize("status,title", [(403, "Not allowed"), (404, "Not found"), (410, "Gone"),
                                          (413, "Too large"), (429, "Slow down"), (500, "Something broke")])
def test_error_pages_for_each_status(app, status, title):
    from werkzeug.exceptions import abort

    def boom():
        if status == 500:
            raise RuntimeError("secret detail")
        abort(status)

    app.add_url_rule(f"/boom{status}", f"boom{status}", boom)
    res = app.test_client().get(f"/boom{status}")
    html = res.get_data(as_text=True)
    assert res.status_code == status and f"{status} · {title}" in html and "/static/style.css" in html
    assert "secret detail" not in html and res.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_dynamic_link_secret_shown_and_rotated_in_settings(browser, user, client):
    from zipshort.services import dynamic

    page = browser.get("/dashboard/settings")
    html = page.get_data(as_text=True)
    secret = re.search(r'id="signing-secret" type="password" readonly value="([^"]+)"', html).group(1)
    target = "https://example.com/x"
    path = f"/dl/{user.id}/{dynamic.sign(secret, target)}"
    assert browser.get(path, query_string={"u": target}).status_code == 302
    browser.post("/dashboard/settings/dynamic/rotate", data={"csrf_token": csrf(page)})
    assert browser.get(path, query_string={"u": target}).status_code == 404


def test_link_forms_set_and_edit_the_extra_fields(browser, user, client):
    page = browser.get("/dashboard/urls")
    rules = json.dumps([{"priority": 0, "languages": ["fr"], "destination": {"type": "link",
                                                                             "value": "https://fr.example/"}}])
    res = browser.post("/dashboard/urls", data={
        "csrf_token": csrf(page), "destination": "https://example.com/x", "vanity": "extra", "enabled": "on",
        "tags": "promo, q2 , ", "description": "Preview text", "image": "https://cdn.example/i.png",
        "utm_source": "news", "utm_campaign": "spring", "qr_dark": "#112233", "qr_light": "#ffffff",
        "deep_linking": "on", "rules": rules})
    assert res.status_code == 303
    link = fresh(Link, Link.query.filter_by(slug="extra").one().id)
    assert sorted(t.name for t in link.tags) == ["promo", "q2"] and link.description == "Preview text"
    assert link.utm == {"source": "news", "campaign": "spring"} and link.deep_linking and link.smart
    assert link.qr_options["options"]["dotsOptions"]["color"] == "#112233"
    assert link.rules[0]["languages"] == ["fr"]
    assert client.get("/go/extra", headers={"Accept-Language": "fr"}).headers["Location"].startswith(
        "https://fr.example/?utm_source=news")
    assert re.search(rb'"#(112233|123)"', browser.get(f"/dashboard/urls/{link.id}/qr.svg").data)  # segno shortens
    edit = browser.get(f"/dashboard/urls/{link.id}/edit")
    html = edit.get_data(as_text=True)
    assert 'value="promo, q2"' in html and "#112233" in html and "fr.example" in html
    res = browser.post(f"/dashboard/urls/{link.id}", data={
        "csrf_token": csrf(edit), "destination": "https://example.com/x", "vanity": "extra", "enabled": "on",
        "tags": "", "expires_at": "2999-01-02T03:04", "qr_dark": "#000000", "qr_light": "#ffffff"})
    assert res.status_code == 303
    link = fresh(Link, link.id)
    assert link.tags == [] and link.utm is None and link.rules is None and not link.deep_linking
    assert link.expires_at.replace(tzinfo=None) == dt.datetime(2999, 1, 2, 3, 4)


def test_the_rules_box_shows_and_takes_conditions(browser, client):
    page = browser.get("/dashboard/urls")
    rules = json.dumps([{"priority": 0, "destination": {"type": "link", "value": "https://promo.example/"},
                         "conditions": [{"type": "query-param", "matchKey": "promo", "matchValue": "1"}]}])
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "https://example.com/x",
                                                "vanity": "cond", "enabled": "on", "rules": rules})
    assert res.status_code == 303
    assert client.get("/go/cond?promo=1").headers["Location"] == "https://promo.example/"
    assert client.get("/go/cond").headers["Location"] == "https://example.com/x"
    link = Link.query.filter_by(slug="cond").one()
    html = browser.get(f"/dashboard/urls/{link.id}/edit").get_data(as_text=True)
    assert '"conditions": [{"matchKey": "promo", "matchValue": "1", "type": "query-param"}]' in html


@pytest.mark.parametrize("field, value", [("rules", "not json"), ("rules", '[{"destination": 1}]'),
                                          ("tags", ",".join(f"t{i}" for i in range(11))), ("image", "ftp://x"),
                                          ("utm_source", "x" * 300), ("domain", "nope.test")])
def test_bad_extra_link_fields_create_nothing(browser, field, value):
    page = browser.get("/dashboard/urls")
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(page), "destination": "https://example.com/",
                                                field: value}, follow_redirects=True)
    assert 'class="flash error"' in res.get_data(as_text=True) and count(Link) == 0


def test_custom_domains_in_settings_and_the_link_form(browser, user, client, make_user, rt):
    from zipshort.models import CustomDomain

    page = browser.get("/dashboard/settings")
    assert "Custom domains" in page.get_data(as_text=True)
    res = browser.post("/dashboard/settings/domains", data={"csrf_token": csrf(page), "hostname": "Go.Mine.test"},
                       follow_redirects=True)
    html = res.get_data(as_text=True)
    assert "go.mine.test" in html and "_zipshort-challenge.go.mine.test" in html
    row = CustomDomain.query.one()
    domains.set_verified(rt, make_user("root", role=Role.SUPERADMIN), row.id, True)  # DNS: test_domain_settings.py
    form = browser.get("/dashboard/urls")
    assert '<option value="go.mine.test">' in form.get_data(as_text=True)
    res = browser.post("/dashboard/urls", data={"csrf_token": csrf(form), "destination": "https://example.com/",
                                                "vanity": "mine", "domain": "go.mine.test", "enabled": "on"})
    assert res.status_code == 303
    assert count(Link) == 1
    assert Link.query.one().domain == "go.mine.test"
    assert "http://go.mine.test/go/mine" in browser.get("/dashboard/urls").get_data(as_text=True)
    assert client.get("/go/mine", headers={"Host": "go.mine.test"}).status_code == 302
    settings = browser.get("/dashboard/settings")
    res = browser.post(f"/dashboard/settings/domains/{row.id}/delete", data={"csrf_token": csrf(settings)},
                       follow_redirects=True)
    assert "still use" in res.get_data(as_text=True) and count(CustomDomain) == 1
    bad = browser.post("/dashboard/settings/domains", data={"csrf_token": csrf(settings), "hostname": "http://x/"},
                       follow_redirects=True)
    assert 'class="flash error"' in bad.get_data(as_text=True) and count(CustomDomain) == 1


def test_bot_key_from_settings(browser, user):
    page = browser.get("/dashboard/settings")
    res = browser.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": "robot", "expires": "",
                                                         "scopes": ["links:read", "links:write"], "bot": "on"})
    assert res.status_code == 201 and ApiKey.query.filter_by(name="robot").one().bot is True
    again = browser.post("/dashboard/settings/keys", data={"csrf_token": csrf(page), "name": "robot2", "expires": "",
                                                           "scopes": ["links:read"], "bot": "on"},
                         follow_redirects=True)
    assert "already have a bot key" in again.get_data(as_text=True)


def test_admin_domains_page_verifies_and_removes(admin_browser, user, rt):
    from zipshort.models import CustomDomain
    from zipshort.services import domains

    row = domains.add_custom(rt, user, "theirs.test")
    page = admin_browser.get("/dashboard/admin/domains")
    assert page.status_code == 200 and "theirs.test" in page.get_data(as_text=True) and "alice" in page.get_data(
        as_text=True)
    admin_browser.post(f"/dashboard/admin/domains/{row.id}/verify", data={"csrf_token": csrf(page)})
    assert fresh(CustomDomain, row.id).verified
    admin_browser.post(f"/dashboard/admin/domains/{row.id}/verify", data={"csrf_token": csrf(page), "unverify": "on"})
    assert not fresh(CustomDomain, row.id).verified
    admin_browser.post(f"/dashboard/admin/domains/{row.id}/delete", data={"csrf_token": csrf(page)})
    assert count(CustomDomain) == 0


@pytest.mark.parametrize("field,value", [("embedTitle", "bell\x07"), ("embedSiteName", "x" * 301),
                                         ("embedColor", "#12345g")])
def test_embed_settings_refuse_control_characters_long_text_and_bad_colours(browser, user, field, value):
    page = browser.get("/dashboard/settings")
    res = browser.post("/dashboard/settings/embed", data={"csrf_token": csrf(page), field: value})
    assert res.status_code == 400 and f"view.{field}" in res.get_data(as_text=True)
    assert field not in (fresh(User, user.id).view or {})


@pytest.mark.parametrize("view,field", [({"embedTitle": "tab\tin a title"}, "view.embedTitle"),
                                        ({"embed": "yes"}, "view.embed"), ([1], "view"),
                                        ({"embedColor": "blue"}, "view.embedColor")])
def test_zipline_view_settings_are_validated_by_the_service(client, user, view, field):
    assert client.post("/api/auth/login", json={"username": "alice", "password": "correct horse"}).status_code == 200
    res = client.patch("/api/user", json={"view": view})
    assert res.status_code == 400 and field in res.get_json()["error"]


def test_generated_config_ignores_numbers_that_are_not_ascii_digits(browser):
    res = browser.get("/dashboard/settings/generators/zipshort-file.sxcu?max_views=%C2%B2")
    assert res.status_code == 200 and "²" not in res.get_data(as_text=True)
