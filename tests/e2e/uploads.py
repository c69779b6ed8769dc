"""Helpers for upload tests against a real server: send chunks and files, check a user's counters."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import fetch
from zipshort.extensions import db
from zipshort.models import File, PartialUpload, User


def send_chunk(url: str, key: str, piece: bytes, start: int, end: int, total: int, last: bool = False,
               **headers: str):
    """POST one chunk to /api/upload/partial (``end`` inclusive, as Content-Range writes it)."""
    hdrs = {"Authorization": key, "Content-Range": f"bytes {start}-{end}/{total}",
            "x-zipline-p-filename": "big.bin", "x-zipline-p-content-type": "application/octet-stream",
            "x-zipline-p-lastchunk": "true" if last else "false",
            **{k.replace("_", "-"): v for k, v in headers.items()}}
    return fetch("POST", url + "/api/upload/partial", headers=hdrs,
                 files={"file": ("blob", piece, "application/octet-stream")})


def send_file(url: str, key: str, data: bytes, name: str = "a.bin", **headers: str):
    """POST one file to /api/upload."""
    hdrs = {"Authorization": key, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return fetch("POST", url + "/api/upload", headers=hdrs,
                 files={"file": (name, data, "application/octet-stream")})


def counters(user_id: str) -> dict[str, int]:
    """The user's usage counters and what their files and sessions actually add up to, read fresh."""
    db.session.rollback()
    user = db.session.get(User, user_id, populate_existing=True)
    files_bytes, files_count = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(File.size), 0), sa.func.count(File.id))
        .where(File.user_id == user_id)).one()
    held, sessions = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(PartialUpload.total_size), 0), sa.func.count(PartialUpload.id))
        .where(PartialUpload.user_id == user_id)).one()
    db.session.rollback()
    return {"used_bytes": user.used_bytes, "file_count": user.file_count, "reserved_bytes": user.reserved_bytes,
            "reserved_files": user.reserved_files, "files_bytes": int(files_bytes), "files": files_count,
            "sessions_bytes": int(held), "sessions": sessions}


def assert_exact(user_id: str) -> dict[str, int]:
    """Counters equal the sums of the user's files and open sessions; returns them."""
    c = counters(user_id)
    assert (c["used_bytes"], c["file_count"]) == (c["files_bytes"], c["files"]), c
    assert (c["reserved_bytes"], c["reserved_files"]) == (c["sessions_bytes"], c["sessions"]), c
    return c
