"""The upload doors called directly: uploads.create_upload, partials.add_chunk, file passwords (files.update_file)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from tests.conftest import count, fresh
from zipshort.errors import Conflict, Forbidden, ValidationError, ZipshortError
from zipshort.extensions import db
from zipshort.models import File, PartialUpload, User
from zipshort.services import files, folders, partials, uploads
from zipshort.services.uploads import Part, UploadOptions


@pytest.fixture
def overrides(request):
    """Settings for one test: ``@pytest.mark.parametrize("overrides", [{...}], indirect=True)``."""
    return getattr(request, "param", {})


def part(data: bytes = b"hello", name: str | None = "a.txt", mimetype: str | None = "text/plain") -> Part:
    return Part(filename=name, mimetype=mimetype, stream=io.BytesIO(data))


def blobs(rt) -> list[str]:
    return list(rt.storage.keys())


def temp_files(rt) -> list[str]:
    return sorted(p.name for p in rt.storage.temp.iterdir()) if rt.storage.temp.exists() else []


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 20, 20)).save(out, "PNG")
    return out.getvalue()


# --- create_upload ----------------------------------------------------------------------------------------

def test_an_upload_returns_plain_data_and_stores_blob_then_row(rt, user):
    result = uploads.create_upload(rt, user, [part(b"hello"), part(b"world!", "b.bin", None)], UploadOptions())
    assert [type(f) for f in result.files] == [uploads.UploadedFile, uploads.UploadedFile]
    assert result.expires_at is None and result.never is False
    rows = {row.id: row for row in db.session.query(File)}
    assert set(rows) == {f.id for f in result.files}
    first, second = (rows[f.id] for f in result.files)
    assert (first.name, first.type, first.size) == (result.files[0].name, "text/plain", 5)
    assert second.type == "application/octet-stream" and second.name.endswith(".bin")
    assert sorted(blobs(rt)) == sorted([first.storage_key, second.storage_key])
    with rt.storage.open(second.storage_key) as fh:
        assert fh.read() == b"world!"
    assert fresh(User, user.id).used_bytes == 11 and fresh(User, user.id).file_count == 2


@pytest.mark.parametrize("overrides", [{"files": {"disabled_extensions": [".exe"]}}], indirect=True)
def test_a_disabled_extension_removes_the_blobs_already_committed_and_every_spool(rt, user):
    def reader(spool):
        made = []
        for data, name in ((b"fine", "a.txt"), (b"MZ...", "tool.EXE")):
            stream = spool()
            stream.write(data)
            stream.seek(0)
            made.append(Part(filename=name, mimetype=None, stream=stream))
        return made

    with pytest.raises(ValidationError) as refused:
        uploads.create_upload(rt, user, reader, UploadOptions())
    assert refused.value.code == "extension_not_allowed" and "file[1]" in refused.value.message
    assert count(File) == 0 and blobs(rt) == [] and temp_files(rt) == []
    assert fresh(User, user.id).used_bytes == 0


@pytest.mark.parametrize("overrides", [{"files": {"max_file_size": 10}}], indirect=True)
def test_a_part_past_the_size_limit_is_413_naming_it(rt, user):
    def reader(spool):
        spool().write(b"0123456789")
        spool().write(b"0123456789!")  # the spool stops it, as it stops the request parser
        raise AssertionError("not reached")

    with pytest.raises(ZipshortError) as refused:
        uploads.create_upload(rt, user, reader, UploadOptions())
    assert refused.value.status == 413 and refused.value.message.startswith("file[1]: File size is too large")
    assert temp_files(rt) == [] and blobs(rt) == []
    with pytest.raises(ZipshortError) as plain:  # a stream that is not a spool is limited while it is written
        uploads.create_upload(rt, user, [part(b"x" * 11)], UploadOptions())
    assert plain.value.status == 413 and blobs(rt) == [] and count(File) == 0


def test_empty_and_missing_parts_are_refused(rt, user):
    with pytest.raises(ValidationError) as none:
        uploads.create_upload(rt, user, [], UploadOptions())
    assert none.value.code == "no_files"
    with pytest.raises(uploads.EmptyUpload):
        uploads.create_upload(rt, user, [part(b"ok"), part(b"", "empty.txt")], UploadOptions())
    with pytest.raises(ValidationError) as nameless:
        uploads.create_upload(rt, user, [part(b"ok", None)], UploadOptions())
    assert nameless.value.code == "no_filename"
    assert count(File) == 0 and blobs(rt) == []


def test_a_failing_row_removes_the_blob(rt, user):
    uploads.create_upload(rt, user, [part(b"first")], UploadOptions(filename="fixed.txt"))
    kept = blobs(rt)
    with pytest.raises(Conflict):  # the fixed name is taken: the row fails after the blob was written
        uploads.create_upload(rt, user, [part(b"second")], UploadOptions(filename="fixed.txt"))
    assert blobs(rt) == kept and count(File) == 1 and fresh(User, user.id).used_bytes == 5


def test_the_options_are_checked_by_the_door(rt, user):
    for bad in (UploadOptions(fmt="nonsense"), UploadOptions(max_views=0), UploadOptions(compression=101),
                UploadOptions(compression_type="gif"), UploadOptions(anonymous=True)):
        with pytest.raises(ValidationError):
            uploads.create_upload(rt, user, [part()], bad)
    assert count(File) == 0 and blobs(rt) == []


def test_the_password_is_hashed_by_the_service(rt, user):
    result = uploads.create_upload(rt, user, [part()], UploadOptions(password="s3cret-pw", max_views=3))
    row = db.session.get(File, result.files[0].id)
    assert row.password_hash != "s3cret-pw" and rt.passwords.verify(row.password_hash, "s3cret-pw")
    assert row.max_views == 3
    with pytest.raises(ValidationError):
        uploads.create_upload(rt, user, [part()], UploadOptions(password="x" * (files.MAX_PASSWORD_LENGTH + 1)))
    assert count(File) == 1


@pytest.mark.parametrize("overrides", [{"files": {"default_expiration": "1h", "max_expiration": "1d"}}],
                         indirect=True)
def test_expiry_default_and_cap_are_applied_by_the_door(rt, user):
    now = dt.datetime.now(dt.timezone.utc)
    plain = uploads.create_upload(rt, user, [part()], UploadOptions(), now=now)
    assert plain.expires_at == now + dt.timedelta(hours=1)
    assert db.session.get(File, plain.files[0].id).expires_at == plain.expires_at
    asked = uploads.create_upload(rt, user, [part()], UploadOptions(expires_at=now + dt.timedelta(hours=5)), now=now)
    assert asked.expires_at == now + dt.timedelta(hours=5)
    for too_long in (UploadOptions(never=True), UploadOptions(expires_at=now + dt.timedelta(days=2))):
        with pytest.raises(ValidationError) as refused:
            uploads.create_upload(rt, user, [part()], too_long, now=now)
        assert refused.value.field == uploads.EXPIRY_FIELD and "maximum allowed expiration of 1d" in \
            refused.value.message
    assert count(File) == 2


@pytest.mark.parametrize("overrides", [{"files": {"max_expiration": "1d"}}], indirect=True)
def test_no_expiry_under_a_cap_is_the_longest_allowed(rt, user):
    now = dt.datetime.now(dt.timezone.utc)
    assert uploads.create_upload(rt, user, [part()], UploadOptions(), now=now).expires_at == now + dt.timedelta(days=1)


def test_folders_own_and_open(rt, user, make_user):
    own = folders.create_folder(user, "Mine")
    result = uploads.create_upload(rt, user, [part()], UploadOptions(folder_id=own.id))
    assert db.session.get(File, result.files[0].id).folder_id == own.id
    stranger = make_user("mallory")
    with pytest.raises(Forbidden):
        uploads.create_upload(rt, stranger, [part()], UploadOptions(folder_id=own.id))
    with pytest.raises(Forbidden):  # anonymous into a folder that is not open
        uploads.create_upload(rt, user, [part()], UploadOptions(folder_id=own.id, anonymous=True))
    folders.update_folder(user, own.id, folders.FolderChanges(allow_uploads=True))
    anonymous = uploads.create_upload(rt, user, [part()], UploadOptions(folder_id=own.id, anonymous=True))
    row = db.session.get(File, anonymous.files[0].id)
    assert row.anonymous is True and row.user_id == user.id
    with pytest.raises(ValidationError):  # an anonymous upload belongs to the folder's owner, nobody else
        uploads.create_upload(rt, stranger, [part()], UploadOptions(folder_id=own.id, anonymous=True))
    assert count(File) == 2


def test_image_compression_replaces_the_blob(rt, user):
    result = uploads.create_upload(rt, user, [part(png(), "pic.png", "image/png")],
                                   UploadOptions(compression=50, compression_type="jpg"))
    item = result.files[0]
    assert item.type == "image/jpeg" and item.name.endswith(".jpg") and item.compressed == ("image/jpeg", ".jpg")
    row = db.session.get(File, item.id)
    assert blobs(rt) == [row.storage_key]  # the PNG's blob is gone
    with rt.storage.open(row.storage_key) as fh:
        assert Image.open(fh).format == "JPEG"


# --- add_chunk --------------------------------------------------------------------------------------------

def test_chunks_through_the_door(rt, user):
    options = UploadOptions(password="chunk-pw", max_views=2, keep_original_name=True)
    first = partials.add_chunk(rt, user, partials.copied(b"a" * 10, "dir/\u202ereport.txt"),
                               partials.parse_content_range("bytes 0-9/20", False),
                               identifier=None, token=None, options=options)
    assert isinstance(first, partials.Progress)
    stored = db.session.query(PartialUpload).one()
    assert stored.filename == "report.txt" and stored.content_type == "text/plain"
    assert rt.passwords.verify(stored.options["password_hash"], "chunk-pw")
    done = partials.add_chunk(rt, user, partials.copied(b"b" * 10, "ignored"),
                              partials.parse_content_range("bytes 10-19/20", True),
                              identifier=first.identifier, token=None, options=UploadOptions())
    assert isinstance(done, uploads.UploadedFile) and done.type == "text/plain"
    row = db.session.get(File, done.id)
    assert row.original_name == "report.txt" and row.max_views == 2 and rt.passwords.verify(row.password_hash,
                                                                                              "chunk-pw")
    with rt.storage.open(row.storage_key) as fh:
        assert fh.read() == b"a" * 10 + b"b" * 10
    assert count(PartialUpload) == 0


@pytest.mark.parametrize("overrides", [{"files": {"max_expiration": "1h", "disabled_extensions": [".exe"]}}],
                         indirect=True)
def test_a_chunked_upload_gets_the_same_rules(rt, user):
    now = dt.datetime.now(dt.timezone.utc)
    chunk = partials.parse_content_range("bytes 0-9/20", False)
    with pytest.raises(ValidationError) as capped:
        partials.add_chunk(rt, user, partials.copied(b"a" * 10, "a.txt"), chunk, identifier=None, token=None,
                           options=UploadOptions(never=True), now=now)
    assert capped.value.field == uploads.EXPIRY_FIELD
    with pytest.raises(ValidationError) as disabled:
        partials.add_chunk(rt, user, partials.copied(b"a" * 10, "a.exe"), chunk, identifier=None, token=None,
                           options=UploadOptions(), now=now)
    assert disabled.value.code == "extension_not_allowed"
    partials.add_chunk(rt, user, partials.copied(b"a" * 10, "a.txt"), chunk, identifier=None, token=None,
                       options=UploadOptions(), now=now)
    assert db.session.query(PartialUpload).one().options["expires_at"] == (now + dt.timedelta(hours=1)).isoformat()


# --- file passwords ---------------------------------------------------------------------------------------

def test_file_password_set_and_clear(rt, user):
    ident = uploads.create_upload(rt, user, [part()], UploadOptions()).files[0].id
    row = files.update_file(rt, user, ident, files.FileChanges(password="new-secret"))
    assert rt.passwords.verify(fresh(File, ident).password_hash, "new-secret") and row.password_hash is not None
    files.update_file(rt, user, ident, files.FileChanges(favorite=True))  # other edits keep it
    assert fresh(File, ident).password_hash is not None
    files.update_file(rt, user, ident, files.FileChanges(password=None))
    assert fresh(File, ident).password_hash is None
    for bad in (12345, "p" * (files.MAX_PASSWORD_LENGTH + 1)):
        with pytest.raises(ValidationError):
            files.update_file(rt, user, ident, files.FileChanges(password=bad))
    assert fresh(File, ident).password_hash is None
