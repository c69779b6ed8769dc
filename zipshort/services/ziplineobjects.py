"""Zipline v4's objects (User, Url, File, Tag) as its API shapes them, for the Zipline faces and for what a
service sends in Zipline's shape (its webhooks). Secrets never appear: no password, token, TOTP secret or
session id."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from zipshort.codes import url_segment
from zipshort.extensions import db
from zipshort.models import File, Link, Tag, User
from zipshort.services.thumbnails import stored_thumbnail


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, as JavaScript's toISOString."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def quota_json(user: User) -> dict[str, Any] | None:
    """Zipline's UserQuota object, or None when the user has no limits."""
    if not user.has_quota:
        return None
    return {
        "id": user.id,
        "createdAt": iso(user.quota_updated_at or user.created_at),
        "updatedAt": iso(user.quota_updated_at or user.updated_at),
        "filesQuota": user.quota_files_type or "NONE",
        "maxBytes": user.quota_max_bytes_text,
        "maxFiles": user.quota_max_files,
        "maxUrls": user.quota_max_urls,
        "userId": user.id,
    }


def user_json(user: User) -> dict[str, Any]:
    """Zipline v4's User object. Secrets (password, TOTP secret, session ids) are never included."""
    return {
        "id": user.id,
        "username": user.username,
        "createdAt": iso(user.created_at),
        "updatedAt": iso(user.updated_at),
        "role": user.role,
        "view": user.view or {},
        "avatar": user.avatar,
        "totpSecret": None,
        "sessions": [],
        "quota": quota_json(user),
        "oauthProviders": [],
        "passkeys": [],
        "disabled": user.disabled,
    }


def url_json(link: Link, url: str | None = None) -> dict[str, Any]:
    """Zipline v4's Url object (``password`` as a boolean) plus ``url`` when known."""
    data: dict[str, Any] = {
        "id": link.id,
        "createdAt": iso(link.created_at),
        "updatedAt": iso(link.updated_at),
        "code": link.code,
        "vanity": link.vanity,
        "destination": link.destination,
        "views": link.views,
        "maxViews": link.max_views,
        "password": link.password_hash is not None,
        "enabled": link.enabled,
        "userId": link.user_id,
        "expiresAt": iso(link.expires_at),
        "domain": link.domain or None,
        # zipshort's additions (the fields h0p and hoko set, editable here too)
        "title": link.title,
        "description": link.description,
        "image": link.image,
        "tags": [{"id": t.id, "name": t.name, "color": t.color} for t in link.tags],
        "folderId": link.folder_id,
        "utm": link.utm,
        "rules": link.rules,
        "qrOptions": link.qr_options,
        "cloaking": link.cloaking,
        "deepLinking": link.deep_linking,
        "externalId": link.external_id,
        "validSince": iso(link.valid_since),  # Shlink's link features, here as in every dialect
        "forwardQuery": link.forward_query,
        "crawlable": link.crawlable,
    }
    if url is not None:
        data["url"] = url
    return data


def file_json(row: File, files_route: str) -> dict[str, Any]:
    """Zipline v4's File object (password as a boolean, url relative to the host: ``files_route``/name)."""
    return {
        "id": row.id,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "deletesAt": iso(row.expires_at),
        "favorite": row.favorite,
        "originalName": row.original_name,
        "name": row.name,
        "size": row.size,
        "type": row.type,
        "views": row.views,
        "maxViews": row.max_views,
        "folderId": row.folder_id,
        "thumbnail": {"path": f"/raw/.thumbnail.{row.id}.jpg"} if stored_thumbnail(row.thumbnail_key) else None,
        "tags": [tag_json(t) for t in row.tags],
        "password": row.password_hash is not None,
        "url": f"{files_route}/{url_segment(row.name)}",
    }


def tag_json(tag: Tag) -> dict[str, Any]:
    """Zipline's Tag object."""
    return {"id": tag.id, "createdAt": iso(tag.created_at), "updatedAt": iso(tag.updated_at), "name": tag.name,
            "color": tag.color, "userId": tag.user_id}


# --- what Zipline's webhooks send, and what its template variables read --------------------------------

WEBHOOK_USER_HIDDEN = ("totpSecret", "sessions", "oauthProviders", "passkeys")  # never sent (Zipline strips them)


def webhook_user(user: User | None) -> dict[str, Any] | None:
    """The User object of Zipline's webhooks: its API's, without the TOTP secret, sessions, passkeys and OAuth
    providers (the password and token are never in it)."""
    if user is None:
        return None
    return {k: v for k, v in user_json(user).items() if k not in WEBHOOK_USER_HIDDEN}


def webhook_file(row: File, files_route: str) -> dict[str, Any]:
    """The File object of Zipline's upload webhook: its API's, without ``password``."""
    return {k: v for k, v in file_json(row, files_route).items() if k != "password"}


def webhook_url(link: Link, url: str) -> dict[str, Any]:
    """The Url object of Zipline's shorten webhook: its API's, without ``password``."""
    return {k: v for k, v in url_json(link, url).items() if k != "password"}


_DATES = {"createdAt": "created_at", "updatedAt": "updated_at", "deletesAt": "expires_at", "expiresAt": "expires_at",
          "validSince": "valid_since"}


def _with_dates(shape: dict[str, Any], row: Any) -> dict[str, Any]:
    """``shape`` with its ISO date strings back as datetimes (the date modifiers of templates need them)."""
    return {k: getattr(row, _DATES[k]) if k in _DATES and hasattr(row, _DATES[k]) else v for k, v in shape.items()}


def template_values(*, user: User | None = None, file: File | None = None, link: Link | None = None,
                    files_route: str = "/u", urls: dict[str, str] | None = None,
                    metrics: Any = None, server_metrics: bool = True) -> dict[str, Any]:
    """The values Zipline's template variables read (``zipshort.templatevars``): ``file``, ``url``, ``user``
    (the API's shapes, dates as datetimes), ``link`` (``urls``: ``returned`` and ``raw``), and the two metrics
    types as callables asked only when a template names them (``metrics(user_id)``; the server's only with
    ``server_metrics``)."""
    values: dict[str, Any] = {}
    if user is not None:
        values["user"] = _with_dates(webhook_user(user) or {}, user)
    if file is not None:
        values["file"] = _with_dates(file_json(file, files_route), file)
    if link is not None:
        values["url"] = _with_dates(url_json(link, (urls or {}).get("returned")), link)
    if urls is not None:
        values["link"] = dict(urls)
    if metrics is not None:
        user_id = user.id if user is not None else None
        values["metricsUser"] = lambda: metrics(user_id)
        if server_metrics:
            values["metricsZipline"] = lambda: metrics(None)
    return values


def template_metrics(user_id: str | None) -> dict[str, int]:
    """``metricsUser`` (``user_id``'s) or ``metricsZipline`` (None: everyone's): files, urls, storage (bytes),
    fileViews, urlViews, two queries."""
    files = select(func.count(File.id), func.coalesce(func.sum(File.size), 0), func.coalesce(func.sum(File.views), 0))
    links = select(func.count(Link.id), func.coalesce(func.sum(Link.views), 0))
    if user_id is not None:
        files, links = files.where(File.user_id == user_id), links.where(Link.user_id == user_id)
    count, size, file_views = db.session.execute(files).one()
    urls, url_views = db.session.execute(links).one()
    return {"files": int(count), "urls": int(urls), "storage": int(size), "fileViews": int(file_views),
            "urlViews": int(url_views)}
