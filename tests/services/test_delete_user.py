"""accounts.delete_user removes what the user owned in storage too: blobs, thumbnails, chunked-upload bytes."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from PIL import Image

from tests.conftest import count, s3_overrides
from zipshort.extensions import db
from zipshort.models import File, PartialUpload, Role, User
from zipshort.services import accounts, partials, uploads
from zipshort.services.thumbnails import generate_missing, stored_thumbnail
from zipshort.services.uploads import Part, UploadOptions


@pytest.fixture(params=["local", "s3"])
def overrides(request):
    """The same test on the local folder and on S3 (SeaweedFS)."""
    if request.param == "s3":
        return s3_overrides(request.getfixturevalue("s3_server"), f"delete-{uuid.uuid4().hex[:8]}")
    return {}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


def upload(rt, owner, data: bytes, name: str, mimetype: str) -> File:
    result = uploads.create_upload(rt, owner, [Part(filename=name, mimetype=mimetype, stream=io.BytesIO(data))],
                                   UploadOptions())
    return db.session.get(File, result.files[0].id)


def open_chunked_upload(rt, owner) -> str:
    partials.add_chunk(rt, owner, partials.copied(b"a" * 10, "big.bin"),
                       partials.parse_content_range("bytes 0-9/20", False),
                       identifier=None, token=None, options=UploadOptions())
    return db.session.query(PartialUpload).filter_by(user_id=owner.id).one().id


def test_deleting_a_user_removes_their_blobs_and_thumbnails(rt, make_user):
    admin = make_user("root", role=Role.ADMIN)
    doomed, keeper = make_user("doomed"), make_user("keeper")
    picture = upload(rt, doomed, png(), "pic.png", "image/png")
    upload(rt, doomed, b"some text", "notes.txt", "text/plain")
    kept = upload(rt, keeper, png(), "mine.png", "image/png")
    assert generate_missing(rt.storage) == 2
    db.session.rollback()
    picture, kept = db.session.get(File, picture.id), db.session.get(File, kept.id)
    assert stored_thumbnail(picture.thumbnail_key) is not None
    session_id = open_chunked_upload(rt, doomed)
    assert (rt.storage.temp / f"{session_id}.partial").exists()
    assert len(list(rt.storage.keys())) == 5  # three blobs, two thumbnails

    accounts.delete_user(rt, doomed, actor=admin)

    assert db.session.get(User, doomed.id) is None and count(PartialUpload) == 0
    assert sorted(rt.storage.keys()) == sorted([kept.storage_key, kept.thumbnail_key])
    assert not (rt.storage.temp / f"{session_id}.partial").exists()
    with rt.storage.open(kept.storage_key) as fh:
        assert fh.read() == png()


@pytest.mark.parametrize("overrides", ["local"], indirect=True)  # the stuck blob is made in the local folder
def test_a_blob_that_cannot_be_removed_is_logged_and_the_user_is_still_deleted(rt, make_user, caplog):
    doomed = make_user("doomed")
    stuck = upload(rt, doomed, b"stuck", "a.txt", "text/plain").storage_key
    gone = upload(rt, doomed, b"gone", "b.txt", "text/plain").storage_key
    path = rt.storage.local_path(stuck)
    path.unlink()
    path.mkdir()  # a non-empty folder where the blob was: unlinking it fails, even as root
    (path / "keep").write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="zipshort.files"):
        accounts.delete_user(rt, doomed)
    assert db.session.get(User, doomed.id) is None and count(File) == 0
    assert not rt.storage.exists(gone)  # the others still went
    assert any(stuck in record.getMessage() for record in caplog.records)
