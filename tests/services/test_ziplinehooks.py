"""Zipline's webhooks and Discord notifications at the service level: the objects sent (no secrets), the
template values, the Discord body, the fall-back origin, bulk links and deleted files, delivery outcomes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from zipshort.events import FileUploaded, LinkCreated
from zipshort.extensions import db
from zipshort.services import bulk, links, ziplinehooks, ziplineobjects
from zipshort.templatevars import render

HOOK = "/api/webhooks/9/token-xyz"


@pytest.fixture(autouse=True)
def _delivered(rt):
    """Every notification sent before the app is torn down (the subscriber reads the database)."""
    yield
    assert rt.events.drain(15)


@pytest.fixture
def overrides(receiver):
    return {"outbound": {"allowed_networks": ["127.0.0.0/8"], "timeout": 2},
            "core": {"default_domain": "s.example", "return_https_urls": True},
            "http_webhook": {"on_upload": receiver.url + "/up", "on_shorten": receiver.url + "/short"},
            "discord": {"webhook_url": receiver.url + HOOK, "on_upload_content": "{file.name} {metricsZipline.files}",
                        "on_upload_embed": json.dumps({"title": "{user.username}", "thumbnail": True,
                                                       "color": "#abc", "timestamp": True})}}


def test_webhook_objects_carry_no_secrets(rt, make_user, make_file):
    user = make_user("bob")
    user.totp_secret = "JBSWY3DPEHPK3PXP"
    db.session.commit()
    row = make_file(user, b"x", name="a.txt", password_hash="$argon2id$hash")
    shaped = json.dumps([ziplineobjects.webhook_user(user), ziplineobjects.webhook_file(row, "/u")])
    assert "JBSWY3DP" not in shaped and "argon2" not in shaped and '"password"' not in shaped
    assert ziplineobjects.webhook_user(None) is None
    assert set(ziplineobjects.webhook_user(user)) >= {"id", "username", "role", "createdAt", "quota"}


def test_template_values_have_dates_and_lazy_metrics(rt, make_user, make_file, make_link):
    user = make_user("bob")
    other = make_user("eve")
    row = make_file(user, b"12345", name="a.txt")
    make_file(other, b"1", name="b.txt")
    link = make_link(user, vanity="v1")
    values = ziplineobjects.template_values(user=user, file=row, link=link, files_route="/u",
                                            urls={"returned": "https://s/go/v1"},
                                            metrics=ziplineobjects.template_metrics)
    assert isinstance(values["file"]["createdAt"], dt.datetime) and isinstance(values["url"]["createdAt"], dt.datetime)
    assert render("{file.createdAt::year} {url.code} {url.vanity} {link.returned}", values) == \
        f"{row.created_at.year} {link.code} v1 https://s/go/v1"
    assert render("{metricsUser.files}/{metricsZipline.files} {metricsUser.storage::bytes} {metricsUser.urls}",
                  values) == "1/2 5 B 1"


def test_discord_message_for_an_image(rt):
    block = ziplinehooks.discord_block(rt.settings, "upload")
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    values = {"user": {"username": "bob"}, "file": {"name": "x" * 3000}}
    message = ziplinehooks.discord_message({**block, "content": "{file.name}"}, values, raw="https://s/raw/a.png",
                                           returned="https://s/u/a.png", created=created, image=True)
    assert len(message["content"]) == 2000  # Discord's limit
    (embed,) = message["embeds"]
    assert embed == {"title": "bob", "description": None, "url": None, "color": 0xAABBCC,
                     "timestamp": "2026-01-02T03:04:05.000Z", "footer": None,
                     "thumbnail": {"url": "https://s/raw/a.png"}, "image": None, "video": None}
    assert message["username"] == "zipshort" and message["avatar_url"] is None


def test_upload_without_an_origin_uses_the_default_domain(rt, make_user, make_file, receiver):
    user = make_user("bob")
    make_file(user, b"data", name="pic.png", type="image/png")  # its event reaches the subscriber
    received = {path: json.loads(body) for path, _, body in receiver.wait(2)}
    assert received["/up"]["data"]["link"] == {"raw": "https://s.example/raw/pic.png",
                                               "returned": "https://s.example/u/pic.png"}
    message = received[HOOK]
    assert message["content"] == "pic.png 1"
    assert message["embeds"][0]["thumbnail"] == {"url": "https://s.example/raw/pic.png"}
    assert rt.events.drain(5)
    assert rt.notifications.snapshot() == {("http", "sent"): 1, ("discord", "sent"): 1}


def test_a_link_on_a_custom_domain_returns_that_domain(rt, make_user, receiver):
    user = make_user("bob")
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="abc"),
                             origin="http://asked.example")
    assert rt.events.drain(5) and receiver.wait(1)  # the door's own event: sent by the subscriber
    assert json.loads(receiver.received[0].body)["data"]["link"] == {"returned": "http://asked.example/go/abc"}
    receiver.received.clear()
    ziplinehooks.on_shorten(rt, LinkCreated(link_id=link.id, code="abc", owner_id=user.id, domain="my.example",
                                            origin="http://asked.example"))
    ((path, headers, body),) = receiver.wait(1)
    assert path == "/short" and headers["x-zipline-webhook-type"] == "shorten"
    assert json.loads(body)["data"]["link"] == {"returned": "http://my.example/go/abc"}


def test_the_door_puts_the_origin_on_its_event(rt, make_user, events_seen):
    user = make_user("bob")
    links.create_link(rt, user, links.NewLink(destination="https://example.com/"), origin="https://a.example")
    (created,) = events_seen.of(LinkCreated)
    assert created.origin == "https://a.example" and not created.bulk
    assert "origin" not in created.details() and "bulk" not in created.details()  # quiet: no log noise


def test_bulk_links_and_deleted_rows_send_nothing(rt, make_user, receiver):
    user = make_user("bob")
    deliver = ziplinehooks.subscriber(rt, _no_scope)
    deliver(LinkCreated(link_id="x", code="x", owner_id=user.id, bulk=True))
    deliver(LinkCreated(link_id="gone", code="gone", owner_id=user.id))
    deliver(FileUploaded(file_id="gone", filename="gone", owner_id=user.id, size=0))
    assert receiver.received == [] and rt.notifications.snapshot() == {}
    assert bulk  # the bulk door marks its events (tests/services/test_bulk.py creates them)


def _no_scope():
    import contextlib

    return contextlib.nullcontext()


def test_deliver_outcomes_and_where(rt, receiver):
    assert ziplinehooks.where("https://discord.com/api/webhooks/1/secret?x=1") == "https://discord.com"
    assert ziplinehooks.where("http://[::1]:8080/p") == "http://::1:8080"
    assert ziplinehooks.deliver(rt, "http", receiver.url + "/ok", {"a": 1}, {"x-zipline-webhook": "true"})
    receiver.answers = [(302, {"Location": receiver.url + "/elsewhere"})]
    assert not ziplinehooks.deliver(rt, "http", receiver.url + "/moved", {}, {})  # no redirect is followed
    assert not ziplinehooks.deliver(rt, "http", "http://10.1.2.3/", {}, {})
    assert rt.notifications.snapshot() == {("http", "sent"): 1, ("http", "failed"): 1, ("http", "refused"): 1}
    assert [r.path for r in receiver.received] == ["/ok", "/moved"]
    assert receiver.received[0].headers["content-type"] == "application/json"
