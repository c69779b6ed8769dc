"""Zipline's own webhooks: its HTTP webhook and its Discord notifications after an upload or a new short link.

Subscribed in ``create_app`` to ``file.uploaded`` and ``link.created`` when ``[http_webhook]`` or ``[discord]``
say something; runs on the event dispatcher's thread, never in the request. As in Zipline, a delivery is one
POST with no retry and no signature (the per-user webhooks are the durable, signed kind). The request goes
through ``outbound.fetch``: public addresses only unless ``outbound.allowed_networks`` allows the target's,
no redirect followed, ``outbound.timeout`` for the whole exchange. Every outcome is counted on the runtime
(``rt.notifications``: ``(channel, outcome)``); a failure is logged with the target's scheme and host only,
since a Discord webhook URL carries its token in the path.

Payloads (Zipline's ``src/lib/webhooks``):

- HTTP: ``{"type": "upload"|"shorten", "data": {"user", "file"|"url", "link": {"raw"?, "returned"}}}`` with
  ``x-zipline-webhook: true`` and ``x-zipline-webhook-type``; the objects are the Zipline API's (secrets out).
- Discord: ``{"username", "avatar_url", "content", "embeds": [{title, description, color, timestamp, footer,
  thumbnail, image, video, url}]}``, every string rendered with ``zipshort.templatevars``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

from zipshort.codes import url_segment
from zipshort.config import Settings, configured_origin
from zipshort.config.validation import parse_discord_embed
from zipshort.events import Event, FileUploaded, LinkCreated
from zipshort.extensions import db
from zipshort.models import File, Link, User
from zipshort.outbound import DestinationRefused, FetchFailed, fetch
from zipshort.runtime import Runtime
from zipshort.services.ziplineobjects import (
    iso,
    template_metrics,
    template_values,
    webhook_file,
    webhook_url,
    webhook_user,
)
from zipshort.templatevars import render

log = logging.getLogger("zipshort.webhooks")

DEFAULT_USERNAME = "zipshort"
# Discord's limits on what a message may hold; longer renderings are cut
LIMITS = {"content": 2000, "title": 256, "description": 4096, "footer": 2048}


def wanted_events(settings: Settings) -> tuple[type[Event], ...]:
    """The events to subscribe to: those some webhook or Discord notification is configured for."""
    kinds: list[type[Event]] = []
    if settings.http_webhook.on_upload or discord_block(settings, "upload") is not None:
        kinds.append(FileUploaded)
    if settings.http_webhook.on_shorten or discord_block(settings, "shorten") is not None:
        kinds.append(LinkCreated)
    return tuple(kinds)


def subscriber(rt: Runtime, scope: Callable[[], AbstractContextManager[object]]) -> Callable[[Event], None]:
    """The dispatcher's subscriber: each event handled inside ``scope()`` (the app context that binds
    ``db.session``)."""

    def zipline_webhooks(event: Event) -> None:
        with scope():
            if isinstance(event, FileUploaded):
                on_upload(rt, event)
            elif isinstance(event, LinkCreated) and not event.bulk:  # no message per link of a bulk creation
                on_shorten(rt, event)

    return zipline_webhooks


# --- the two events -------------------------------------------------------------------------------------

def _origin(settings: Settings, given: str | None) -> str:
    """``<scheme>://<host>`` of the URLs handed out: the face's, else core.default_domain or the first of
    DOMAINS (``config.configured_origin``), else "" (relative URLs)."""
    return given or configured_origin(settings)


def _with_host(origin: str, host: str | None) -> str:
    if not host or not origin:
        return origin
    return f"{urlsplit(origin).scheme}://{host}"


def on_upload(rt: Runtime, event: FileUploaded) -> None:
    """Zipline's ``onUpload``: the HTTP webhook and the Discord notification of one uploaded file."""
    settings = rt.settings
    row = db.session.get(File, event.file_id)
    if row is None:  # deleted before its notification went out
        return
    user = db.session.get(User, row.user_id) if row.user_id else None
    origin = _origin(settings, event.origin)
    segment = url_segment(row.name)
    link = {"raw": f"{origin}/raw/{segment}",
            "returned": f"{_with_host(origin, settings.files.content_domain)}{settings.files.route}/{segment}"}
    block = discord_block(settings, "upload")
    discord = None
    if block is not None:
        values = template_values(user=user, file=row, files_route=settings.files.route, urls=link,
                                 metrics=template_metrics)
        image, video = row.type.startswith("image/"), row.type.startswith("video/")
        discord = discord_message(block, values, raw=link["raw"], returned=link["returned"], created=row.created_at,
                                  image=image, video=video)
    payload = {"type": "upload", "data": {"user": webhook_user(user), "file": webhook_file(row, settings.files.route),
                                          "link": link}}
    db.session.rollback()  # nothing is held open while sending
    _send(rt, "upload", settings.http_webhook.on_upload, payload, block, discord)


