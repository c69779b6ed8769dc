"""/view/<name>: previews per type and OpenGraph embeds from the owner's settings, all escaped."""

from __future__ import annotations

import io

import pytest

from zipshort.services import accounts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def put(api, name, content, ctype, headers=None) -> str:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    return res.get_json()["files"][0]["name"]


@pytest.fixture
def embedding(rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(view={
        "embed": True, "embedTitle": 'Shot "<script>alert(1)</script>"', "embedDescription": "by alice",
        "embedColor": "#ff0000", "embedSiteName": "alice's host"}), actor=user)


def test_image_preview_has_og_tags_from_embed_settings(api, client, embedding):
    name = put(api, "cat.png", PNG, "image/png", {"x-zipline-original-name": "true"})
    res = client.get(f"/view/{name}")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "Content-Security-Policy" in res.headers
    assert f'<meta property="og:image" content="http://localhost/raw/{name}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert '<meta property="og:description" content="by alice">' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert f'<img class="preview" src="/raw/{name}"' in html and "<title>cat.png</title>" in html


def test_no_embed_tags_without_embed_setting(api, client):
    html = client.get(f"/view/{put(api, 'a.png', PNG, 'image/png')}").get_data(as_text=True)
    assert "og:description" not in html and "og:image" in html


def test_hostile_original_name_is_escaped(api, client):
    name = put(api, "<img src=x onerror=alert(1)>.png", PNG, "image/png", {"x-zipline-original-name": "true"})
    html = client.get(f"/view/{name}").get_data(as_text=True)
    assert "<img src=x" not in html and "onerror=alert(1)&gt;" in html


def test_text_preview_shows_escaped_content_and_counts_a_view(api, client):
    name = put(api, "notes.txt", b"<b>hello</b>", "text/plain", {"x-zipline-max-views": "1"})
    html = client.get(f"/view/{name}").get_data(as_text=True)
    assert "&lt;b&gt;hello&lt;/b&gt;" in html
    assert client.get(f"/raw/{name}").status_code == 404


def test_video_and_audio_previews(api, client):
    video = client.get(f"/view/{put(api, 'a.mp4', b'....ftyp', 'video/mp4')}").get_data(as_text=True)
    audio = client.get(f"/view/{put(api, 'a.mp3', b'ID3', 'audio/mpeg')}").get_data(as_text=True)
    assert '<meta property="og:type" content="video.other">' in video and "<video" in video
    assert '<meta property="og:type" content="music.song">' in audio and "<audio" in audio


def test_html_file_gets_no_inline_preview(api, client):
    html = client.get(f"/view/{put(api, 'x.html', b'<script>1</script>', 'text/html')}").get_data(as_text=True)
    assert "<script>1</script>" not in html and "<pre" not in html and "Download" in html


def test_protected_file_view_shows_the_password_page(api, client):
    name = put(api, "a.png", PNG, "image/png", {"x-zipline-password": "pw-12345"})
    res = client.get(f"/view/{name}")
    assert res.status_code == 200 and "og:image" not in res.get_data(as_text=True)


def test_unknown_file_view_is_404(client):
    assert client.get("/view/nope.png").status_code == 404


def test_embed_settings_and_view_content_render_template_variables(api, client, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(view={
        "embed": True, "enabled": True, "embedTitle": "{file.originalName} ({file.size::bytes})",
        "embedDescription": "by {user.username::upper}, {metricsUser.files} files",
        "embedSiteName": "{file.password}{url.code}",
        "content": "Uploaded {file.createdAt::year}\\n{link.raw}"}), actor=user)
    name = put(api, "cat.png", PNG, "image/png", {"x-zipline-original-name": "true"})
    html = client.get(f"/view/{name}").get_data(as_text=True)
    assert '<meta property="og:title" content="cat.png (40 B)">' in html
    assert '<meta name="twitter:title" content="cat.png (40 B)">' in html
    assert '<meta property="og:description" content="by ALICE, 1 files">' in html
    assert '<meta property="og:site_name" content="{unknown_property}{unknown_type}">' in html
    assert "{file." not in html
    year = __import__("datetime").datetime.now(__import__("datetime").timezone.utc).year
    assert f'<div class="view-content">Uploaded {year}\nhttp://localhost/raw/{name}</div>' in html


def test_templated_values_stay_escaped(api, client, rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(view={
        "embed": True, "enabled": True, "embedTitle": "{file.originalName}", "embedDescription": "{debug.json}",
        "content": "<b>{file.originalName}</b>"}), actor=user)
    name = put(api, "<img src=x onerror=alert(1)>.png", PNG, "image/png", {"x-zipline-original-name": "true"})
    html = client.get(f"/view/{name}").get_data(as_text=True)
    assert "<img src=x" not in html and "<b>" not in html
    assert "&lt;b&gt;&lt;img src=x onerror=alert(1)&gt;.png&lt;/b&gt;" in html
    assert '<meta property="og:title" content="&lt;img src=x onerror=alert(1)&gt;.png">' in html
    assert '<meta property="og:description" content="{&#34;file&#34;:{' in html


@pytest.mark.parametrize("overrides,shown", [({}, "2 files here"),
                                             ({"features": {"metrics_admin_only": True}}, "{unknown_type} files here")])
def test_server_counts_only_where_the_metrics_are_public(api, client, rt, user, overrides, shown):
    view = {"embed": True, "embedDescription": "{metricsZipline.files} files here"}
    accounts.update_user(rt, user, accounts.UserChanges(view=view), actor=user)
    put(api, "a.png", PNG, "image/png")
    html = client.get(f"/view/{put(api, 'b.png', PNG, 'image/png')}").get_data(as_text=True)
    assert f'<meta property="og:description" content="{shown}">' in html
