"""File routes: /u/<name>, /raw/<name> (Range, ?download), /r/<name> → /raw, with the serving policy.

Serving policy (docs/security.md): only passive types are shown inline; HTML, SVG, XML, scripts and
anything unknown are sent as ``application/octet-stream`` attachments; every response carries
``nosniff`` and a sandbox CSP, so nothing uploaded runs on the app's origin.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from urllib.parse import quote

from flask import Response, make_response, redirect, render_template, request, send_file

from zipshort.auth import client_address, runtime
from zipshort.errors import Forbidden, PasswordRequired, RateLimited
from zipshort.extensions import csrf
from zipshort.public.pages import password_page
from zipshort.services import downloads

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
    """(Content-Type to send, inline?) for a stored type and name; unknown or active types are attachments."""
    guessed = mimetypes.guess_type(name)[0]
    if declared in INLINE_TYPES and guessed == declared:
        return declared, True
    if declared.startswith("text/") and declared not in ACTIVE_TEXT and (guessed or "").startswith("text/") \
            and guessed not in ACTIVE_TEXT:
        return "text/plain; charset=utf-8", True
    return "application/octet-stream", False


def _send(name: str, serving: downloads.Serving, force_download: bool = False) -> Response:
    rt = runtime()
    content_type, inline = serving_type(serving.type, name)
    path = rt.storage.local_path(serving.storage_key)
    offload = rt.settings.files.offload
    if offload and request.method != "HEAD":
        return _offloaded(name, serving, content_type, inline and not force_download, path)
    ranges = not serving.limited  # a limited file is counted per request, so it is always sent whole
    if path is None:
        response = _streamed(serving, content_type, ranges)
        response.headers.set("Content-Disposition", "attachment" if force_download or not inline else "inline",
                             filename=serving.original_name or name)
    else:
        response = send_file(path, mimetype=content_type, as_attachment=force_download or not inline,
                             download_name=serving.original_name or name, conditional=ranges, etag=serving.sha256,
                             last_modified=serving.updated_at if isinstance(serving.updated_at, dt.datetime)
                             else None, max_age=None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-site"
    if serving.limited or serving.protected:
        response.headers["Cache-Control"] = "no-store"
    if not ranges:
        response.headers["Accept-Ranges"] = "none"
    return response


def _streamed(serving: downloads.Serving, content_type: str, ranges: bool) -> Response:
    """Send a blob that is not on this machine (S3): stream it, honouring one Range and If-None-Match."""
    storage = runtime().storage
    size = serving.size
    etag = f'"{serving.sha256}"'
    if ranges and request.if_none_match.contains(serving.sha256):
        response = Response(status=304)
        response.headers["ETag"] = etag
        return response
    byte_range = request.range if ranges else None
    status, window = 200, None
    if byte_range is not None and len(byte_range.ranges) == 1 and byte_range.units == "bytes":
        bounds = byte_range.range_for_length(size)
        if bounds is None:
            response = Response(status=416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        status, window = 206, (bounds[0], bounds[1] - 1)
    length = size if window is None else window[1] - window[0] + 1
    body = storage.open(serving.storage_key, window) if length and request.method != "HEAD" else None
    response = Response(_iterate(body) if body is not None else b"", status=status, mimetype=content_type,
                        direct_passthrough=True)
    response.headers["Content-Length"] = str(length)
    response.headers["ETag"] = etag
    if window is not None:
        response.headers["Content-Range"] = f"bytes {window[0]}-{window[1]}/{size}"
    if ranges:
        response.headers["Accept-Ranges"] = "bytes"
    return response


def _iterate(body, chunk: int = 1024 * 1024):
    try:
        while data := body.read(chunk):
            yield data
    finally:
        body.close()


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
    """/u/<name> and /raw/<name>: count a view and send the bytes under the serving policy."""
    if name.startswith(".thumbnail.") and name.endswith(".jpg"):
        return _thumbnail(name[len(".thumbnail."):-len(".jpg")])
    try:
        serving = downloads.open_file(runtime(), name, count=request.method != "HEAD")
    except PasswordRequired:
        return password_page(name, "file")
    return _send(name, serving, force_download="download" in request.args)


def unlock_file(name: str):
    """POST with the password: the bytes come back in the answer (the password never goes in a URL or cookie)."""
    csrf.protect()
    try:
        serving = downloads.unlock_file(runtime(), name, request.form.get("password", ""), client_address())
    except Forbidden:
        return password_page(name, "file", 403, "Incorrect password")
    except RateLimited as exc:
        return password_page(name, "file", 429, exc.message, exc.retry_after)
    return _send(name, serving, force_download="download" in request.args)


def _thumbnail(file_id: str) -> Response:
    """Zipline's /raw/.thumbnail.<fileId>.jpg: the preview image, never counted as a view."""
    storage = runtime().storage
    key = downloads.thumbnail(file_id)
    path = storage.local_path(key)
    if path is not None:
        response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=3600)
    else:
        with storage.open(key) as fh:
            response = Response(fh.read(), mimetype="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


FILE_ENDPOINTS = frozenset({"public.serve_file", "public.serve_raw", "public.unlock_file", "public.unlock_raw",
                            "public.raw_redirect", "public.view_file"})


def require_content_domain():
    """With files.content_domain set, file routes answer only there; elsewhere they redirect to it."""
    content_domain = runtime().settings.files.content_domain
    if request.endpoint in FILE_ENDPOINTS and request.host.lower() != content_domain:
        proto = "https" if runtime().settings.core.return_https_urls else request.scheme
        query = request.query_string.decode("latin-1")
        target = f"{proto}://{content_domain}{request.path}" + (f"?{query}" if query else "")
        return redirect(target, 307)  # 307 keeps a password POST a POST
    return None


def raw_redirect(name: str):
    """/r/<name>: zipline-cli builds these; 301 to /raw/<name>."""
    return redirect(f"/raw/{name}", 301)


def view_file(name: str):
    """/view/<name>: a preview page with OpenGraph/Discord embed tags (every value escaped by Jinja)."""
    rt = runtime()
    item = downloads.preview(name)
    if item.protected:
        return password_page(name, "file")
    mimetype, inline = serving_type(item.type, name)
    kind = next((k for k in ("image", "video", "audio") if inline and mimetype.startswith(k + "/")), None)
    text, truncated = None, False
    if inline and mimetype.startswith("text/plain"):
        kind = "text"
        serving = downloads.open_file(rt, name)  # showing the text is a view
        with rt.storage.open(serving.storage_key) as fh:
            raw = fh.read(downloads.TEXT_PREVIEW_BYTES + 1)
        truncated = len(raw) > downloads.TEXT_PREVIEW_BYTES
        text = raw[: downloads.TEXT_PREVIEW_BYTES].decode("utf-8", errors="replace")
    proto = "https" if rt.settings.core.return_https_urls else request.scheme
    raw_path = f"/raw/{quote(name)}"
    response = make_response(render_template(
        "file_view.html", title=item.original_name or name, kind=kind, text=text, truncated=truncated,
        mimetype=mimetype, size=item.size, raw_path=raw_path, raw_url=f"{proto}://{request.host}{raw_path}",
        embed=item.embed))
    response.headers["Cache-Control"] = "no-store"
    return response
