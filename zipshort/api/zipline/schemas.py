"""Zipline v4 response shapes (every key Zipline returns) and request field parsing."""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import Field

from zipshort.api.contract import Open, WebUrl
from zipshort.config import Settings
from zipshort.errors import ValidationError
from zipshort.services.ziplineobjects import iso, quota_json, url_json, user_json

__all__ = ["iso", "parse_max_views", "pick_domain", "quota_json", "url_json", "user_json"]


def pick_domain(settings: Settings, header: str | None, request_host: str) -> str:
    """The host for returned URLs: a random allowed entry of ``header``, else the default domain, else Host.

    Raises:
        ValidationError: a requested domain is not in DOMAINS / core.default_domain.
    """
    if header is not None and header.strip():
        wanted = [d.strip().lower() for d in header.split(",") if d.strip()]
        allowed = settings.allowed_domains
        bad = [d for d in wanted if d not in allowed]
        if bad or not wanted:
            raise ValidationError(f"Domain {bad[0] if bad else header!r} is not in the allowed domains",
                                  code="invalid_domain", field="domain")
        return random.choice(wanted)
    return settings.core.default_domain or request_host


def parse_max_views(raw: str | None, nan: str, negative: str) -> int | None:
    """A max-views header: absent or 0 = no limit; digits only; Zipline's two error texts."""
    if raw is None:
        return None
    text = raw.strip()
    if re.fullmatch(r"-\d+", text):
        raise ValidationError(negative, code="invalid_max_views", field="maxViews")
    if not re.fullmatch(r"\+?\d{1,10}", text):
        raise ValidationError(nan, code="invalid_max_views", field="maxViews")
    value = int(text)
    if value > 1_000_000_000:
        raise ValidationError("Max views must be at most 1000000000", code="invalid_max_views", field="maxViews")
    return value or None




# --- the bodies, for the OpenAPI document (api/contract.py) ---------------------------------------------------

class ZiplineQuota(Open):
    """``quota_json``."""

    id: str
    filesQuota: str
    maxBytes: str | None
    maxFiles: int | None
    maxUrls: int | None
    userId: str


class ZiplineUser(Open):
    """``user_json``: never a secret."""

    id: str
    username: str
    createdAt: str | None
    updatedAt: str | None
    role: str
    view: dict[str, Any]
    avatar: str | None
    totpSecret: None
    quota: ZiplineQuota | None
    disabled: bool


class UserAnswer(Open):
    user: ZiplineUser


class UserCreate(Open):
    username: str
    password: str
    role: str | None = Field(None, description="USER or ADMIN")
    quota: dict[str, Any] | None = None


class UserEdit(Open):
    username: str | None = None
    password: str | None = None
    role: str | None = None
    avatar: str | None = None
    quota: dict[str, Any] | None = None
    disabled: bool | None = None


class Credentials(Open):
    username: str
    password: str
    code: str | None = Field(None, description="the TOTP code, or the invite code when registering")


class LoginAnswer(Open):
    """The user, or ``{"totp": true}`` when a second factor is needed."""

    user: ZiplineUser | None = None
    totp: bool | None = None


class TagRef(Open):
    id: str
    name: str
    color: str | None


class ZiplineUrl(Open):
    """``url_json``: Zipline's Url object with zipshort's link fields."""

    id: str
    createdAt: str | None
    updatedAt: str | None
    code: str
    vanity: str | None
    destination: str
    views: int
    maxViews: int | None
    password: bool
    enabled: bool
    userId: str
    expiresAt: str | None
    domain: str | None
    title: str | None
    description: str | None
    image: str | None
    tags: list[TagRef]
    folderId: str | None
    utm: Any
    rules: Any
    qrOptions: Any
    cloaking: bool | None
    deepLinking: bool | None
    externalId: str | None
    validSince: str | None
    forwardQuery: bool | None
    crawlable: bool | None
    url: str | None = None


class UrlFields(Open):
    """zipshort's link fields beyond Zipline's (``urls._extras``): null clears."""

    title: str | None = None
    description: str | None = None
    image: str | None = None
    tags: list[str] | None = None
    utm: dict[str, Any] | None = None
    rules: list[dict[str, Any]] | None = None
    qrOptions: dict[str, Any] | None = None
    folderId: str | None = None
    cloaking: bool | None = None
    deepLinking: bool | None = None
    forwardQuery: bool | None = None
    crawlable: bool | None = None
    validSince: str | None = None


class UrlCreate(UrlFields):
    """POST /api/user/urls (headers: ``x-zipline-max-views``, ``x-zipline-password``, ``x-zipline-domain``,
    ``x-zipline-no-json``)."""

    destination: WebUrl
    vanity: str | None = None
    enabled: bool | None = None
    expiresAt: str | None = None
    domain: str | None = None


class UrlEdit(UrlFields):
    """PATCH /api/user/urls/{id}: absent = unchanged."""

    destination: str | None = None
    vanity: str | None = None
    enabled: bool | None = None
    maxViews: int | None = None
    password: str | None = None
    expiresAt: str | None = None


class UrlSearch(Open):
    searchField: str | None = None
    searchQuery: str | None = None


class UrlId(Open):
    id: str
