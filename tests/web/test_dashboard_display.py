"""What the dashboard shows: file cards (thumbnail or type placeholder, never the file itself), counts in
the right number, text markers instead of bare emoji, and a daily chart with values and axes."""

from __future__ import annotations

import datetime as dt
import io
import re

from PIL import Image

from tests.conftest import fresh
from tests.web.test_dashboard_pages import upload
from zipshort.models import File
from zipshort.services import thumbnails
from zipshort.web.charts import daily_chart, scale

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def card_of(html: str, name: str) -> str:
    cards = re.findall(r'<li class="file-card">.*?</li>\n', html, re.S)
    found = [c for c in cards if f">{name}<" in c]
    assert len(found) == 1, name
    return found[0]


def test_file_cards_show_a_type_placeholder_unless_a_thumbnail_will_load(browser, rt):
    for name, data, headers in [("pic.png", png_bytes(), {}), ("logo.svg", SVG, {}), ("notes.txt", b"hi", {}),
                                ("locked.png", png_bytes(), {"x-zipline-password": "pw"})]:
        assert upload(browser, name, data, {"x-zipline-original-name": "true", **headers}).status_code == 200
    assert thumbnails.generate_missing(rt.storage) == 2  # the SVG's fails: Pillow does not draw SVG
    for path in ("/dashboard", "/dashboard/files"):
        html = browser.get(path).get_data(as_text=True)
        png = File.query.filter_by(original_name="pic.png").one()
        assert f'<img src="/raw/.thumbnail.{png.id}.jpg"' in card_of(html, "pic.png")
        for name, label in [("logo.svg", "SVG"), ("notes.txt", "TXT"), ("locked.png", "PNG")]:
            card = card_of(html, name)
            assert "<img" not in card, (path, name)  # no thumbnail route would answer it
            assert re.search(rf'<span class="placeholder" data-kind="\w+"><span class="ext">{label}</span>', card)
        svg = File.query.filter_by(original_name="logo.svg").one()
        assert svg.thumbnail_key == thumbnails.FAILED
        assert not re.search(rf'src="[^"]*{re.escape(svg.name)}', html)  # the SVG itself is never an image here
    assert browser.get(f"/raw/.thumbnail.{png.id}.jpg").status_code == 200


def test_expired_and_used_up_files_show_the_placeholder(browser, rt):
    for name in ("gone.png", "spent.png"):
        assert upload(browser, name, png_bytes(), {"x-zipline-original-name": "true"}).status_code == 200
    thumbnails.generate_missing(rt.storage)
    from zipshort.extensions import db

    gone, spent = (File.query.filter_by(original_name=n).one() for n in ("gone.png", "spent.png"))
    gone.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    spent.max_views, spent.views = 1, 1
    db.session.commit()
    html = browser.get("/dashboard/files").get_data(as_text=True)
    assert "<img" not in card_of(html, "gone.png") and "<img" not in card_of(html, "spent.png")
    assert browser.get(f"/raw/.thumbnail.{gone.id}.jpg").status_code == 404  # what the card avoided


def test_counts_are_in_the_right_number(browser, user, make_link, client):
    assert upload(browser, "one.txt", b"1", {"x-zipline-original-name": "true"}).status_code == 200
    link = make_link(user, vanity="once")
    assert client.get("/go/once").status_code == 302
    name = File.query.one().name
    assert client.get(f"/raw/{name}").status_code == 200
    assert fresh(File, File.query.one().id).views == 1
    html = browser.get("/dashboard").get_data(as_text=True)
    assert not re.search(r"\b1 (views|files|links)\b", html)
    assert "1 view" in card_of(html, "one.txt") and f"/go/{link.slug}</a>" in html
    assert re.search(r"/go/once</a> → <span class=\"muted\">[^<]*</span> · 1 view\b", html)
    assert re.search(r'<strong>1</strong><span class="muted">file</span>', html)
    assert re.search(r'<strong>1</strong><span class="muted">link</span>', html)
    assert re.search(r'<strong>2</strong><span class="muted">views</span>', html)
    for path in ("/dashboard/files", "/dashboard/urls", "/dashboard/files?view=table"):
        assert not re.search(r"\b1 (views|files|links)\b", browser.get(path).get_data(as_text=True)), path
    assert " · 1 byte · " in client.get(f"/view/{name}").get_data(as_text=True)  # the public preview too


def test_password_protection_is_marked_in_words_not_a_bare_emoji(browser, user, make_link):
    assert upload(browser, "secret.txt", b"s", {"x-zipline-original-name": "true",
                                                "x-zipline-password": "pw"}).status_code == 200
    make_link(user, vanity="guarded", password="pw")
    marker = re.compile(r'<span class="chip mark" title="Opening it asks for a password">password</span>')
    for path in ("/dashboard", "/dashboard/files", "/dashboard/files?view=table", "/dashboard/urls"):
        html = browser.get(path).get_data(as_text=True)
        assert marker.search(html), path
        assert "\U0001f512" not in html, path


def test_the_daily_chart_has_values_a_scale_and_day_labels(browser, user, make_link):
    for i in range(3):
        make_link(user, vanity=f"c{i}")
    assert upload(browser, "a.txt", b"a").status_code == 200
    html = browser.get("/dashboard").get_data(as_text=True)
    today = dt.datetime.now(dt.timezone.utc).date()
    scale = re.findall(r'<div class="chart-y">(.*?)</div>', html)[0]
    assert scale == "<span>3</span><span>2</span><span>1</span><span>0</span>"
    days = re.findall(r'<li title="([^"]+)"><span class="v files[^"]*">(\d+)</span>'
                      r'<span class="v links[^"]*">(\d+)</span>'
                      r'<span class="d">(\d+)</span></li>', html)
    assert len(days) == 14 and days[-1] == (f"{today:%b} {today.day}", "1", "3", str(today.day))
    assert all(d[1:3] == ("0", "0") for d in days[:-1])
    table = re.search(r'<div class="sr-only"><table>.*?</table>', html, re.S).group(0)
    assert "<caption>Files and links you created per day (UTC)" in table
    assert f'<th scope="row">{today:%b} {today.day}</th><td>1</td><td>3</td>' in table
    assert f"<title>{today:%b} {today.day}: 3 links</title>" in html and f"{today:%b} {today.day}: 1 file<" in html


def test_chart_scale_uses_round_steps():
    assert scale(0) == (1, 1) and scale(3) == (3, 1) and scale(7) == (8, 2) and scale(13) == (15, 5)
    assert scale(100) == (100, 50) and scale(101) == (150, 50) and scale(999) == (1000, 500)
    chart = daily_chart([(dt.date(2024, 1, d), d, 0) for d in range(1, 8)])
    assert chart.ticks == [8, 6, 4, 2, 0] and chart.gridlines == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert chart.days[-1].bars[0].height == 87.5 and chart.days[-1].bars[1].height == 0
