"""Thumbnails for images (Pillow) and videos (one frame through ffmpeg, when installed), made off the
request path by the maintenance loop, stored as blobs of their own.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile

from sqlalchemy import or_, select

from zipshort.database import write_transaction
from zipshort.errors import ValidationError
from zipshort.extensions import db
from zipshort.models import File
from zipshort.services import images
from zipshort.storage import Storage

log = logging.getLogger("zipshort.thumbnails")
SIZE = (480, 480)
FAILED = "-"  # thumbnail_key of a file that cannot have one (not retried)
BATCH = 20


def stored_thumbnail(thumbnail_key: str | None) -> str | None:
    """The storage key of a file's thumbnail, or None: not made yet (None) or impossible (FAILED)."""
    return None if thumbnail_key in (None, "", FAILED) else thumbnail_key


def _frame_of_video(storage: Storage, key: str) -> bytes | None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        source = f"{folder}/video"
        with storage.open(key) as fh, open(source, "wb") as out:
            shutil.copyfileobj(fh, out, 1024 * 1024)
        result = subprocess.run([ffmpeg, "-v", "error", "-i", source, "-vf", "thumbnail", "-frames:v", "1",
                                 "-f", "image2", "-c:v", "png", "pipe:1"], capture_output=True, timeout=120)
        return result.stdout if result.returncode == 0 and result.stdout else None


def render(storage: Storage, row: File) -> bytes | None:
    """A JPEG thumbnail of the file, or None when it cannot have one."""
    if row.type.startswith("video/"):
        frame = _frame_of_video(storage, row.storage_key)
        if frame is None:
            return None
        source = io.BytesIO(frame)
    else:
        with storage.open(row.storage_key) as fh:
            source = io.BytesIO(fh.read(images.MAX_PIXELS))
    try:
        image = images.open_image(source)
        image.thumbnail(SIZE)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    except (ValidationError, OSError, ValueError):
        return None
    return out.getvalue()


def generate_missing(storage: Storage, limit: int = BATCH) -> int:
    """Make thumbnails for images and videos that have none yet; return how many were made."""
    rows = list(db.session.scalars(
        select(File).where(File.thumbnail_key.is_(None), or_(File.type.startswith("image/"),
                                                             File.type.startswith("video/")))
        .order_by(File.created_at).limit(limit)))
    db.session.rollback()
    made = 0
    for row in rows:
        data = render(storage, row)
        key = storage.write([data]).key if data else FAILED
        with write_transaction(db.session):
            current = db.session.get(File, row.id)
            if current is None:  # deleted meanwhile
                if key != FAILED:
                    storage.delete(key)
                continue
            current.thumbnail_key = key
        made += key != FAILED
    return made
