"""File cards for the grids (dashboard, files page, public folders): ready values for the template.

A card shows the JPEG thumbnail only when ``/raw/.thumbnail.<id>.jpg`` will answer (a thumbnail was
made, the file is not protected, expired or used up); every other file, and any thumbnail that fails to
load (static/app.js), shows a placeholder naming the file type. The file itself is never put in an
``<img>``: an SVG or other active content is never rendered on the application's origin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from zipshort.models import File, utcnow
from zipshort.services import files
from zipshort.services.thumbnails import stored_thumbnail

TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-sh")
ARCHIVE_TYPES = ("application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed",
                 "application/vnd.rar", "application/x-rar-compressed", "application/x-bzip2", "application/x-xz")


@dataclass(frozen=True)
class FileCard:
    """One file as the grid shows it."""

    row: Any  # the File row (name, size, views, tags, favourite, ...)
    label: str  # the name people see (the original name when kept)
    thumbnail: str | None  # the thumbnail's URL, or None for the placeholder
    type_label: str  # e.g. "SVG", "PDF", "TXT"
    kind: str  # image, video, audio, text, archive, document or file
    stats: str | None = None  # its statistics page, on the owner's pages only

    @property
    def protected(self) -> bool:
        """Whether opening the file asks for a password."""
        return self.row.password_hash is not None


def kind_of(mimetype: str) -> str:
    """A coarse kind of file for the placeholder, from its MIME type."""
    major, _, minor = (mimetype or "").partition(";")[0].strip().lower().partition("/")
    if major in ("image", "video", "audio", "text"):
        return major
    full = f"{major}/{minor}"
    if full in TEXT_TYPES or minor.endswith(("+json", "+xml")):
        return "text"
    if full in ARCHIVE_TYPES:
        return "archive"
    if full == "application/pdf" or "document" in minor or "msword" in minor:
        return "document"
    return "file"


def type_label(name: str, mimetype: str) -> str:
    """The file's extension in capitals (e.g. SVG), or its kind when it has none usable."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.isalnum() and len(ext) <= 5:
        return ext.upper()
    return kind_of(mimetype).upper()


def thumbnail_url(row: File, now: dt.datetime) -> str | None:
    """The URL of the file's thumbnail if the public thumbnail route serves it (a thumbnail was made, the
    file is live and not protected: the rule of services.downloads.thumbnail), else None."""
    if stored_thumbnail(row.thumbnail_key) is None or row.password_hash is not None or not files.is_live(row, now):
        return None
    return f"/raw/.thumbnail.{row.id}.jpg"


def file_cards(rows: list[File], now: dt.datetime | None = None, owner: bool = False) -> list[FileCard]:
    """The cards of these files, in order; ``owner``: shown to their owner (with a link to each one's statistics)."""
    now = now or utcnow()
    return [FileCard(row=f, label=f.original_name or f.name, thumbnail=thumbnail_url(f, now),
                     type_label=type_label(f.name, f.type), kind=kind_of(f.type),
                     stats=f"/dashboard/files/{f.id}/stats" if owner else None) for f in rows]
