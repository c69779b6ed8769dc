"""File routes: /u/<name>, /raw/<name> (Range, ?download), /r/<name> → /raw, with the serving policy.

Serving policy (docs/security.md): only passive types are shown inline; HTML, SVG, XML, scripts and
anything unknown are sent as ``application/octet-stream`` attachments; every response carries
``nosniff`` and a sandbox CSP, so nothing uploaded runs on the app's origin.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
from urllib.parse import quote

from flask import Response, make_response, redirect, render_template, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import FileWrapper

from zipshort.auth import client_address
from zipshort.errors import Forbidden, Gone, PasswordRequired, RateLimited
from zipshort.http import runtime, visit_facts
from zipshort.public.pages import password_page, require_form_token
from zipshort.services import downloads, smart
from zipshort.storage import BlobMissing
from zipshort.urls import public_url

INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav", "audio/webm", "audio/flac", "audio/mp4", "audio/aac",
    "application/pdf",
})
ACTIVE_TEXT = frozenset({"text/html", "text/xml", "text/javascript", "text/ecmascript", "text/xsl", "text/vtt"})
FILE_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; "
            "frame-ancestors 'none'")


def serving_type(declared: str, name: str) -> tuple[str, bool]:
    """(mimetype to send, inline?) for a stored type and name; unknown or active types are attachments.

    The mimetype is bare: the response adds ``; charset=utf-8`` to ``text/*`` exactly once.
    """
    declared = declared.split(";", 1)[0].strip().lower()
    guessed = mimetypes.guess_type(name)[0]
    if declared in INLINE_TYPES and guessed == declared:
        return declared, True
    if declared.startswith("text/") and declared not in ACTIVE_TEXT and (guessed or "").startswith("text/") \
            and guessed not in ACTIVE_TEXT:
        return "text/plain", True
    return "application/octet-stream", False


def _send(name: str, serving: downloads.Serving, force_download: bool = False) -> Response:
    rt = runtime()
    content_type, inline = serving_type(serving.type, name)
    path = downloads.local_file(rt, serving)
    offload = rt.settings.files.offload
    if offload and request.method != "HEAD":
        return _offloaded(name, serving, content_type, inline and not force_download, path)
    if path is None:
        response = _streamed(serving, content_type)
        response.headers.set("Content-Disposition", "attachment" if force_download or not inline else "inline",
                             filename=serving.original_name or name)
    else:
        try:
            response = send_file(path, mimetype=content_type, as_attachment=force_download or not inline,
                                 download_name=serving.original_name or name, conditional=True,
                                 etag=serving.sha256, last_modified=serving.updated_at
                                 if isinstance(serving.updated_at, dt.datetime) else None, max_age=None)
        except RequestedRangeNotSatisfiable:
            response = _unsatisfiable(serving.size)
        except FileNotFoundError:
            raise BlobMissing() from None
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-site"
    if serving.limited or serving.protected:
        response.headers["Cache-Control"] = "no-store"
    return response


def _unsatisfiable(size: int) -> Response:
    """416, naming the size so the client can ask again (RFC 9110 §15.5.17)."""
    response = Response(status=416)
    response.headers["Content-Range"] = f"bytes */{size}"
    return response


