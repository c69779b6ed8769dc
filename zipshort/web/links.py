"""The links page: create, list (paged, searchable), edit, enable/disable, delete, copy and a QR code each."""

from __future__ import annotations

import io
import math

import segno
from flask import Response, g, render_template, request

from zipshort.errors import ValidationError
from zipshort.models import utcnow
from zipshort.services import links
from zipshort.services.uploads import parse_expiry
from zipshort.web import bp
from zipshort.web.common import action, base_url, checked, done, optional_int, page, rt, text

PER_PAGE = 25


def short_url(link) -> str:
    """The link's public address on this server."""
    return f"{base_url()}{rt().settings.urls.route}/{link.slug}"


def _expiry(value: str):
    return parse_expiry(value, utcnow()) if value else None


@bp.get("/dashboard/urls")
@page()
def urls_page():
    try:
        page_no = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page_no = 1
    q = request.args.get("q", "")[:200]
    field = request.args.get("field") if request.args.get("field") in links.SEARCH_FIELDS else "destination"
    try:
        rows, total = links.page_links(g.user, page_no, PER_PAGE, field if q else None, q or None)
    except ValidationError:
        rows, total = [], 0
    return render_template("urls.html", rows=rows, total=total, page=page_no,
                           pages=max(1, math.ceil(total / PER_PAGE)), q=q, field=field, short_url=short_url,
                           search_fields=links.SEARCH_FIELDS)


@bp.post("/dashboard/urls")
@page()
@action("/dashboard/urls")
def url_create():
    spec = links.NewLink(destination=text("destination"), vanity=text("vanity") or None,
                         enabled=checked("enabled"), max_views=optional_int("max_views", "Max views"),
                         password=text("password") or None, title=text("title") or None,
                         expires_at=_expiry(text("expires")))
    link = links.create_link(rt(), g.user, spec)
    return done(f"Created {short_url(link)}", "/dashboard/urls")


@bp.get("/dashboard/urls/<link_id>/edit")
@page()
def url_edit_page(link_id: str):
    return render_template("url_edit.html", link=links.get_owned_link(g.user, link_id), short_url=short_url)


@bp.post("/dashboard/urls/<link_id>")
@page()
@action("/dashboard/urls")
def url_update(link_id: str):
    changes = links.LinkChanges(destination=text("destination"), vanity=text("vanity") or None,
                                enabled=checked("enabled"), max_views=optional_int("max_views", "Max views"),
                                title=text("title") or None,
                                **({"password": None} if checked("clear_password") else
                                   {"password": text("password")} if text("password") else {}))
    link = links.update_link(rt(), g.user, link_id, changes)
    return done(f"Saved {short_url(link)}", "/dashboard/urls")


@bp.post("/dashboard/urls/<link_id>/toggle")
@page()
@action("/dashboard/urls")
def url_toggle(link_id: str):
    link = links.get_owned_link(g.user, link_id)
    link = links.update_link(rt(), g.user, link_id, links.LinkChanges(enabled=not link.enabled))
    return done(f"{'Enabled' if link.enabled else 'Disabled'} {short_url(link)}", "/dashboard/urls")


@bp.post("/dashboard/urls/<link_id>/delete")
@page()
@action("/dashboard/urls")
def url_delete(link_id: str):
    link = links.delete_link(rt(), g.user, link_id)
    return done(f"Deleted {short_url(link)}", "/dashboard/urls")


@bp.get("/dashboard/urls/<link_id>/qr.<fmt>")
@page()
def url_qr(link_id: str, fmt: str):
    if fmt not in ("svg", "png"):
        raise ValidationError("QR codes come as svg or png", code="invalid_format")
    link = links.get_owned_link(g.user, link_id)
    qr = segno.make(short_url(link), error="m")
    out = io.BytesIO()
    qr.save(out, kind=fmt, scale=8 if fmt == "png" else 6, border=2)
    response = Response(out.getvalue(), mimetype="image/svg+xml" if fmt == "svg" else "image/png")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{link.slug}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-cache"
    return response
