"""GET <urls.route>/<code>: 302 to the destination, counting one view; the password page and its POST."""

from __future__ import annotations

from flask import Response, request
from werkzeug.urls import iri_to_uri

from zipshort.auth import client_address, runtime
from zipshort.errors import Forbidden, PasswordRequired, RateLimited
from zipshort.extensions import csrf
from zipshort.public.pages import password_page
from zipshort.services import redirects


def _redirect(result: redirects.Followed, head: bool = False) -> Response:
    """A bare 302: Location only, no HTML body (browsers and clients never show it)."""
    destination = result.destination if result.destination.isascii() else iri_to_uri(result.destination)
    response = Response(status=302, headers={"Location": destination})
    if result.limited or result.protected:
        response.headers["Cache-Control"] = "no-store"
        if head:
            del response.headers["Location"]  # HEAD does not count, so it does not reveal a limited destination
    return response


def follow_link(code: str):
    head = request.method == "HEAD"
    try:
        result = redirects.follow(runtime(), code, request.host, count=not head)
    except PasswordRequired:
        return password_page(code, "link")
    return _redirect(result, head)


def unlock_link(code: str):
    csrf.protect()
    try:
        result = redirects.unlock(runtime(), code, request.host, request.form.get("password", ""), client_address())
    except Forbidden:
        return password_page(code, "link", 403, "Incorrect password")
    except RateLimited as exc:
        return password_page(code, "link", 429, exc.message, exc.retry_after)
    return _redirect(result)