def _streamed(serving: downloads.Serving, content_type: str) -> Response:
    """Send a blob that is not on this machine (S3): stream it, honouring one Range and If-None-Match."""
    size = serving.size
    etag = f'"{serving.sha256}"'
    if request.if_none_match.contains(serving.sha256):
        response = Response(status=304)
        response.headers["ETag"] = etag
        return response
    byte_range = request.range if request.method in ("GET", "HEAD") else None
    status, window = 200, None
    if byte_range is not None and len(byte_range.ranges) == 1 and byte_range.units == "bytes":
        bounds = byte_range.range_for_length(size)
        if bounds is None:
            return _unsatisfiable(size)
        status, window = 206, (bounds[0], bounds[1] - 1)
    length = size if window is None else window[1] - window[0] + 1
    body = downloads.open_blob(runtime(), serving, window) if length and request.method != "HEAD" else None
    # FileWrapper (unlike a generator) closes the object's stream even when never iterated (a lost count)
    response = Response(FileWrapper(body, 1024 * 1024) if body is not None else b"", status=status,
                        mimetype=content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(length)
    response.headers["ETag"] = etag
    if window is not None:
        response.headers["Content-Range"] = f"bytes {window[0]}-{window[1]}/{size}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _first_byte(response: Response, size: int) -> int | None:
    """The first byte of the file this answer sends (None: no bytes, as for 304 and 416)."""
    if "X-Accel-Redirect" in response.headers or "X-Sendfile" in response.headers:
        return _first_requested_byte(size)  # the proxy applies the request's Range itself
    if response.status_code == 200:
        return 0
    if response.status_code == 206:
        match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
        return int(match.group(1)) if match else None
    return None


def _first_requested_byte(size: int) -> int | None:
    """Where the request's Range starts (0 without one; None when no range can be served)."""
    if "Range" not in request.headers or request.range is None or request.range.units != "bytes":
        return 0
    starts = [max(size + begin, 0) if begin < 0 else begin for begin, _ in request.range.ranges]
    return min(starts) if starts and min(starts) < size else None


def _offloaded(name: str, serving: downloads.Serving, content_type: str, inline: bool, path) -> Response:
    """An empty answer whose header tells nginx or Apache which file to send (they handle Range)."""
    settings = runtime().settings.files
    response = Response(status=200, mimetype=content_type)
    if settings.offload == "x-accel-redirect":
        response.headers["X-Accel-Redirect"] = settings.offload_prefix.rstrip("/") + "/" + serving.storage_key
    else:
        response.headers["X-Sendfile"] = str(path)
    disposition = "inline" if inline else "attachment"
    response.headers.set("Content-Disposition", disposition, filename=serving.original_name or name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["ETag"] = f'"{serving.sha256}"'
    if serving.limited or serving.protected:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"
    return response


def serve_file(name: str):
    """/u/<name> and /raw/<name>: send the bytes under the serving policy; count a view if they start at byte 0."""
    if name.startswith(".thumbnail.") and name.endswith(".jpg"):
        return _thumbnail(name[len(".thumbnail."):-len(".jpg")])
    rt = runtime()
    try:
        serving = downloads.find_file(rt, name)
    except PasswordRequired:
        return password_page(name, "file")
    except Gone:
        serving = downloads.find_for_grant(rt, name, request.cookies)  # the viewer who used it up goes on
    response = _send(name, serving, force_download="download" in request.args)
    granted = serving.limited and downloads.holds_grant(rt, serving, request.cookies)
    if downloads.is_view(request.method, _first_byte(response, serving.size), serving, granted):
        try:
            # the conditional UPDATE (a lost race sends no byte), or an unlimited file's batched view
            downloads.count_view(rt, name, facts=visit_facts, found=serving)
        except Gone:
            response.close()
            raise
        if serving.limited:  # this viewer may now seek within the file without spending more views
            cookie, value, max_age = downloads.view_grant(rt, serving)
            response.set_cookie(cookie, value, max_age=max_age, path=quote(request.path), httponly=True, samesite="Lax",
                                secure=rt.settings.core.return_https_urls)
    return response


def unlock_file(name: str):
    """POST with the password: the bytes come back in the answer (the password never goes in a URL or cookie)."""
    require_form_token()
    try:
        serving = downloads.unlock_file(runtime(), name, request.form.get("password", ""), client_address(),
                                        facts=visit_facts)
    except Forbidden:
        return password_page(name, "file", 403, "Incorrect password")
    except RateLimited as exc:
        return password_page(name, "file", 429, exc.message, exc.retry_after)
    return _send(name, serving, force_download="download" in request.args)


def _thumbnail(file_id: str) -> Response:
    """Zipline's /raw/.thumbnail.<fileId>.jpg: the preview image, never counted as a view."""
    thumb = downloads.thumbnail(runtime(), file_id)
    if thumb.path is not None:
        try:
            response = send_file(thumb.path, mimetype="image/jpeg", conditional=True, max_age=3600)
        except FileNotFoundError:
            raise BlobMissing() from None
    else:
        response = Response(thumb.data, mimetype="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


FILE_ENDPOINTS = frozenset({"public.serve_file", "public.serve_raw", "public.unlock_file", "public.unlock_raw",
                            "public.raw_redirect", "public.view_file"})


def require_content_domain():
    """With files.content_domain set, file routes answer only there; elsewhere they redirect to it."""
    content_domain = runtime().settings.files.content_domain
    if request.endpoint in FILE_ENDPOINTS and request.host.lower() != content_domain:
        query = request.query_string.decode("latin-1")
        target = public_url(runtime().settings, request.path + (f"?{query}" if query else ""), content_domain)
        return redirect(target, 307)  # 307 keeps a password POST a POST
    return None


def raw_redirect(name: str):
    """/r/<name>: zipline-cli builds these; 301 to /raw/<name>."""
    return redirect(f"/raw/{name}", 301)


def view_file(name: str):
    """/view/<name>: a preview page with OpenGraph/Discord embed tags (every value escaped by Jinja).

    Showing a text file's content is a view; HEAD and link-preview bots get the page without it. For a
    file with a view limit bots get no media tags either, so an embed never spends the owner's views.
    """
    rt = runtime()
    item = downloads.preview(name, origin=public_url(rt.settings), settings=rt.settings)
    if item.protected:
        return password_page(name, "file")
    mimetype, inline = serving_type(item.type, name)
    kind = next((k for k in ("image", "video", "audio") if inline and mimetype.startswith(k + "/")), None)
    bot = smart.is_preview_bot(request.headers.get("User-Agent", ""))
    if bot and item.limited:
        kind = None
    text, truncated = None, False
    if inline and mimetype == "text/plain" and request.method == "GET" and not bot:
        kind = "text"
        text, truncated = downloads.text_preview(rt, downloads.count_view(rt, name, facts=visit_facts,
                                                                           found=item.serving))
    raw_path = f"/raw/{quote(name)}"
    response = make_response(render_template(
        "file_view.html", title=item.original_name or name, kind=kind, text=text, truncated=truncated,
        mimetype=mimetype, size=item.size, raw_path=raw_path, raw_url=public_url(rt.settings, raw_path),
        embed=item.embed, content=item.content))
    response.headers["Cache-Control"] = "no-store"
    return response
