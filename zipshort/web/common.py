"""What every page shares: the login gate (CSRF first on POST), form parsing, post/redirect/get."""

from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from flask import flash, g, redirect, request
from flask_login import current_user

from zipshort.auth import runtime, session_page
from zipshort.errors import Forbidden, ValidationError, ZipshortError
from zipshort.extensions import csrf
from zipshort.runtime import Runtime


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """A local path to go to; anything else (other hosts, schemes, ``//``, ``/\\``, controls) is ``default``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return default
    return value


def page(admin: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A dashboard page: POSTs must carry the CSRF token (checked before anything else), visitors
    go to the login page (back here afterwards), ``admin`` pages need an administrator."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method != "GET" and request.method != "HEAD":
                csrf.protect()
            if not current_user.is_authenticated:
                target = request.full_path.rstrip("?") if request.method == "GET" else "/dashboard"
                return redirect("/auth/login?next=" + quote(target, safe="/"))
            g.user = current_user._get_current_object()
            if admin and not g.user.is_administrator:
                raise Forbidden("Only administrators may open this page", code="not_admin")
            return view(*args, **kwargs)

        return session_page(wrapper, admin)

    return decorator


def action(default_back: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A form handler: a refused request flashes its error and goes back (post/redirect/get)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except ZipshortError as exc:
                if exc.status >= 500:
                    raise
                flash(exc.message, "error")
                return redirect(safe_next(request.form.get("back"), default_back), 303)

        return wrapper

    return decorator


def done(message: str, to: str) -> Any:
    """Flash a confirmation and redirect (303) to ``to`` (or the form's local ``back``)."""
    flash(message, "ok")
    return redirect(safe_next(request.form.get("back"), to), 303)


def text(name: str) -> str:
    """A trimmed form field ('' when absent)."""
    return (request.form.get(name) or "").strip()


def optional_int(name: str, label: str) -> int | None:
    """A whole-number form field, None when empty."""
    value = text(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{label} must be a whole number", field=name) from None


def checked(name: str) -> bool:
    """A checkbox's state."""
    return request.form.get(name) in ("on", "true", "1", "yes")


def rt() -> Runtime:
    """The app's Runtime."""
    return runtime()


def base_url() -> str:
    """This server's origin as clients should see it (https when core.return_https_urls)."""
    settings = runtime().settings
    proto = "https" if settings.core.return_https_urls else request.scheme
    return f"{proto}://{settings.core.default_domain or request.host}"
