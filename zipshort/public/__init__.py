"""Anonymous visitors: redirects and password pages (files join with the files feature)."""

from __future__ import annotations

from flask import Blueprint

from zipshort.config import Settings
from zipshort.public import links


def make_blueprint(settings: Settings) -> Blueprint:
    """The public routes, mounted where the settings say (urls.route …)."""
    bp = Blueprint("public", __name__)
    route = settings.urls.route
    bp.add_url_rule(f"{route}/<code>", "follow_link", links.follow_link, methods=["GET", "HEAD"])
    bp.add_url_rule(f"{route}/<code>", "unlock_link", links.unlock_link, methods=["POST"])
    return bp
