"""Settings → Webhooks: add an endpoint (the secret shown once), see it disabled and why, send a test event, read
the delivery log, rotate, remove; refused input shown again; CSRF on every form."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.conftest import count
from tests.web.test_pages import csrf
from zipshort.extensions import db
from zipshort.models import WebhookEndpoint, WebhookMessage
from zipshort.services import webhookdelivery, webhooks


@pytest.fixture
def overrides():
    return {"outbound": {"allowed_networks": ["127.0.0.0/8"]},
            "webhooks": {"disable_after_failures": 1, "first_retry_seconds": 1}}


def _add(browser, url: str, events=("link.created", "file.uploaded")):
    token = csrf(browser.get("/dashboard/settings"))
    return browser.post("/dashboard/settings/webhooks", data={"csrf_token": token, "url": url,
                                                               "events": list(events), "description": "mine"})


def test_an_endpoint_is_added_with_its_secret_shown_once(browser, receiver):
    page = _add(browser, receiver.url + "/hook")
    assert page.status_code == 201
    html = page.get_data(as_text=True)
    secret = re.search(r'id="new-webhook-secret">(whsec_[^<]+)<', html).group(1)
    assert receiver.url + "/hook" in html
    again = browser.get("/dashboard/settings").get_data(as_text=True)
    assert secret not in again and secret[:10] + "…" in again and "Nothing sent yet" in again
    db.session.rollback()
    assert db.session.scalar(sa.select(WebhookEndpoint.events)) == "link.created file.uploaded"


def test_a_refused_endpoint_is_shown_again_with_the_reason(browser):
    page = _add(browser, "http://10.1.2.3/hook")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "10.1.2.3" in html and 'value="http://10.1.2.3/hook"' in html
    assert _add(browser, "https://example.com/", events=()).status_code == 400
    assert count(WebhookEndpoint) == 0


def test_test_event_delivery_log_disabled_reason_enable_rotate_remove(browser, rt, user, receiver):
    assert _add(browser, receiver.url + "/hook").status_code == 201
    db.session.rollback()
    endpoint_id = db.session.scalar(sa.select(WebhookEndpoint.id))
    token = csrf(browser.get("/dashboard/settings"))
    sent = browser.post(f"/dashboard/settings/webhooks/{endpoint_id}/test", data={"csrf_token": token})
    assert sent.status_code == 303
    receiver.default = 500
    for message in webhookdelivery.claim(rt):
        webhookdelivery.settle(rt, message, webhookdelivery.attempt(rt, message))
    html = browser.get("/dashboard/settings").get_data(as_text=True)
    assert "webhook.test" in html and "HTTP 500" in html and "retrying" in html
    assert "disabled" in html and "Disabled after 1 failed attempts in a row" in html  # disable_after_failures = 1
    assert "Send test event" not in html and ">Enable<" in html
    assert browser.post(f"/dashboard/settings/webhooks/{endpoint_id}/enable", data={"csrf_token": token}
                        ).status_code == 303
    assert "Send test event" in browser.get("/dashboard/settings").get_data(as_text=True)
    rotated = browser.post(f"/dashboard/settings/webhooks/{endpoint_id}/secret", data={"csrf_token": token})
    assert rotated.status_code == 200 and "whsec_" in rotated.get_data(as_text=True)
    assert browser.post(f"/dashboard/settings/webhooks/{endpoint_id}/disable", data={"csrf_token": token}
                        ).status_code == 303
    assert "Disabled by its owner" in browser.get("/dashboard/settings").get_data(as_text=True)
    assert browser.post(f"/dashboard/settings/webhooks/{endpoint_id}/delete", data={"csrf_token": token}
                        ).status_code == 303
    assert count(WebhookEndpoint) == count(WebhookMessage) == 0


def test_someone_elses_endpoint_is_not_found(browser, rt, make_user, receiver):
    bob = make_user("bob")
    row, _ = webhooks.create_endpoint(rt, bob, webhooks.NewEndpoint(url=receiver.url, events=["link.created"]))
    token = csrf(browser.get("/dashboard/settings"))
    for action in ("test", "disable", "enable", "secret", "delete"):
        assert browser.post(f"/dashboard/settings/webhooks/{row.id}/{action}", data={"csrf_token": token}
                            ).status_code == 404
    assert count(WebhookEndpoint) == 1


def test_forms_without_the_csrf_token_are_refused(browser, receiver):
    refused = browser.post("/dashboard/settings/webhooks", data={"url": receiver.url, "events": ["link.created"]})
    assert refused.status_code == 400
    assert count(WebhookEndpoint) == 0
