"""The statistics pages in Debian's chromium against the real server: the numbers the JSON API returns, the range and
bots switches, the CSV download, dark mode, a phone screen, the administrator's visits and Zipline's metrics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.browser.conftest import ARTIFACTS, Page, log_in
from tests.browser.test_display import SIDEWAYS
from zipshort.extensions import db
from zipshort.models import Role
from zipshort.services import analytics, metrics

pytestmark = pytest.mark.slow
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def visit(live_server, path: str, agent: str, referrer: str | None = None, language: str = "de-CH") -> None:
    headers = {"User-Agent": agent, "Accept-Language": language}
    if referrer:
        headers["Referer"] = referrer
    res = requests.get(live_server.url + path, headers=headers, allow_redirects=False, timeout=10)
    assert res.status_code in (200, 301, 302, 307, 308, 404), (path, res.status_code)


def cookies(page: Page) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def api_json(page: Page, url: str) -> dict:
    """What the page's own request answered, asked again with the page's session."""
    res = requests.get(page.base + url, cookies=cookies(page), timeout=10)
    assert res.status_code == 200, res.text
    return res.json()


def wait_ready(page: Page, selector: str = "[data-stats]") -> str:
    page.wait_for_selector(f"{selector}[data-state=ready]")
    return page.get_attribute(selector, "data-url")


@pytest.fixture
def visited_link(rt, user, make_link, live_server):
    """Alice's link with five visits: two from a news site (one person twice), one direct from a phone, two from
    Googlebot (a bot)."""
    link = make_link(user, destination="https://example.com/landing", vanity="spring")
    route = rt.settings.urls.route
    visit(live_server, f"{route}/spring", FIREFOX, "https://www.news.example/story")
    visit(live_server, f"{route}/spring", FIREFOX, "https://www.news.example/story")
    visit(live_server, f"{route}/spring", IPHONE, None, "fr-FR")
    visit(live_server, f"{route}/spring", GOOGLEBOT)
    visit(live_server, f"{route}/spring", GOOGLEBOT)
    assert analytics.flush(rt, db.engine) == 5
    return link


def test_link_stats_page_shows_what_the_api_returns(ui, visited_link):
    log_in(ui)
    ui.goto("/dashboard/urls")
    ui.click("a:has-text('Stats')")
    ui.wait_for_url(f"**/dashboard/urls/{visited_link.id}/stats*")
    url = wait_ready(ui)
    ui.wait_for_selector("#visits-chart .uplot canvas")
    ui.shot("link-stats")
    data = api_json(ui, url)
    assert data["total"] == 3 and data["unique"] == 2 and data["bots"] == 2  # the page's default: bots left out
    assert ui.inner_text("#stat-total") == str(data["total"])
    assert ui.inner_text("#stat-unique") == str(data["unique"])
    assert ui.inner_text("#stat-bots") == str(data["bots"])
    referrers = ui.locator("[data-top=referrers] tbody tr")
    assert referrers.count() == len(data["referrers"]) == 2
    first = referrers.first
    assert data["referrers"][0] == {"value": "news.example", "count": 2}
    assert first.locator("th").inner_text() == "news.example" and first.locator("td.num").inner_text() == "2"
    assert "67%" in first.locator("td.share").inner_text()
    assert ui.locator("[data-top=browsers] tbody th").all_inner_texts() == [b["value"] for b in data["browsers"]]
    assert ui.locator("[data-top=destinations] tbody th").first.inner_text() == data["destinations"][0]["value"]
    assert ui.locator("[data-top=languages] tbody th").first.inner_text().endswith("(de)")
    # The series table holds the chart's numbers, one row per bucket of the API.
    ui.click("summary:has-text('As a table')")
    rows = ui.locator("#series-table tbody tr")
    assert rows.count() == len(data["series"])
    assert sum(int(t) for t in ui.locator("#series-table tbody td:nth-child(2)").all_inner_texts()) == data["total"]
    # Hovering the chart shows the values of that bucket in the legend.
    box = ui.locator("#visits-chart .u-over").bounding_box()
    ui.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] / 2)
    assert ui.locator("#visits-chart .u-legend .u-series").nth(1).locator(".u-value").inner_text() == \
        str(data["series"][-1]["count"])
    labels = ui.evaluate("document.getElementById('visits-chart')._plot.axes.map(a => a.label)")  # drawn on the canvas
    assert labels[0].startswith("Time (") and labels[1] == "Visits"


def test_range_and_bots_switches_change_the_request(ui, visited_link):
    log_in(ui)
    ui.goto(f"/dashboard/urls/{visited_link.id}/stats")
    first = parse_qs(urlsplit(wait_ready(ui)).query)
    assert first["interval"] == ["day"] and first["bots"] == ["exclude"] and first["tz"]
    with ui.expect_request(lambda r: "/stats?" in r.url and "interval=hour" in r.url) as hour:
        ui.select_option("#range", "24h")
    query = parse_qs(urlsplit(hour.value.url).query)
    start, end = (dt.datetime.fromisoformat(query[k][0].replace("Z", "+00:00")) for k in ("from", "to"))
    assert abs((end - start) - dt.timedelta(hours=24)) < dt.timedelta(minutes=1)
    wait_ready(ui)
    assert ui.locator("#series-table tbody tr").count() >= 24
    with ui.expect_request(lambda r: "/stats?" in r.url and "bots=only" in r.url):
        ui.select_option("#bots", "only")
    url = wait_ready(ui)
    assert "bots=only" in url and ui.inner_text("#stat-total") == "2" == str(api_json(ui, url)["total"])
    assert "bots=only" in ui.url  # the view can be bookmarked
    with ui.expect_request(lambda r: "interval=week" in r.url and "from=" in r.url):
        ui.select_option("#range", "1y")
    wait_ready(ui)
    ui.select_option("#range", "custom")
    assert ui.is_visible("#from") and ui.is_visible("#to")
    custom = ("from=2024-01-01", "to=2024-03-31", "interval=day")
    with ui.expect_request(lambda r: all(part in r.url for part in custom)):
        ui.fill("#from", "2024-01-01")
        ui.fill("#to", "2024-03-31")
        ui.locator("#to").dispatch_event("change")
    wait_ready(ui)
    assert ui.inner_text("#stat-total") == "0"
    with ui.expect_request(lambda r: "interval=month" in r.url):
        ui.select_option("#interval", "month")
    wait_ready(ui)
    assert ui.locator("#series-table tbody tr").count() == 3
    ui.fill("#from", "2024-05-01")  # after "to": refused in the page, nothing asked
    ui.locator("#from").dispatch_event("change")
    assert "before it ends" in ui.inner_text("#stats-status")
    # Opening the bookmarked view shows the same choices again.
    ui.goto(f"/dashboard/urls/{visited_link.id}/stats?range=7d&bots=include")
    assert "bots=include" in wait_ready(ui) and ui.inner_text("#stat-total") == "5"
    assert ui.input_value("#range") == "7d" and ui.input_value("#bots") == "include"


def test_csv_link_downloads_the_visits(ui, visited_link):
    log_in(ui)
    ui.goto(f"/dashboard/urls/{visited_link.id}/stats")
    wait_ready(ui)
    ui.select_option("#bots", "include")
    wait_ready(ui)
    href = ui.get_attribute("#csv", "href")
    assert "format=csv" in href and "bots=include" in href and f"/api/user/urls/{visited_link.id}/visits" in href
    with ui.expect_download() as download:
        ui.click("#csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == 1 + 5 and "referrer" in lines[0].lower()
    assert sum("news.example" in line for line in lines) == 2


def test_file_stats_page_from_the_file_card(ui, rt, user, make_file, live_server):
    row = make_file(user, b"hello world", name="notes.txt")
    visit(live_server, f"{rt.settings.files.route}/{row.name}", FIREFOX, "https://forum.example/t/1")
    analytics.flush(rt, db.engine)
    log_in(ui)
    ui.goto("/dashboard/files")
    ui.click(".file-card .stats-link")
    ui.wait_for_url(f"**/dashboard/files/{row.id}/stats*")
    url = wait_ready(ui)
    data = api_json(ui, url)
    assert data["total"] == 1 == int(ui.inner_text("#stat-total"))
    assert ui.locator("[data-top=referrers] tbody th").first.inner_text() == "forum.example"
    assert ui.locator("[data-top=destinations]").count() == 0  # files have no destinations
    assert f"/api/user/files/{row.id}/visits" in ui.get_attribute("#csv", "href")


def test_edit_page_links_to_the_statistics(ui, user, make_link):
    link = make_link(user, vanity="edited")
    log_in(ui)
    ui.goto(f"/dashboard/urls/{link.id}/edit")
    ui.click("a:has-text('Statistics')")
    ui.wait_for_url(f"**/dashboard/urls/{link.id}/stats*")
    wait_ready(ui)
    assert ui.inner_text("#stat-total") == "0"
    assert ui.locator("[data-top=referrers] .empty").is_visible()


def test_someone_elses_link_has_no_stats_page(ui, user, make_user, make_link):
    other = make_user("bob")
    link = make_link(other, vanity="bobs")
    log_in(ui)
    res = ui.goto(f"/dashboard/urls/{link.id}/stats")
    assert res.status in (403, 404)


def test_dashboard_shows_visits_of_the_last_14_days(ui, visited_link):
    log_in(ui)
    url = wait_ready(ui, "[data-visits]") or ""
    ui.wait_for_selector("[data-visits] .uplot canvas")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ui.locator("[data-visits]").screenshot(path=str(ARTIFACTS / "dashboard-visits.png"))
    assert ui.inner_text("#visits-total") == "3" and ui.inner_text("#visits-unique") == "2"
    assert url == ""  # the dashboard keeps no state in its URL


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_stats_pages_fit_a_phone_in_both_schemes(chromium, live_server, visited_link, make_file, user, scheme):
    row = make_file(user, b"x", name="a-file-with-a-remarkably-long-name-" + "y" * 40 + ".txt")
    context = chromium.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
    try:
        page = Page(context, live_server.url, f"stats-phone-{scheme}")
        log_in(page)
        for path, label in [(f"/dashboard/urls/{visited_link.id}/stats", "link"),
                            (f"/dashboard/files/{row.id}/stats", "file"), ("/dashboard", "home")]:
            page.goto(path)
            wait_ready(page, "[data-stats]" if label != "home" else "[data-visits]")
            page.wait_for_selector(".uplot canvas")
            page.shot(label)
            assert page.evaluate(SIDEWAYS) == [], path
            canvas = page.locator(".uplot canvas").first.bounding_box()
            assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 391, path
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background == "rgb(21, 24, 30)"
        assert dark == (scheme == "dark"), background
        assert not page.errors, page.errors
    finally:
        context.close()


def test_admin_visits_page_shows_orphan_visits(ui, rt, make_user, visited_link, live_server):
    make_user("root", role=Role.SUPERADMIN)
    for path in ("/", "/go/nope", "/go/nope", "/wp-login.php"):
        visit(live_server, path, FIREFOX)
    analytics.flush(rt, db.engine)
    log_in(ui, "root")
    ui.click("nav a:has-text('Visits')")
    ui.wait_for_url("**/dashboard/admin/visits*")
    url = wait_ready(ui)
    ui.shot("admin-visits")
    data = api_json(ui, url)
    orphans = data["orphans"]
    assert orphans["total"] >= 3 and ui.inner_text("#stat-orphans") == str(orphans["total"])
    kinds = ui.locator("[data-top=orphan-types] tbody tr")
    assert kinds.count() == len(orphans["types"]) and kinds.count() >= 2
    assert "Unknown short link" in ui.inner_text("[data-top=orphan-types]")
    paths = ui.locator("[data-top=orphan-urls] tbody th").all_inner_texts()
    assert paths == [u["value"] for u in orphans["urls"]] and any("nope" in p for p in paths)
    assert ui.inner_text("#stat-total") == str(data["total"])


def test_admin_visits_page_refuses_a_user(ui, user):
    log_in(ui)
    assert ui.locator("nav a:has-text('Visits')").count() == 0
    res = ui.goto("/dashboard/admin/visits")
    assert res.status == 403
    assert requests.get(ui.base + "/api/server/stats/visits", cookies=cookies(ui), timeout=10).status_code == 403


def test_metrics_page_renders(ui, rt, visited_link, make_file, user):
    now = dt.datetime.now(dt.timezone.utc)
    metrics.take_snapshot(rt, now=now - dt.timedelta(hours=3))
    make_file(user, b"hello", name="a.txt")
    make_file(user, b"<svg/>", name="b.svg", type="image/svg+xml")
    metrics.take_snapshot(rt, now=now - dt.timedelta(minutes=1))
    db.session.commit()
    log_in(ui)
    ui.click("nav a:has-text('Metrics')")
    ui.wait_for_url("**/dashboard/metrics*")
    url = wait_ready(ui, "[data-metrics]")
    ui.wait_for_selector("[data-chart=counts] .uplot canvas")
    ui.shot("metrics")
    snapshots = api_json(ui, url)
    assert len(snapshots) == 2
    latest = max(snapshots, key=lambda s: s["createdAt"])["data"]
    assert latest["files"] == 2 and latest["urls"] == 1
    for key in ("files", "urls", "users", "fileViews", "urlViews"):
        assert ui.inner_text(f"#metric-{key}") == str(latest[key]), key
    assert ui.inner_text("#metric-storage").endswith(" B")
    types = ui.locator("[data-top=types] tbody th").all_inner_texts()
    assert sorted(types) == sorted(t["type"] for t in latest["types"])
    assert ui.locator("#files-users tbody td.title").all_inner_texts() == ["alice"]
    assert ui.locator("#urls-users tbody td.title").all_inner_texts() == ["alice"]
    assert "2 snapshots" in ui.inner_text("#stats-status")
    with ui.expect_request(lambda r: "/api/stats?" in r.url and "all=true" in r.url):
        ui.select_option("#metrics-range", "all")
    wait_ready(ui, "[data-metrics]")


@pytest.mark.parametrize("overrides", [{"features": {"metrics_admin_only": True}}])
def test_metrics_page_for_administrators_only_when_so_configured(ui, user, make_user):
    make_user("root", role=Role.SUPERADMIN)
    log_in(ui)
    assert ui.locator("nav a:has-text('Metrics')").count() == 0
    assert ui.goto("/dashboard/metrics").status == 403
    ui.goto("/dashboard")
    ui.click("text=Log out")
    log_in(ui, "root")
    ui.click("nav a:has-text('Metrics')")
    wait_ready(ui, "[data-metrics]")
    assert "No snapshots" in ui.inner_text("#stats-status")
