"""Who is calling: API keys in all four header styles, or the session cookie; scopes and decorators."""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError as WTFValidationError

from zipshort.errors import Forbidden, Unauthorized
from zipshort.extensions import db, login_manager
from zipshort.models import ApiKey, User
from zipshort.runtime import Runtime
from zipshort.services import apikeys

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def runtime() -> Runtime:
    """The app's Runtime (settings, hasher, limiter)."""
    return current_app.extensions["zipshort"]


def client_address() -> str:
    """The client's address (ProxyFix has already applied core.trust_proxy)."""
    return request.remote_addr or "unknown"


@login_manager.user_loader
def _load_session_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or user.disabled or str(user.session_version) != version:
        return None
    return user


def presented_key() -> str | None:
    """The API key from ``Authorization`` (raw, ``Token``, ``Bearer``) or ``x-api-key``, if any."""
    value = request.headers.get("Authorization")
    if value is not None:
        value = value.strip()
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in ("bearer", "token"):
            return rest.strip()
        return value
    return request.headers.get("x-api-key")


def load_caller() -> None:
    """Set ``g.user`` and ``g.api_key`` for this request (None when anonymous)."""
    g.user, g.api_key, g.bad_key = None, None, False
    key = presented_key()
    if key is not None:
        found: ApiKey | None = apikeys.authenticate_key(key)
        if found is None:
            g.bad_key = True
            return
        g.user, g.api_key = found.user, found
        return
    if current_user.is_authenticated:
        g.user = current_user._get_current_object()


def _check_session_csrf() -> None:
    """Session-authenticated state changes need a JSON body or a valid X-CSRF-Token header."""
    if request.method in SAFE_METHODS or g.api_key is not None:
        return
    token = request.headers.get("X-CSRF-Token")
    if token:
        try:
            validate_csrf(token)
            return
        except (CSRFError, WTFValidationError):
            raise Forbidden("CSRF token missing or invalid", code="csrf_failed") from None
    if request.mimetype != "application/json" and request.content_length:
        raise Forbidden("CSRF token missing or invalid", code="csrf_failed")
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise Forbidden("CSRF token missing or invalid", code="csrf_failed")


def require_user(scope: str | None = None, admin: bool = False, unauthorized: str = "not logged in",
                 person: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view that needs a caller (with ``scope`` when a key is used, an administrator if ``admin``;
    ``person`` marks account endpoints a bot key may never use)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_caller(scope, admin, unauthorized, person)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def check_caller(scope: str | None = None, admin: bool = False, unauthorized: str = "not logged in",
                 person: bool = False) -> User:
    """Raise unless this request's caller may proceed (see :func:`require_user`); return the caller."""
    if g.get("bad_key"):
        raise Unauthorized("invalid token", code="invalid_token")
    user: User | None = g.get("user")
    if user is None:
        raise Unauthorized(unauthorized, code="not_logged_in")
    key: ApiKey | None = g.get("api_key")
    needed = "admin" if admin else scope
    if key is not None and key.bot and (person or admin):
        raise Forbidden("A bot key cannot manage the account", code="bot_key")
    if key is not None and needed and needed not in key.scope_set:
        raise Forbidden(f"This API key lacks the {needed} scope", code="missing_scope")
    if admin and not user.is_administrator:
        raise Forbidden("Forbidden", code="not_admin")
    _check_session_csrf()
    return user


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, building the signing serializer once per key set.

    Flask makes a new serializer (and derives its key) on every request; the redirect path
    cannot afford that.
    """

    def get_signing_serializer(self, app):  # type: ignore[override]
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            self._cached = cached
        return cached[1]
