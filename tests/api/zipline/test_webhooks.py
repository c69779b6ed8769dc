"""Zipline's own webhooks through the real server: POST /api/upload and POST /api/user/urls make Zipline's HTTP
webhook and Discord payloads, delivered off the request to a real local receiver (reference §6.8)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests

SECRET_PATH = "/api/webhooks/123/very-secret-token"


@pytest.fixture(autouse=True)
def _delivered(rt):
    """Every notification sent before the app is torn down (the subscriber reads the database)."""
    yield
    assert rt.events.drain(15)


@pytest.fixture
def overrides(receiver):
    embed = {"title": "{file.name::upper}", "description": "{user.username} uploaded {file.size::bytes}",
             "footer": "{metricsUser.files} files", "color": "#3b5bdb", "thumbnail": True, "imageOrVideo": True,
             "timestamp": True, "url": True}
    return {
        "outbound": {"allowed_networks": ["127.0.0.0/8"]},
        "http_webhook": {"on_upload": receiver.url + "/upload?k=1", "on_shorten": receiver.url + "/shorten"},
        "discord": {"webhook_url": receiver.url + SECRET_PATH, "username": "Uploads",
                    "on_upload_content": "New: {file.name} by {user.username}\\n{link.returned}",
                    "on_upload_embed": json.dumps(embed),
                    "on_shorten_content": "{url.destination} → {link.returned} ({file.name})",
                    "on_shorten_avatar_url": "https://cdn.example/a.png"},
    }


def _by_path(received, path):
    return [(headers, json.loads(body)) for p, headers, body in received if p == path]


def test_upload_sends_zipline_webhook_and_discord(live_server, rt, user, make_key, receiver):
    key = make_key(user)
    answer = requests.post(live_server.url + "/api/upload", headers={"Authorization": key},
                           files={"file": ("cat.png", io.BytesIO(b"\x89PNG fake"), "image/png")}, timeout=10)
    assert answer.status_code == 200, answer.text
    url = answer.json()["files"][0]["url"]
    name = answer.json()["files"][0]["name"]
    received = receiver.wait(2)
    assert rt.events.drain(5)

    ((headers, hook),) = _by_path(received, "/upload?k=1")
    assert headers["content-type"] == "application/json"
    assert headers["x-zipline-webhook"] == "true" and headers["x-zipline-webhook-type"] == "upload"
    assert hook["type"] == "upload"
    data = hook["data"]
    assert data["link"] == {"raw": f"{live_server.url}/raw/{name}", "returned": url}
    assert data["file"]["name"] == name and data["file"]["type"] == "image/png" and data["file"]["size"] == 9
    assert data["file"]["id"] == answer.json()["files"][0]["id"]
    assert "password" not in data["file"]
    assert data["user"]["username"] == "alice" and data["user"]["id"] == user.id
    for secret in ("password", "token", "totpSecret", "sessions", "passkeys", "oauthProviders"):
        assert secret not in data["user"]

    ((headers, message),) = _by_path(received, SECRET_PATH)
    assert headers["content-type"] == "application/json" and "x-zipline-webhook" not in headers
    assert message["username"] == "Uploads" and message["avatar_url"] is None
    assert message["content"] == f"New: {name} by alice\n{url}"
    (embed,) = message["embeds"]
    assert embed["title"] == name.upper()
    assert embed["description"] == "alice uploaded 9 B"
    assert embed["footer"] == {"text": "1 files"}
    assert embed["color"] == 0x3B5BDB
    assert embed["url"] == url
    assert embed["timestamp"] == data["file"]["createdAt"]
    raw = f"{live_server.url}/raw/{name}"
    assert embed["thumbnail"] == {"url": raw} and embed["image"] == {"url": raw} and embed["video"] is None
    assert rt.notifications.snapshot() == {("http", "sent"): 1, ("discord", "sent"): 1}


def test_video_gets_a_video_embed_and_text_none(live_server, user, make_key, receiver):
    key = make_key(user)
    for name, mimetype in (("clip.mp4", "video/mp4"), ("notes.txt", "text/plain")):
        assert requests.post(live_server.url + "/api/upload", headers={"Authorization": key},
                             files={"file": (name, io.BytesIO(b"data"), mimetype)}, timeout=10).status_code == 200
    messages = [m for _, m in _by_path(receiver.wait(4), SECRET_PATH)]
    videos = [m["embeds"][0] for m in messages if m["embeds"][0]["video"]]
    others = [m["embeds"][0] for m in messages if not m["embeds"][0]["video"]]
    assert len(videos) == 1 and len(others) == 1
    assert videos[0]["video"]["url"].endswith(".mp4") and videos[0]["image"] is None
    assert videos[0]["thumbnail"] is None
    assert others[0]["image"] is None and others[0]["thumbnail"] is None


def test_a_chunked_upload_notifies_once_with_its_url(live_server, user, make_key, receiver):
    key, data = make_key(user), b"0123456789" * 100

    def chunk(piece: bytes, start: int, last: bool, **extra: str):
        headers = {"Authorization": key, "Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(data)}",
                   "x-zipline-p-filename": "big.bin", "x-zipline-p-content-type": "application/octet-stream",
                   "x-zipline-p-lastchunk": str(last).lower(), **extra}
        return requests.post(live_server.url + "/api/upload/partial", headers=headers, timeout=10,
                             files={"file": ("blob", io.BytesIO(piece), "application/octet-stream")})

    token = chunk(data[:600], 0, False).json()["partialToken"]
    done = chunk(data[600:], 600, True, **{"x-zipline-p-token": token})
    assert done.status_code == 200, done.text
    ((_, hook),) = _by_path(receiver.wait(2), "/upload?k=1")
    assert hook["data"]["link"]["returned"] == done.json()["files"][0]["url"]
    assert hook["data"]["file"]["size"] == 1000
    assert len(receiver.received) == 2  # one webhook, one Discord message: the chunks before the last send nothing


def test_shorten_sends_zipline_webhook_and_discord(live_server, rt, user, make_key, receiver):
    key = make_key(user)
    answer = requests.post(live_server.url + "/api/user/urls", headers={"Authorization": key},
                           json={"destination": "https://example.com/a?b=c", "vanity": "hooked"}, timeout=10)
    assert answer.status_code == 200, answer.text
    short = answer.json()["url"]
    received = receiver.wait(2)

    ((headers, hook),) = _by_path(received, "/shorten")
    assert headers["x-zipline-webhook"] == "true" and headers["x-zipline-webhook-type"] == "shorten"
    assert hook["type"] == "shorten"
    assert hook["data"]["link"] == {"returned": short}
    url = hook["data"]["url"]
    assert url["id"] == answer.json()["id"] and url["vanity"] == "hooked" and url["url"] == short
    assert url["destination"] == "https://example.com/a?b=c" and "password" not in url
    assert hook["data"]["user"]["username"] == "alice"

    ((_, message),) = _by_path(received, SECRET_PATH)
    assert message == {"username": "Uploads", "avatar_url": "https://cdn.example/a.png",
                       "content": f"https://example.com/a?b=c → {short} ({{unknown_type}})", "embeds": None}


def test_other_dialects_notify_too_but_bulk_creations_do_not(live_server, rt, user, make_key, receiver):
    from zipshort.services import folders

    key = make_key(user)
    made = requests.post(live_server.url + "/rest/v3/short-urls", headers={"X-Api-Key": key},
                         json={"longUrl": "https://example.com/shlink", "customSlug": "from-shlink"}, timeout=10)
    assert made.status_code == 200, made.text
    ((_, hook),) = _by_path(receiver.wait(2), "/shorten")
    assert hook["data"]["link"] == {"returned": made.json()["shortUrl"]}
    assert hook["data"]["url"]["destination"] == "https://example.com/shlink"

    folder = folders.create_folder(user, "Bulk")
    bulk = requests.post(live_server.url + "/api/links", headers={"Authorization": f"Bearer {key}"},
                         json=[{"url": f"https://example.com/{i}", "collectionId": folder.id} for i in range(5)],
                         timeout=10)
    assert bulk.status_code == 201, bulk.text
    assert rt.events.drain(10)
    assert len(receiver.received) == 2  # the Shlink link's webhook and Discord message; none for the bulk


def test_a_password_never_travels(live_server, user, make_key, receiver):
    key = make_key(user)
    requests.post(live_server.url + "/api/user/urls", headers={"Authorization": key, "x-zipline-password": "hunter22"},
                  json={"destination": "https://example.com/"}, timeout=10)
    requests.post(live_server.url + "/api/upload", headers={"Authorization": key, "x-zipline-password": "hunter22"},
                  files={"file": ("a.txt", io.BytesIO(b"x"), "text/plain")}, timeout=10)
    for _, _, body in receiver.wait(4):
        assert b"hunter22" not in body and b"argon2" not in body


class TestQuiet:
    @pytest.fixture
    def overrides(self):
        return {"discord": {"webhook_url": "https://discord.example/api/webhooks/1/x"}}  # no event says anything

    def test_nothing_is_subscribed_when_nothing_is_configured(self, rt, settings):
        from zipshort.services import ziplinehooks

        assert ziplinehooks.wanted_events(settings) == ()
        assert not any(getattr(sub, "__name__", "") == "zipline_webhooks" for _, sub, _ in rt.events._subscribers)


class TestGuard:
    @pytest.fixture
    def overrides(self, receiver):
        return {"http_webhook": {"on_shorten": receiver.url + "/shorten"},
                "discord": {"webhook_url": receiver.url + SECRET_PATH, "on_shorten_content": "{url.code}"}}

    def test_a_loopback_target_is_refused_unless_allowed(self, live_server, rt, user, make_key, receiver, caplog):
        caplog.set_level(logging.INFO, "zipshort.webhooks")
        answer = requests.post(live_server.url + "/api/user/urls", headers={"Authorization": make_key(user)},
                               json={"destination": "https://example.com/"}, timeout=10)
        assert answer.status_code == 200  # the request never waits for, nor fails with, its webhooks
        assert rt.events.drain(10)
        assert receiver.received == []
        assert rt.notifications.snapshot() == {("http", "refused"): 1, ("discord", "refused"): 1}
        assert "very-secret-token" not in caplog.text and "/shorten" not in caplog.text
        assert "refused" in caplog.text


class TestFailures:
    @pytest.fixture
    def overrides(self, receiver):
        receiver.default = 500
        return {"outbound": {"allowed_networks": ["127.0.0.1/32"]},
                "discord": {"on_shorten_webhook_url": receiver.url + SECRET_PATH, "on_shorten_content": "{url.code}"}}

    def test_a_failing_receiver_is_counted_and_logged_without_its_token(self, live_server, rt, user, make_key,
                                                                         receiver, caplog):
        caplog.set_level(logging.INFO, "zipshort.webhooks")
        answer = requests.post(live_server.url + "/api/user/urls", headers={"Authorization": make_key(user)},
                               json={"destination": "https://example.com/"}, timeout=10)
        assert answer.status_code == 200
        receiver.wait(1)
        assert rt.events.drain(10)
        assert len(receiver.received) == 1  # Zipline never retries
        assert rt.notifications.snapshot() == {("discord", "failed"): 1}
        assert "answered 500" in caplog.text and "very-secret-token" not in caplog.text
        assert receiver.url.split("//")[1] in caplog.text  # scheme and host name the target

    def test_an_unreachable_receiver_is_counted(self, live_server, rt, user, make_key, receiver, caplog):
        receiver.close()
        answer = requests.post(live_server.url + "/api/user/urls", headers={"Authorization": make_key(user)},
                               json={"destination": "https://example.com/"}, timeout=10)
        assert answer.status_code == 200
        assert rt.events.drain(15)
        assert rt.notifications.snapshot() == {("discord", "failed"): 1}
        assert "very-secret-token" not in caplog.text
