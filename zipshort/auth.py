"""Who is calling: API keys in all four header styles, or the session cookie; scopes and decorators."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from flask import g, request
from flask import session as cookie_session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError as WTFValidationError

from zipshort.errors import Forbidden, Unauthorized
from zipshort.extensions import login_manager
from zipshort.http import runtime
from zipshort.models import ApiKey, User
from zipshort.services import apikeys, sessions
from zipshort.services.reach import Reach, reach_of

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def actor() -> apikeys.Actor:
    """The caller as the services see it: the user, and the scopes of the key (or the session) they came with."""
    return apikeys.Actor.of(g.user, g.get("api_key"))


def client_address() -> str:
    """The client's address (ProxyFix has already applied core.trust_proxy)."""
    return request.remote_addr or "unknown"


SESSION_SECRET = "sid"  # the key of the server-side session's secret in the signed cookie


@login_manager.user_loader
def _load_session_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    user = sessions.session_user(user_id, cookie_session.get(SESSION_SECRET))
    if user is None or str(user.session_version) != version:
        return None
    return user


def begin_browser_session(user: User, method: str | None = None) -> None:
    """Log ``user`` in on this browser: a new server-side session, a fresh cookie (nothing from before survives).

    ``method`` (password, totp, setup, registration) makes it a sign-in that is published; None continues a
    session (after a password change).
    """
    cookie_session.clear()
    secret = sessions.start_session(runtime(), user, request.headers.get("User-Agent"), method=method)
    login_user(user)
    cookie_session[SESSION_SECRET] = secret
    cookie_session.permanent = True


def end_browser_session() -> None:
    """Log this browser out: its server-side session ends, so a copy of the cookie is worthless too."""
    sessions.end_session(cookie_session.get(SESSION_SECRET))
    logout_user()
    cookie_session.clear()


def browser_session_id() -> str | None:
    """The id of this browser's server-side session (None for key callers)."""
    return sessions.current_session_id(cookie_session.get(SESSION_SECRET))


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
    key = presented_key()
    if load_key(key) or key is not None:
        return
    if current_user.is_authenticated:
        g.user = current_user._get_current_object()


def caller_reach() -> Reach:
    """What this request's caller reaches among its user's links (services/reach.py): the API key's roles
    (only the links it created, only one domain's), or everything for a browser session. Every dialect's
    key-authenticated link route hands it to the services."""
    key: ApiKey | None = g.get("api_key")
    return reach_of(runtime(), key)


def load_key(key: str | None) -> bool:
    """Set ``g.user`` and ``g.api_key`` from the API key ``key`` (``g.bad_key`` when it is refused); no browser
    session is consulted. For a dialect that takes its key from somewhere else than the headers (Shlink's
    ``?apiKey=``). Returns whether a key was accepted."""
    g.user, g.api_key, g.bad_key = None, None, False
    if key is None:
        return False
    found: ApiKey | None = apikeys.authenticate_key(key)
    if found is None:
        g.bad_key = True
        return False
    g.user, g.api_key = found.user, found
    return True


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


@dataclass(frozen=True)
class Requirement:
    """What one API route needs from its caller; every route declares one (a test walks the URL map).

    ``scope``: a key must hold it (a browser session passes every scope check of its user). Account
    management (password, username, token, 2FA, sessions) needs ``account``; key management
    ``keys:read``/``keys:write``; none of the three is in a new key's default set, and the Zipline
    token holds them all. ``person``: never a bot key. ``admin``: an administrator, and a key must hold
    ``admin``. ``anonymous``: no caller needed (``note`` says what guards it instead). ``session``: a
    dashboard page or form, for a logged-in browser (keys are not accepted there).
    """

    scope: str | None = None
    admin: bool = False
    person: bool = False
    anonymous: bool = False
    session: bool = False
    note: str = ""

    def describe(self) -> str:
        """One line for the route table."""
        if self.anonymous:
            return "anyone" + (f" ({self.note})" if self.note else "")
        parts = ["browser session"] if self.session else []
        if self.session and self.admin:
            parts.append("administrator")
        elif self.admin:
            parts.append("administrator; key scope `admin`")
        if self.scope:
            parts.append(f"key scope `{self.scope}`")
        if self.person and not self.admin:
            parts.append("never a bot key")
        text = "; ".join(parts) or "any caller (session or key)"
        return text + (f" ({self.note})" if self.note else "")


def requirement_of(view: Callable[..., Any]) -> Requirement | None:
    """The requirement a view declared, if any."""
    return getattr(view, "zipshort_requirement", None)


def _declare(view: Callable[..., Any], requirement: Requirement) -> Callable[..., Any]:
    view.zipshort_requirement = requirement  # type: ignore[attr-defined]
    return view


def public_route(note: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an API route that needs no caller; ``note`` says why or what guards it."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        return _declare(view, Requirement(anonymous=True, note=note))

    return decorator


def session_page(view: Callable[..., Any], admin: bool = False) -> Callable[..., Any]:
    """Declare a dashboard page or form (the web layer's login gate enforces it)."""
    return _declare(view, Requirement(session=True, admin=admin))


def declares(scope: str | None = None, admin: bool = False, person: bool = False,
             note: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the requirement of a view that checks its caller itself (with :func:`check_caller`), because
    whether it needs one depends on the request (e.g. anonymous uploads into an open folder)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        return _declare(view, Requirement(scope=scope, admin=admin, person=person, note=note))

    return decorator


def require_user(scope: str | None = None, admin: bool = False, unauthorized: str = "not logged in",
                 person: bool = False, note: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare and enforce what a view needs (see :class:`Requirement`)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_caller(scope, admin, unauthorized, person)
            return view(*args, **kwargs)

        return _declare(wrapper, Requirement(scope=scope, admin=admin, person=person, note=note))

    return decorator


def check_caller(scope: str | None = None, admin: bool = False, unauthorized: str = "not logged in",
                 person: bool = False) -> User:
    """Raise unless this request's caller may proceed (see :class:`Requirement`); return the caller."""
    if g.get("bad_key"):
        raise Unauthorized("invalid token", code="invalid_token")
    user: User | None = g.get("user")
    if user is None:
        raise Unauthorized(unauthorized, code="not_logged_in")
    key: ApiKey | None = g.get("api_key")
    if key is not None:
        if key.bot and (person or admin):
            raise Forbidden("A bot key cannot manage the account", code="bot_key")
        held = key.scope_set
        for needed in (("admin" if admin else None), scope):
            if needed and needed not in held:
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

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            self._cached = cached
        return cached[1]


def route_table(app: Any) -> str:
    """Every route of ``app`` and what it requires, as a Markdown table (docs/routes.md; `zipshort routes`)."""
    rows = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        requirement = requirement_of(app.view_functions[rule.endpoint])
        methods = ", ".join(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        rows.append((rule.rule, methods, requirement.describe() if requirement else "**undeclared**"))
    lines = ["| route | methods | requires |", "|---|---|---|"]
    lines += [f"| `{path}` | {methods} | {needs} |" for path, methods, needs in sorted(rows)]
    return "\n".join(lines) + "\n"
