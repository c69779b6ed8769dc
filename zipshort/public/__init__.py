"""Anonymous visitors: redirects and password pages (files join with the files feature)."""

from __future__ import annotations

from flask import Blueprint

from zipshort.config import Settings
from zipshort.destinations import DYNAMIC_ROUTE
from zipshort.public import files, links


def make_blueprint(settings: Settings) -> Blueprint:
    """The public routes, mounted where the settings say (urls.route …)."""
    bp = Blueprint("public", __name__)
    route = settings.urls.route
    bp.add_url_rule(f"{route}/<code>", "follow_link", links.follow_link, methods=["GET", "HEAD"])
    bp.add_url_rule(f"{route}/<code>", "unlock_link", links.unlock_link, methods=["POST"])
    for prefix, endpoint in ((settings.files.route, "file"), ("/raw", "raw")):
        bp.add_url_rule(f"{prefix}/<name>", f"serve_{endpoint}", files.serve_file, methods=["GET", "HEAD"])
        bp.add_url_rule(f"{prefix}/<name>", f"unlock_{endpoint}", files.unlock_file, methods=["POST"])
    bp.add_url_rule("/qr/<code>.<fmt>", "link_qr", links.link_qr, methods=["GET", "HEAD"])
    bp.add_url_rule(f"{DYNAMIC_ROUTE}/<user_id>/<signature>", "dynamic_link", links.dynamic_link, methods=["GET", "HEAD"])
    bp.add_url_rule("/.well-known/zipshort-domain/<token>", "verify_domain", links.verify_domain, methods=["GET"])
    bp.add_url_rule("/r/<name>", "raw_redirect", files.raw_redirect, methods=["GET", "HEAD"])
    bp.add_url_rule("/view/<name>", "view_file", files.view_file, methods=["GET", "HEAD"])
    if settings.files.content_domain:
        bp.before_request(files.require_content_domain)
    return bp
