"""The links page: create, list (paged, searchable), edit, enable/disable, delete, copy and a QR code each."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Response, g, render_template, request

from zipshort.dates import bounded, parse_expiry
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.inputs import parse_field
from zipshort.models import utcnow
from zipshort.services import domains, links, qrcodes
from zipshort.urls import link_url, public_url
from zipshort.web import bp
from zipshort.web.common import Typed, action, checked, done, optional_int, page, text, typed

PER_PAGE = 25


def short_url(link) -> str:
    """The link's public address (on its custom domain when it has one)."""
    settings = runtime().settings
    return link_url(settings, link, link.domain or settings.core.default_domain or None)


NAMES = links.FieldNames(title="Title", description="Description", tags="Tags")


def _extras(link=None) -> dict[str, Any]:
    """The "More" fields of the link forms, for the service to validate like the APIs' (the stored preview image
    stays when it is an uploaded one and no URL was typed; so does the QR logo)."""
    utm = {key: text(f"utm_{key}") for key in ("source", "medium", "campaign", "term", "content") if text(f"utm_{key}")}
    options = dict(((link.qr_options or {}).get("options") or {}) if link else {})
    dark, light = text("qr_dark") or "#000000", text("qr_light") or "#ffffff"
    if options or (dark.lower(), light.lower()) != ("#000000", "#ffffff"):
        options["dotsOptions"] = {**(options.get("dotsOptions") or {}), "color": dark}
        options["backgroundOptions"] = {**(options.get("backgroundOptions") or {}), "color": light}
    rules_text = text("rules")
    out = {
        "tags": [t.strip() for t in text("tags").split(",") if t.strip()],
        "description": text("description") or None,
        "utm": utm or None,
        "qr_options": {"options": options, "imageId": (link.qr_options or {}).get("imageId") if link else None}
        if options else None,
        "rules": parse_field(rules_text, "rules") if rules_text else None,
        "cloaking": checked("cloaking"),
        "deep_linking": checked("deep_linking"),
        "forward_query": checked("forward_query"),
        "crawlable": checked("crawlable"),
        "valid_since": _utc_field("valid_since", "Live from"),
    }
    if text("image") or not (link and (link.image or "").startswith("file:")):
        out["image"] = text("image") or None
    return out


MORE_FIELDS = ("domain", "tags", "expires_at", "valid_since", "description", "image", "utm_source", "utm_medium",
               "utm_campaign", "utm_term", "utm_content", "cloaking", "deep_linking", "forward_query", "crawlable",
               "rules")


def _more_open(t: Typed, link=None) -> bool:
    """Open the form's "More" section when it holds something (typed into a refused form, or stored)."""
    if t.refused:
        colours = (str(t.value("qr_dark")).lower(), str(t.value("qr_light")).lower())
        return t.filled(*MORE_FIELDS) or colours not in (("#000000", "#ffffff"), ("", ""))
    return bool(link and (link.tags or link.utm or link.rules or link.description or link.image or link.qr_options
                          or link.cloaking or link.deep_linking or link.valid_since or link.forward_query
                          or link.crawlable))


def _utc_field(name: str, label: str) -> dt.datetime | None:
    """A ``datetime-local`` field read as UTC (None when empty)."""
    value = text(name)
    if not value:
        return None
    try:
        return bounded(dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc), name, label)
    except ValueError:
        raise ValidationError(f"{label} must be a date and time", field=name) from None


def _expires_at() -> dt.datetime | None:
    return _utc_field("expires_at", "Expiry")


def _expiry(value: str):
    return parse_expiry(value, utcnow(), "expires") if value else None


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
    link_domains = list(runtime().settings.allowed_domains) + [d.hostname for d in domains.list_custom(g.user)
                                                          if d.verified]
    now = utcnow()
    states = {link.id: links.link_state(link, now, g.user.disabled) for link in rows}
    t = typed("/dashboard/urls")
    return render_template("urls.html", rows=rows, states=states, total=total, page=page_no,
                           pages=max(1, math.ceil(total / PER_PAGE)), q=q, field=field, short_url=short_url,
                           search_fields=links.SEARCH_FIELDS, link_domains=link_domains, t=t, more_open=_more_open(t))


@bp.post("/dashboard/urls")
@page()
@action("/dashboard/urls")
def url_create():
    spec = links.NewLink(destination=text("destination"), vanity=text("vanity") or None,
                         enabled=checked("enabled"), max_views=optional_int("max_views", "Max views"),
                         password=text("password") or None, title=text("title") or None,
                         expires_at=_expiry(text("expires")), domain=text("domain").lower(), **_extras())
    rt = runtime()
    link = links.create_link(rt, g.user, spec, host=request.host, names=NAMES, origin=public_url(rt.settings))
    return done(f"Created {short_url(link)}", "/dashboard/urls")


@bp.get("/dashboard/urls/<link_id>/edit")
@page()
def url_edit_page(link_id: str):
    link, t = links.get_owned_link(g.user, link_id), typed(f"/dashboard/urls/{link_id}")
    return render_template("url_edit.html", link=link, short_url=short_url, t=t, more_open=_more_open(t, link))


@bp.post("/dashboard/urls/<link_id>")
@page()
@action("/dashboard/urls/{link_id}/edit")
def url_update(link_id: str):
    link = links.get_owned_link(g.user, link_id)
    changes = links.LinkChanges(destination=text("destination"), vanity=text("vanity") or None,
                                enabled=checked("enabled"), max_views=optional_int("max_views", "Max views"),
                                title=text("title") or None, expires_at=_expires_at(), **_extras(link),
                                **({"password": None} if checked("clear_password") else
                                   {"password": text("password")} if text("password") else {}))
    link = links.update_link(runtime(), g.user, link_id, changes, host=request.host, names=NAMES)
    return done(f"Saved {short_url(link)}", "/dashboard/urls")


@bp.post("/dashboard/urls/<link_id>/toggle")
@page()
@action("/dashboard/urls")
def url_toggle(link_id: str):
    link = links.get_owned_link(g.user, link_id)
    link = links.update_link(runtime(), g.user, link_id, links.LinkChanges(enabled=not link.enabled))
    return done(f"{'Enabled' if link.enabled else 'Disabled'} {short_url(link)}", "/dashboard/urls")


@bp.post("/dashboard/urls/<link_id>/delete")
@page()
@action("/dashboard/urls")
def url_delete(link_id: str):
    link = links.delete_link(runtime(), g.user, link_id)
    return done(f"Deleted {short_url(link)}", "/dashboard/urls")


@bp.get("/dashboard/urls/<link_id>/qr.<fmt>")
@page()
def url_qr(link_id: str, fmt: str):
    if fmt not in ("svg", "png"):
        raise ValidationError("QR codes come as svg or png", code="invalid_format")
    link = links.get_owned_link(g.user, link_id)
    body = qrcodes.link_qr(runtime(), link, short_url(link), fmt)
    response = Response(body, mimetype="image/svg+xml" if fmt == "svg" else "image/png")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{link.slug}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-cache"
    return response
