"""The password page of a protected link or file, and the CSRF check of its POST.

The page is the compiled ``link_password.html`` rendered once per kind (link, file) around its CSRF token and
kept as two byte strings (``PasswordPages``, one per app): a GET costs a join and an HMAC, no template work.

Its CSRF protection needs no session (so a GET signs no session cookie): a signed double submit. The visitor's
browser holds a random nonce in the ``zipshort_form`` cookie (HttpOnly, SameSite=Lax, set by the page when the
request came without one); the form carries ``HMAC(secret, nonce)``; the POST is refused (400) unless its form
token is the HMAC of the nonce its cookie sends. Another site can neither read the cookie nor, without the
secret, make the token of a nonce it planted.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFError
from werkzeug.http import dump_cookie

from zipshort.access import note_error
from zipshort.http import runtime
from zipshort.security import form_nonce, form_nonce_valid, form_token, form_token_valid

FORM_COOKIE = "zipshort_form"
_PAGES_KEY = "zipshort.password_pages"
_MARK = "\x00csrf-token\x00"  # where the token goes in the rendered page (no template output contains a NUL)


class PasswordPages:
    """The password page of one app, pre-rendered per kind around its CSRF token (no error: the GET's page)."""

    def __init__(self, app: Flask) -> None:
        settings = runtime(app).settings
        self.env = app.jinja_env
        self.secret = settings.core.secret
        attributes = dump_cookie(FORM_COOKIE, "", path="/", httponly=True, samesite="Lax",
                                 secure=settings.core.return_https_urls)
        self.cookie_tail = attributes[attributes.index(";"):]  # "; HttpOnly; Path=/; SameSite=Lax" …
        self.parts = {what: self._render(what, None) for what in ("link", "file")}

    def _render(self, what: str, error: str | None) -> tuple[bytes, bytes]:
        html = self.env.get_template("link_password.html").render(what=what, error=error, csrf_token=lambda: _MARK)
        head, mark, tail = html.partition(_MARK)
        if not mark:
            raise RuntimeError("link_password.html has no csrf_token()")
        return head.encode(), tail.encode()

    def render(self, what: str, nonce: str | None, error: str | None = None) -> tuple[bytes, str | None]:
        """The page's body for the browser whose cookie holds ``nonce``, and the ``Set-Cookie`` value to send
        when it holds none (a fresh nonce)."""
        cookie = None
        if not form_nonce_valid(nonce):
            nonce = form_nonce()
            cookie = FORM_COOKIE + "=" + nonce + self.cookie_tail
        head, tail = self.parts[what] if error is None else self._render(what, error)
        return head + form_token(self.secret, str(nonce)).encode() + tail, cookie


def password_pages(app: Any) -> PasswordPages:
    """The app's ``PasswordPages`` (made on first use)."""
    pages = app.extensions.get(_PAGES_KEY)
    if pages is None:
        pages = app.extensions[_PAGES_KEY] = PasswordPages(app)
    return pages


def password_page(code: str, what: str, status: int = 200, error: str | None = None,
                  retry_after: int | None = None) -> Response:
    """The password form of a protected link or file (never cached; POSTs to the same URL)."""
    if status == 200:
        note_error("password_required")  # the redirect outcome "password", "error=password_required" in the log
    body, cookie = password_pages(current_app).render(what, request.cookies.get(FORM_COOKIE), error)
    response = Response(body, status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"  # the form's token is the cookie's
    if cookie:
        response.headers["Set-Cookie"] = cookie
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def require_form_token() -> None:
    """The CSRF check of a password POST: its ``csrf_token`` field must be the token of its cookie's nonce.

    Raises:
        CSRFError (400), as Flask-WTF's check does.
    """
    if not form_token_valid(runtime().settings.core.secret, request.cookies.get(FORM_COOKIE),
                            request.form.get("csrf_token")):
        raise CSRFError("The CSRF token is missing or invalid.")