def on_shorten(rt: Runtime, event: LinkCreated) -> None:
    """Zipline's ``onShorten``: the HTTP webhook and the Discord notification of one new short link."""
    settings = rt.settings
    row = db.session.get(Link, event.link_id)
    if row is None:
        return
    user = db.session.get(User, row.user_id) if row.user_id else None
    origin = _with_host(_origin(settings, event.origin), event.domain)
    link = {"returned": f"{origin}{settings.urls.route}/{url_segment(row.slug)}"}
    block = discord_block(settings, "shorten")
    discord = None
    if block is not None:
        values = template_values(user=user, link=row, urls=link, metrics=template_metrics)
        discord = discord_message(block, values, raw=None, returned=link["returned"], created=row.created_at)
    payload = {"type": "shorten", "data": {"user": webhook_user(user), "url": webhook_url(row, link["returned"]),
                                           "link": link}}
    db.session.rollback()
    _send(rt, "shorten", settings.http_webhook.on_shorten, payload, block, discord)


def _send(rt: Runtime, kind: str, http_url: str, payload: dict[str, Any], block: dict[str, Any] | None,
          discord: dict[str, Any] | None) -> None:
    if http_url:
        deliver(rt, "http", http_url, payload, {"x-zipline-webhook": "true", "x-zipline-webhook-type": kind})
    if block is not None and discord is not None:
        deliver(rt, "discord", block["webhook_url"], discord, {})


# --- Discord ----------------------------------------------------------------------------------------------

def discord_block(settings: Settings, event: str) -> dict[str, Any] | None:
    """The Discord settings of ``event`` (``upload`` or ``shorten``) with the global ones filled in, or None when
    the event sends nothing (validated at load: a configured event has content or an embed, and a URL)."""
    d = settings.discord
    content = getattr(d, f"on_{event}_content")
    embed = parse_discord_embed(f"discord.on_{event}_embed", getattr(d, f"on_{event}_embed"))
    url = getattr(d, f"on_{event}_webhook_url") or d.webhook_url
    if not (content or embed) or not url:
        return None
    return {"webhook_url": url, "content": content or None, "embed": embed,
            "username": getattr(d, f"on_{event}_username") or d.username or DEFAULT_USERNAME,
            "avatar_url": getattr(d, f"on_{event}_avatar_url") or d.avatar_url or None}


def _color(value: str | None) -> int | None:
    """``#3b5bdb`` / ``3b5bdb`` / ``#fff`` → Discord's integer colour (a short form is expanded)."""
    if not value:
        return None
    digits = value.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits, 16)


def discord_message(block: dict[str, Any], values: dict[str, Any], *, raw: str | None, returned: str,
                    created: Any, image: bool = False, video: bool = False) -> dict[str, Any]:
    """The body Discord's "execute webhook" takes, every string templated (Zipline's ``buildResponse``).

    Images get the raw link as ``thumbnail`` and/or ``image``, videos as ``video``; ``url`` (when the embed
    asks for it) is the link handed to the client; ``timestamp`` the creation time.
    """
    def text(template: str | None, limit: int) -> str | None:
        return render(template, values, limit=limit) or None if template else None

    message: dict[str, Any] = {"username": block["username"], "avatar_url": block["avatar_url"],
                               "content": text(block["content"], LIMITS["content"]), "embeds": None}
    embed = block["embed"]
    if embed is not None:
        footer = text(embed["footer"], LIMITS["footer"])
        media = raw or "{unknown_property}"
        message["embeds"] = [{
            "title": text(embed["title"], LIMITS["title"]),
            "description": text(embed["description"], LIMITS["description"]),
            "url": returned if embed["url"] else None,
            "color": _color(embed["color"]),
            "timestamp": iso(created) if embed["timestamp"] else None,
            "footer": {"text": footer} if footer else None,
            "thumbnail": {"url": media} if image and embed["thumbnail"] else None,
            "image": {"url": media} if image and embed["imageOrVideo"] else None,
            "video": {"url": media} if video and embed["imageOrVideo"] else None,
        }]
    return message


# --- delivery -----------------------------------------------------------------------------------------------

def where(url: str) -> str:
    """What a log line may say of a target: its scheme and host (the path of a Discord webhook is its token)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "(unparsable URL)"


def deliver(rt: Runtime, channel: str, url: str, payload: dict[str, Any], headers: dict[str, str]) -> bool:
    """POST ``payload`` as JSON to ``url`` once; True when it answered 2xx. Counted as
    ``(channel, "sent" | "failed" | "refused")`` on ``rt.notifications``."""
    outbound = rt.settings.outbound
    body = json.dumps(payload, separators=(",", ":")).encode()
    try:
        answer = fetch(url, method="POST", body=body, headers={"Content-Type": "application/json", **headers},
                       allowed_networks=outbound.allowed_networks, max_redirects=0, timeout=outbound.timeout,
                       max_bytes=4096)
    except DestinationRefused:
        rt.notifications.add(channel, "refused")
        log.warning("%s webhook to %s refused: not a public address (outbound.allowed_networks)", channel,
                    where(url))
        return False
    except FetchFailed as exc:
        rt.notifications.add(channel, "failed")
        log.warning("%s webhook to %s failed: %s", channel, where(url), exc.message.replace(url, where(url))[:300])
        return False
    if not 200 <= answer.status < 300:
        rt.notifications.add(channel, "failed")
        log.warning("%s webhook to %s answered %d", channel, where(url), answer.status)
        return False
    rt.notifications.add(channel, "sent")
    log.info("%s webhook to %s sent", channel, where(url))
    return True
