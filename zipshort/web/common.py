"""What every page shares: the login gate (CSRF first on POST), form parsing, post/redirect/get, and
refused forms shown again with what was typed."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from flask import current_app, flash, g, make_response, redirect, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from zipshort.auth import session_page
from zipshort.errors import Forbidden, ValidationError, ZipshortError
from zipshort.extensions import csrf
from zipshort.http import runtime
from zipshort.urls import origin


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


# Never echoed back into a page: passwords, one-time codes and the CSRF token.
SECRET_FIELDS = frozenset({"password", "current_password", "new_password", "confirm_password", "code", "csrf_token"})
TRUE_VALUES = ("on", "true", "1", "yes")


@dataclass(frozen=True)
class Typed:
    """What a refused form held, for the page that shows it again; without one, every answer is the default."""

    values: MultiDict = field(default_factory=MultiDict)
    refused: bool = False

    def value(self, name: str, default: object = "") -> object:
        """The typed text of ``name``, or ``default`` when this form was not refused."""
        return self.values.get(name, "") if self.refused else default

    def checked(self, name: str, default: bool = False, option: str | None = None) -> bool:
        """Whether the checkbox ``name`` (with value ``option`` among several) was ticked."""
        if not self.refused:
            return default
        return option in self.values.getlist(name) if option is not None else self.values.get(name) in TRUE_VALUES

    def selected(self, name: str, option: str, default: bool = False) -> bool:
        """Whether ``option`` was the one chosen in the select ``name``."""
        return self.values.get(name, "") == option if self.refused else default

    def filled(self, *names: str) -> bool:
        """Whether any of these fields held something (to open the section they sit in)."""
        return self.refused and any(self.values.get(n, "").strip() for n in names)


def typed(form_action: str) -> Typed:
    """The typed values of the form posting to ``form_action`` if it is the one just refused."""
    refused = g.get("refused_form")
    return refused if refused is not None and g.get("refused_action") == form_action else Typed()


def action(default_back: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A form handler. A refused request shows its page again with the reason and what was typed
    (status of the error; passwords are not echoed); ``default_back`` is that page, formatted with the
    route's arguments. A ``back`` with another query than the POST's gets a flash and a redirect instead."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except ZipshortError as exc:
                if exc.status >= 500:
                    raise
                flash(exc.message, "error")
                back = safe_next(request.form.get("back"), default_back.format(**kwargs))
                shown = _show_again(back, exc)
                return shown if shown is not None else redirect(back, 303)

        return wrapper

    return decorator


def _show_again(back: str, exc: ZipshortError) -> Any:
    """Render the GET page at ``back`` inside this POST, with the refused form's values; None if it cannot
    (a page whose query differs from this request's: the GET view reads its query from the request)."""
    path, _, query = back.partition("?")
    if query != request.query_string.decode("latin-1"):
        return None
    try:
        endpoint, args = current_app.url_map.bind_to_environ(request.environ).match(path, method="GET")
    except HTTPException:
        return None
    if not endpoint.startswith("web."):  # only dashboard pages (never an API or public route's view)
        return None
    values = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k not in SECRET_FIELDS])
    g.refused_form, g.refused_action, g.page_path = Typed(values, True), request.path, path
    response = make_response(current_app.view_functions[endpoint](**args))
    response.status_code = exc.status
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


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
    return request.form.get(name) in TRUE_VALUES


def base_url() -> str:
    """This server's origin as clients should see it (``zipshort.urls``: the one scheme rule)."""
    return origin(runtime().settings)
