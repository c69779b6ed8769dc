"""GET <urls.route>/<code>: a redirect to the destination (``urls.redirect_status``), counting one view; the
password page and its POST; the tracking pixel ``<urls.route>/<code>/track``; ``/robots.txt``."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote, urlsplit

from flask import Response, render_template, request
from werkzeug.urls import iri_to_uri

from zipshort.auth import client_address
from zipshort.errors import Forbidden, NotFound, PasswordRequired, RateLimited
from zipshort.http import redirect_answer, runtime, visit_facts
from zipshort.public.pages import password_page, require_form_token
from zipshort.services import dynamic, linkqueries, qrcodes, redirects
from zipshort.urls import link_url, public_url


def _answer(result: redirects.Followed, head: bool = False) -> Response:
    """The response for a followed link: a bare redirect, or for smart links what services/smart.py decided."""
    decision = result.decision
    if decision is None:
        return _redirect(result.destination, result, head)
    if decision.kind == "redirect" or head:
        return _redirect(decision.location, result, head)
    parts = urlsplit(decision.location)
    template = "link_preview.html" if decision.kind == "preview" else "link_frame.html"
    if decision.image and decision.image.startswith("/"):  # an uploaded image: previews need an absolute URL
        decision = dataclasses.replace(decision, image=public_url(runtime().settings, decision.image))
    response = Response(render_template(template, decision=decision), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    if decision.kind == "frame":  # the one page that may frame another origin: the destination's
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'self'; frame-src {parts.scheme}://{parts.netloc}; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")
    return response


def _redirect(location: str, result: redirects.Followed, head: bool = False) -> Response:
    """A bare redirect (``urls.redirect_status``): Location only, no HTML body (browsers and clients never show it)."""
    response = redirect_answer(runtime().settings, location, no_store=result.limited or result.protected,
                               varies=result.decision is not None)
    if head and (result.limited or result.protected):
        del response.headers["Location"]  # HEAD does not count, so it does not reveal a limited destination
    return response


def follow_link(code: str):
    head = request.method == "HEAD"
    try:
        result = redirects.follow(runtime(), code, request.host, count=not head, facts=visit_facts,
                                  query=request.query_string)
    except PasswordRequired:
        return password_page(code, "link")
    return _answer(result, head)


def unlock_link(code: str):
    require_form_token()
    try:
        result = redirects.unlock(runtime(), code, request.host, request.form.get("password", ""), client_address(),
                                  facts=visit_facts, query=request.query_string)
    except Forbidden:
        return password_page(code, "link", 403, "Incorrect password")
    except RateLimited as exc:
        return password_page(code, "link", 429, exc.message, exc.retry_after)
    return _answer(result)


def dynamic_link(user_id: str, signature: str):
    """A hozip Dynamic Link: verified by its signature, nothing stored, nothing counted."""
    location = dynamic.resolve(user_id, signature, request.args.get("u"))
    return Response(status=302, headers={"Location": location if location.isascii() else iri_to_uri(location),
                                         "Referrer-Policy": "no-referrer"})


def link_qr(code: str, fmt: str):
    """The QR code of a link (public: it only encodes the short URL), drawn with the link's QR options."""
    if fmt not in ("svg", "png"):
        raise NotFound("Not found", code="not_found")
    link = qrcodes.find(code, request.host)
    settings = runtime().settings
    url = link_url(settings, link, link.domain or None)
    body = qrcodes.link_qr(runtime(), link, url, fmt)
    response = Response(body, mimetype="image/svg+xml" if fmt == "svg" else "image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response


# A transparent 1x1 GIF (43 bytes), the answer of every tracking pixel.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def track_link(code: str):
    """Shlink's tracking pixel: always 200 with a 1x1 GIF; a GET of a live link's pixel counts one view (sent
    nowhere); an unknown or dead code is not an orphan visit, and nothing ever redirects."""
    if request.method == "GET":
        redirects.track(runtime(), code, request.host, facts=visit_facts)
    response = Response(PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store"
    return response


def robots_txt():
    """/robots.txt, as Shlink writes it: two comment lines, one ``User-agent`` line per ``urls.robots_user_agents``,
    then ``Allow`` for each crawlable link (``$``: that link only, not every code it begins) and ``Disallow`` for
    the link route; with ``urls.robots_allow_all``, only the APIs are disallowed."""
    urls = runtime().settings.urls
    lines = ["# For more information about the robots.txt standard, see:", "# https://www.robotstxt.org/orig.html", ""]
    lines += [f"User-agent: {agent}" for agent in urls.robots_user_agents]
    if urls.robots_allow_all:
        lines += ["Disallow: /api/", "Disallow: /rest/"]
    else:
        lines += [f"Allow: {urls.route}/{quote(slug)}$" for slug in linkqueries.crawlable_slugs()]
        lines.append(f"Disallow: {urls.route}/")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")
