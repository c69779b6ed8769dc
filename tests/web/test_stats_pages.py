"""The statistics pages' shells (static/stats.js draws them; tests/browser/test_stats.py runs it): who may open
which, and the API each one reads."""

from __future__ import annotations

import pytest

from tests.web.test_pages import log_in
from zipshort.models import Role


def test_link_and_file_pages_name_their_api(browser, user, make_link, make_file):
    link = make_link(user, vanity="stats-me")
    row = make_file(user, b"hello", name="hello.txt")
    html = browser.get(f"/dashboard/urls/{link.id}/stats").get_data(as_text=True)
    assert f'data-api="/api/user/urls/{link.id}/stats"' in html
    assert f'data-csv="/api/user/urls/{link.id}/visits"' in html
    assert 'src="/static/vendor/uplot/uPlot.iife.min.js"' in html and 'src="/static/stats.js"' in html
    assert 'data-top="destinations"' in html
    html = browser.get(f"/dashboard/files/{row.id}/stats").get_data(as_text=True)
    assert f'data-api="/api/user/files/{row.id}/stats"' in html and 'data-top="destinations"' not in html
    assert f'href="/dashboard/urls/{link.id}/stats"' in browser.get("/dashboard/urls").get_data(as_text=True)
    assert f'href="/dashboard/urls/{link.id}/stats"' in browser.get(f"/dashboard/urls/{link.id}/edit").get_data(
        as_text=True)
    assert f'href="/dashboard/files/{row.id}/stats"' in browser.get("/dashboard/files").get_data(as_text=True)
    assert 'data-api="/api/user/stats/visits"' in browser.get("/dashboard").get_data(as_text=True)


def test_pages_send_the_strict_csp_and_the_vendored_files_are_served(browser, user, make_link):
    link = make_link(user)
    res = browser.get(f"/dashboard/urls/{link.id}/stats")
    assert "script-src 'self'" in res.headers["Content-Security-Policy"]
    assert "<script>" not in res.get_data(as_text=True) and " style=" not in res.get_data(as_text=True)
    for path in ("/static/vendor/uplot/uPlot.iife.min.js", "/static/vendor/uplot/uPlot.min.css",
                 "/static/vendor/uplot/LICENSE", "/static/stats.js"):
        assert browser.get(path).status_code == 200, path


def test_someone_elses_or_an_unknown_thing_is_not_found(browser, make_user, make_link, make_file):
    bob = make_user("bob")
    assert browser.get(f"/dashboard/urls/{make_link(bob).id}/stats").status_code in (403, 404)
    assert browser.get(f"/dashboard/files/{make_file(bob).id}/stats").status_code == 404
    assert browser.get("/dashboard/urls/nope/stats").status_code == 404
    assert browser.get("/dashboard/files/nope/stats").status_code == 404


def test_pages_need_a_session(client, user, make_link):
    link = make_link(user)
    for path in (f"/dashboard/urls/{link.id}/stats", "/dashboard/admin/visits", "/dashboard/metrics"):
        res = client.get(path)
        assert res.status_code == 302 and "/auth/login" in res.headers["Location"], path


def test_admin_visits_page_is_for_administrators(browser, client, make_user, app):
    res = browser.get("/dashboard/admin/visits")
    assert res.status_code == 403 and "/dashboard/admin/visits" not in browser.get("/dashboard").get_data(as_text=True)
    make_user("root", role=Role.ADMIN)
    admin = app.test_client()
    assert log_in(admin, "root").status_code == 303
    html = admin.get("/dashboard/admin/visits").get_data(as_text=True)
    assert 'data-api="/api/server/stats/visits"' in html and 'data-top="orphan-types"' in html
    assert 'href="/dashboard/admin/visits"' in admin.get("/dashboard").get_data(as_text=True)


def test_metrics_page_and_its_nav_link(browser):
    assert browser.get("/dashboard/metrics").status_code == 200
    assert 'href="/dashboard/metrics"' in browser.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("overrides", [{"features": {"metrics_admin_only": True}}])
def test_metrics_for_administrators_only(browser):
    assert browser.get("/dashboard/metrics").status_code == 403
    assert 'href="/dashboard/metrics"' not in browser.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("overrides", [{"features": {"metrics_enabled": False}}])
def test_metrics_turned_off(browser):
    assert browser.get("/dashboard/metrics").status_code == 404
    assert 'href="/dashboard/metrics"' not in browser.get("/dashboard").get_data(as_text=True)
