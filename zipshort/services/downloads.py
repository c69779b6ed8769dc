"""Downloads: resolve a file name, apply expiry, view limits and passwords, count the view atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Mapping

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from zipshort.codes import url_segment
from zipshort.config import Settings
from zipshort.counters import CachedLink
from zipshort.database import as_utc, hot_statement
from zipshort.errors import Forbidden, Gone, NotFound, PasswordRequired
from zipshort.events import Facts, FileViewed, current_request_id, no_facts
from zipshort.extensions import db
from zipshort.models import File, utcnow
from zipshort.runtime import Runtime
from zipshort.security import grant_valid, sign_grant
from zipshort.services.files import AVAILABLE_SQL as _AVAILABLE_SQL
from zipshort.services.files import LIVE_SQL as _LIVE_SQL
from zipshort.services.files import MAX_PASSWORD_LENGTH, is_live
from zipshort.services.linkstate import in_window
from zipshort.services.thumbnails import stored_thumbnail
from zipshort.services.ziplineobjects import template_metrics, template_values
from zipshort.templatevars import render

_SERVE_SQL = f"""UPDATE files SET views = views + 1
WHERE name = :name AND password_hash IS NULL AND {_LIVE_SQL}
RETURNING storage_key, type, size, sha256, original_name, max_views, updated_at, id"""
_SERVE_UNLOCKED_SQL = f"""UPDATE files SET views = views + 1
WHERE name = :name AND password_hash = :pw_hash AND {_LIVE_SQL}
RETURNING storage_key, type, size, sha256, original_name, max_views, updated_at, id"""
_PEEK_SQL = f"""SELECT storage_key, type, size, sha256, original_name, max_views, updated_at, password_hash, id,
expires_at FROM files WHERE name = :name AND {_LIVE_SQL}"""
# The /view page's one read: the file and its owner's embed and view settings
_PREVIEW_SQL = f"""SELECT storage_key, type, size, sha256, original_name, max_views, updated_at, password_hash, id,
(SELECT view FROM users WHERE users.id = files.user_id) FROM files WHERE name = :name AND {_LIVE_SQL}"""


@dataclass(frozen=True)
class Serving:
    """What to send for one counted (or, for HEAD, peeked) view."""

    storage_key: str
    type: str
    size: int
    sha256: str
    original_name: str | None
    limited: bool
    protected: bool
    updated_at: object
    file_id: str = ""  # the row's id, when the statement that found it returned it


def _serving(row: tuple[Any, ...], protected: bool, file_id: str = "") -> Serving:
    return Serving(storage_key=row[0], type=row[1], size=row[2], sha256=row[3], original_name=row[4],
                   limited=row[5] is not None, protected=protected, updated_at=row[6], file_id=file_id)


# A used-up limited file, for a viewer holding the grant of the view that used it up (seeking goes on).
_PEEK_FOR_GRANT_SQL = f"""SELECT storage_key, type, size, sha256, original_name, max_views, updated_at
FROM files WHERE name = :name AND password_hash IS NULL AND max_views IS NOT NULL AND {_AVAILABLE_SQL}"""


def _gone(rt: Runtime) -> Gone:
    return Gone("This file is no longer available", status=rt.settings.urls.gone_status)


def _check_name(name: str) -> None:
    if not name or "\x00" in name or len(name) > 255:
        raise NotFound("File not found", code="file_not_found")


def find_file(rt: Runtime, name: str, now: dt.datetime | None = None) -> Serving:
    """The live, unprotected file ``name``, without counting a view (see :func:`is_view`).

    Raises:
        NotFound, Gone (expired, used up, owner disabled), PasswordRequired.
    """
    _check_name(name)
    now = now or utcnow()
    protected_file(rt, name, now)
    peek = hot_statement(db.engine, _PEEK_SQL, {"name": name, "now": now}, write=False)
    if peek is None:
        exists_ = db.session.scalar(select(File.id).where(File.name == name))
        db.session.rollback()
        raise NotFound("File not found", code="file_not_found") if exists_ is None else _gone(rt)
    if peek[7] is not None:
        if peek[5] is None:  # no view limit: live until it expires, so its page needs no SQL while remembered
            rt.protected_files.put(name, "", CachedLink(peek[8], "", as_utc(peek[9]), False, protected=True))
        raise PasswordRequired(code="password_required")
    return _serving(peek, False, peek[8])


def protected_file(rt: Runtime, name: str, now: dt.datetime | None = None) -> None:
    """Raise PasswordRequired when ``name`` was recently found protected and is still within its expiry (no SQL;
    what the redirect lane asks before it answers a file's password page; a file change clears the cache).

    Raises:
        PasswordRequired.
    """
    cached = rt.protected_files.get(name, "")
    if cached is not None and in_window(None, cached.expires_at, now or utcnow()):
        raise PasswordRequired(code="password_required")


def count_view(rt: Runtime, name: str, now: dt.datetime | None = None, facts: Facts = no_facts,
               found: Serving | None = None) -> Serving:
    """Count one view of the unprotected file ``name``: one conditional UPDATE against its limit, or, with batched
    views (``urls.view_flush_seconds`` > 0) and no limit, the view added to ``rt.file_views`` after a read (none
    when ``found`` is what this request's :func:`find_file` or :func:`preview` just read of it: no limit, no
    password).

    Raises:
        Gone: no longer live (used up by a concurrent request, expired, deleted or protected since).
    """
    _check_name(name)
    now = now or utcnow()
    if rt.settings.urls.view_flush_seconds > 0 and found is not None and found.file_id:  # read by this request
        if not found.limited and not found.protected:
            rt.file_views.add(found.file_id)
            _viewed(rt, found.file_id, name, facts)
            return found
    elif rt.settings.urls.view_flush_seconds > 0:  # views are batched: a file without limit or password only reads
        peek = hot_statement(db.engine, _PEEK_SQL, {"name": name, "now": now}, write=False)
        if peek is not None and peek[5] is None and peek[7] is None:
            rt.file_views.add(peek[8])
            _viewed(rt, peek[8], name, facts)
            return _serving(peek, False, peek[8])
    row = hot_statement(db.engine, _SERVE_SQL, {"name": name, "now": now}, write=True)
    if row is None:
        raise _gone(rt)
    _viewed(rt, row[7], name, facts)
    return _serving(row, False, row[7])


def _viewed(rt: Runtime, file_id: str, name: str, facts: Facts) -> None:
    """Publish a counted view from what the counting statement returned (no further query)."""
    if rt.events.wants(FileViewed):
        visitor = facts()
        rt.events.publish(FileViewed(file_id=file_id, filename=name, host=visitor.hostname,
                                     visitor=visitor, request_id=current_request_id()))


def is_view(method: str, first_byte: int | None, serving: Serving | None = None, granted: bool = False) -> bool:
    """Whether a request spends a view: a GET whose answer sends the file's first byte.

    HEAD, conditional answers (304) and unsatisfiable ranges (416) send nothing and never count. A viewer
    who spent a view of a limited file holds its grant (:func:`view_grant`) and spends nothing more while
    it lasts (a video player seeking, or starting over). Without a grant a range that starts mid-file of a
    limited file counts like a whole download, so ``Range: bytes=1-`` cannot read it for free; ranges of
    files without a limit count only from byte 0.
    """
    if method not in ("GET", "POST") or first_byte is None or granted:
        return False
    return first_byte == 0 or (serving is not None and serving.limited)


def find_for_grant(rt: Runtime, name: str, cookies: Mapping[str, str], now: dt.datetime | None = None) -> Serving:
    """A limited file whose views are used up, for the viewer whose grant says they spent one of them.

    Raises:
        Gone: no such file, or no live grant for it in ``cookies``.
    """
    if not any(key.startswith(GRANT_PREFIX) for key in cookies):
        raise _gone(rt)
    row = hot_statement(db.engine, _PEEK_FOR_GRANT_SQL, {"name": name, "now": now or utcnow()}, write=False)
    serving = _serving(row, False) if row is not None else None
    if serving is None or not holds_grant(rt, serving, cookies):
        raise _gone(rt)
    return serving


VIEW_GRANT_SECONDS = 6 * 3600  # how long seeking within a limited file stays free after its counted view


def view_grant(rt: Runtime, serving: Serving, now: float | None = None) -> tuple[str, str, int]:
    """(cookie name, value, max-age) of the grant a counted view of a limited file hands its viewer."""
    expires = int(now if now is not None else time.time()) + VIEW_GRANT_SECONDS
    return _grant_name(serving), sign_grant(rt.settings.core.secret, serving.storage_key, expires), VIEW_GRANT_SECONDS


def holds_grant(rt: Runtime, serving: Serving, cookies: Mapping[str, str], now: float | None = None) -> bool:
    """Whether the request carries a live view grant for this file."""
    token = cookies.get(_grant_name(serving))
    return token is not None and grant_valid(rt.settings.core.secret, serving.storage_key, token,
                                             int(now if now is not None else time.time()))


GRANT_PREFIX = "zsv-"


def _grant_name(serving: Serving) -> str:
    return GRANT_PREFIX + hashlib.sha256(serving.storage_key.encode()).hexdigest()[:16]


def unlock_file(rt: Runtime, name: str, password: object, client: str, now: dt.datetime | None = None,
                facts: Facts = no_facts) -> Serving:
    """Check a protected file's password (rate limited per file and client) and count the view.

    Raises:
        NotFound, Gone, RateLimited, Forbidden.
    """
    now = now or utcnow()
    _check_name(name)
    peek = hot_statement(db.engine, _PEEK_SQL, {"name": name, "now": now}, write=False)
    if peek is None or peek[7] is None:
        raise NotFound("File not found", code="file_not_found")
    rt.limiter.hit(rt.settings.ratelimit.link_password, "file-password", peek[8], client,
                   message="Too many password attempts, try again later")
    if not isinstance(password, str) or not rt.passwords.verify(peek[7], password[:MAX_PASSWORD_LENGTH]):
        raise Forbidden("Incorrect password", code="wrong_password")
    row = hot_statement(db.engine, _SERVE_UNLOCKED_SQL, {"name": name, "pw_hash": peek[7], "now": now}, write=True)
    if row is None:
        raise _gone(rt)
    _viewed(rt, row[7], name, facts)
    return _serving(row, True)


TEXT_PREVIEW_BYTES = 512 * 1024


@dataclass(frozen=True)
class Preview:
    """What the /view page shows: the file's metadata and the owner's embed settings."""

    name: str
    original_name: str | None
    type: str
    size: int
    storage_key: str
    protected: bool
    limited: bool
    embed: dict[str, str]  # the owner's embed settings, template variables rendered (plain text)
    content: str = ""  # the owner's view content, rendered (plain text; the page escapes it)
    serving: Serving | None = None  # what the read found, for count_view(found=…) (None when protected)


EMBED_TEMPLATES = ("embedTitle", "embedDescription", "embedSiteName")  # templated; embedColor is a colour
PREVIEW_TEXT_LIMIT = 2000  # characters of one rendered embed value or view content


def preview(name: str, now: dt.datetime | None = None, *, origin: str = "",
            settings: Settings | None = None) -> Preview:
    """Look a live file up for its preview page, without counting a view (the bytes' fetch counts).

    The owner's embed title, description and site name and their view content have Zipline's template
    variables rendered (``{file.name}``, ``{user.username}``, …); ``origin`` (``<scheme>://<host>``) and
    ``settings.files.route`` make ``{link.returned}`` and ``{link.raw}``. The server's counts
    (``{metricsZipline.*}``) are there only when the instance metrics are public (``features.metrics_enabled``
    and not ``metrics_admin_only``): the page is public.

    Raises:
        NotFound, Gone.
    """
    now = now or utcnow()
    _check_name(name)
    peek = hot_statement(db.engine, _PREVIEW_SQL, {"name": name, "now": now}, write=False)
    if peek is None:
        raise NotFound("File not found", code="file_not_found")
    if peek[7] is not None:  # its password page: nothing more to read
        return Preview(name=name, original_name=peek[4], type=peek[1], size=peek[2], storage_key=peek[0],
                       protected=True, limited=peek[5] is not None, embed={})
    owner_view = _json_object(peek[9])
    embed: dict[str, str] = {}
    content = ""
    # Only an owner's templated embed or view content needs the rows as objects (one more query, owner joined)
    row = db.session.get(File, peek[8], options=[joinedload(File.user)]) \
        if owner_view.get("embed") or owner_view.get("enabled") else None
    if row is not None:
        segment, route = url_segment(row.name), settings.files.route if settings else "/u"
        public = settings is not None and settings.features.metrics_enabled and not settings.features.metrics_admin_only
        urls = {"returned": f"{origin}{route}/{segment}", "raw": f"{origin}/raw/{segment}"}
        values = template_values(user=row.user, file=row, files_route=route, metrics=template_metrics, urls=urls,
                                 server_metrics=public)
        if owner_view.get("embed"):
            embed = {k: render(str(owner_view[k]), values, limit=PREVIEW_TEXT_LIMIT) for k in EMBED_TEMPLATES
                     if owner_view.get(k)}
            if owner_view.get("embedColor"):
                embed["embedColor"] = str(owner_view["embedColor"])
        if owner_view.get("enabled") and owner_view.get("content"):
            content = render(str(owner_view["content"]), values, limit=PREVIEW_TEXT_LIMIT)
        db.session.rollback()
    return Preview(name=name, original_name=peek[4], type=peek[1], size=peek[2], storage_key=peek[0],
                   protected=False, limited=peek[5] is not None, embed=embed, content=content,
                   serving=_serving(peek, False, peek[8]))


def _json_object(value: object) -> dict[str, Any]:
    """A JSON column as the driver returns it (SQLite: text; PostgreSQL: parsed), as a dict ({} for anything else)."""
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Thumbnail:
    """A thumbnail to send: its file on this machine (``path``), or its bytes (``data``, S3)."""

    path: Path | None
    data: bytes | None


def thumbnail(rt: Runtime, file_id: str, now: dt.datetime | None = None) -> Thumbnail:
    """The thumbnail of a live, unprotected file (no view is counted).

    Raises:
        NotFound: no such file, no thumbnail, or the file is protected, expired or used up;
        BlobMissing (404) when storage lost the thumbnail.
    """
    now = now or utcnow()
    row = db.session.get(File, file_id) if file_id and file_id.replace("-", "").isalnum() else None
    key = stored_thumbnail(row.thumbnail_key) if row is not None else None
    if row is None or row.password_hash is not None or key is None or not is_live(row, now):
        raise NotFound("Thumbnail not found", code="thumbnail_not_found")
    path = rt.storage.local_path(key)
    if path is not None:
        return Thumbnail(path=path, data=None)
    with rt.storage.open(key) as fh:
        return Thumbnail(path=None, data=fh.read())


# --- the bytes ------------------------------------------------------------------------------------------
# Faces never reach into storage: these hand them what to send.

def local_file(rt: Runtime, serving: Serving) -> Path | None:
    """The file's blob on this machine (sendfile, offload), or None when it must be streamed (S3)."""
    return rt.storage.local_path(serving.storage_key)


def open_blob(rt: Runtime, serving: Serving, window: tuple[int, int] | None = None) -> BinaryIO:
    """The file's bytes (``window``: first and last byte, inclusive), for streaming."""
    if window is None:
        return rt.storage.open(serving.storage_key)
    return rt.storage.open(serving.storage_key, window)  # type: ignore[call-arg]  # S3 reads ranges


def text_preview(rt: Runtime, serving: Serving) -> tuple[str, bool]:
    """The start of a text file for its /view page (at most TEXT_PREVIEW_BYTES) and whether it was cut."""
    with rt.storage.open(serving.storage_key) as fh:
        raw = fh.read(TEXT_PREVIEW_BYTES + 1)
    return raw[:TEXT_PREVIEW_BYTES].decode("utf-8", errors="replace"), len(raw) > TEXT_PREVIEW_BYTES
