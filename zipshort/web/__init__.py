"""Pages for people: session login, first-run setup, the dashboard (growing with issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)

from zipshort.web import pages  # noqa: E402,F401  (routes)
