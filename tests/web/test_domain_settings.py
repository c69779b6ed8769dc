"""The custom domains part of the Settings page: the TXT record to create, and the "Check now" button that
looks it up (a real DNS server on loopback)."""

from __future__ import annotations

import pytest

from tests.conftest import dns_overrides, fresh
from tests.web.test_pages import csrf, log_in
from zipshort.models import CustomDomain


@pytest.fixture
def overrides(dns_zone):
    return dns_overrides(dns_zone)


@pytest.fixture
def browser(client, user):
    assert log_in(client).status_code == 303
    return client


def add(browser, hostname: str) -> CustomDomain:
    page = browser.get("/dashboard/settings")
    assert browser.post("/dashboard/settings/domains", data={"csrf_token": csrf(page), "hostname": hostname}
                        ).status_code == 303
    return CustomDomain.query.filter_by(hostname=hostname).one()


def test_settings_show_the_exact_txt_record_and_a_check_button(browser):
    row = add(browser, "go.mine.test")
    html = browser.get("/dashboard/settings").get_data(as_text=True)
    assert "<code>_zipshort-challenge.go.mine.test</code>" in html and f"<code>{row.verify_token}</code>" in html
    assert f'action="/dashboard/settings/domains/{row.id}/verify"' in html and "Check now" in html


def test_check_now_without_the_record_says_what_to_create(browser):
    row = add(browser, "go.mine.test")
    page = browser.get("/dashboard/settings")
    res = browser.post(f"/dashboard/settings/domains/{row.id}/verify", data={"csrf_token": csrf(page)},
                       follow_redirects=True)
    html = res.get_data(as_text=True)
    assert "Expected a DNS TXT record _zipshort-challenge.go.mine.test with the value" in html
    assert fresh(CustomDomain, row.id).verified_at is None


def test_check_now_with_the_record_verifies(browser, dns_zone):
    row = add(browser, "go.mine.test")
    dns_zone.txt["_zipshort-challenge.go.mine.test"] = [row.verify_token]
    page = browser.get("/dashboard/settings")
    res = browser.post(f"/dashboard/settings/domains/{row.id}/verify", data={"csrf_token": csrf(page)},
                       follow_redirects=True)
    assert "go.mine.test is verified" in res.get_data(as_text=True)
    assert fresh(CustomDomain, row.id).verified_at is not None
    assert f"/domains/{row.id}/verify" not in browser.get("/dashboard/settings").get_data(as_text=True)


def test_check_now_on_someone_elses_domain_is_not_found(browser, rt, make_user, dns_zone):
    from zipshort.services import domains

    other = domains.add_custom(rt, make_user("bob"), "bob.test")
    dns_zone.txt["_zipshort-challenge.bob.test"] = [other.verify_token]
    page = browser.get("/dashboard/settings")
    res = browser.post(f"/dashboard/settings/domains/{other.id}/verify", data={"csrf_token": csrf(page)},
                       follow_redirects=True)
    assert "Domain not found" in res.get_data(as_text=True) and fresh(CustomDomain, other.id).verified_at is None
