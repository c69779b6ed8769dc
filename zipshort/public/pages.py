"""Pages shared by the public routes."""

from __future__ import annotations

from flask import Response, make_response, render_template

from zipshort.access import note_error


def password_page(code: str, what: str, status: int = 200, error: str | None = None,
                  retry_after: int | None = None) -> Response:
    """The password form of a protected link or file (never cached; POSTs to the same URL)."""
    if status == 200:
        note_error("password_required")  # the redirect outcome "password", "error=password_required" in the log
    response = make_response(render_template("link_password.html", code=code, error=error, what=what), status)
    response.headers["Cache-Control"] = "no-store"
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response
