"""Anonymous visitors: redirects, file serving, password pages, QR codes, Dynamic Links.

Every route here is public by design: what guards it (an unguessable name, a password, a signature)
is declared with it, and listed in the route table.
"""

from __future__ import annotations

from flask import Blueprint

from zipshort.auth import public_route
from zipshort.config import Settings
from zipshort.destinations import DYNAMIC_ROUTE
from zipshort.public import files, links


def make_blueprint(settings: Settings) -> Blueprint:
    """The public routes, mounted where the settings say (urls.route …)."""
    bp = Blueprint("public", __name__)
    route = settings.urls.route
    public_route("the link's password page when it has one")(links.follow_link)
    public_route("the link's password; rate limited")(links.unlock_link)
    public_route("the file's password page when it has one")(files.serve_file)
    public_route("the file's password; rate limited")(files.unlock_file)
    public_route("links without a password")(links.link_qr)
    public_route("the owner's HMAC signature of the destination")(links.dynamic_link)
    public_route("counts a view of a live link; the same GIF whatever the code")(links.track_link)
    public_route("lists only the codes of links marked crawlable")(links.robots_txt)
    public_route("redirect to /raw")(files.raw_redirect)
    public_route("the file's password when it has one")(files.view_file)
    bp.add_url_rule(f"{route}/<code>", "follow_link", links.follow_link, methods=["GET", "HEAD"])
    bp.add_url_rule(f"{route}/<code>", "unlock_link", links.unlock_link, methods=["POST"])
    bp.add_url_rule(f"{route}/<code>/track", "track_link", links.track_link, methods=["GET", "HEAD"])
    bp.add_url_rule("/robots.txt", "robots_txt", links.robots_txt, methods=["GET", "HEAD"])
    for prefix, endpoint in ((settings.files.route, "file"), ("/raw", "raw")):
        bp.add_url_rule(f"{prefix}/<name>", f"serve_{endpoint}", files.serve_file, methods=["GET", "HEAD"])
        bp.add_url_rule(f"{prefix}/<name>", f"unlock_{endpoint}", files.unlock_file, methods=["POST"])
    bp.add_url_rule("/qr/<code>.<fmt>", "link_qr", links.link_qr, methods=["GET", "HEAD"])
    bp.add_url_rule(f"{DYNAMIC_ROUTE}/<user_id>/<signature>", "dynamic_link", links.dynamic_link,
                    methods=["GET", "HEAD"])
    bp.add_url_rule("/r/<name>", "raw_redirect", files.raw_redirect, methods=["GET", "HEAD"])
    bp.add_url_rule("/view/<name>", "view_file", files.view_file, methods=["GET", "HEAD"])
    if settings.files.content_domain:
        bp.before_request(files.require_content_domain)
    return bp
