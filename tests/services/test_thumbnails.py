"""Thumbnails: made off the request path for images (and videos when ffmpeg exists), served, cleaned up."""

from __future__ import annotations

import io

from PIL import Image

from tests.conftest import count, require_tool
from zipshort.extensions import db
from zipshort.models import File
from zipshort.services.maintenance import fsck, prune_expired
from zipshort.services.thumbnails import generate_missing


def png(size=(1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 200)).save(out, "PNG")
    return out.getvalue()


def put(api, name, content, ctype, headers=None) -> dict:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                   content_type="multipart/form-data")
    return res.get_json()["files"][0]


def test_image_thumbnail_is_made_later_and_served(api, client, rt):
    item = put(api, "big.png", png(), "image/png")
    assert api.get(f"/api/user/files/{item['id']}").get_json()["thumbnail"] is None  # not on the request path
    assert generate_missing(rt.storage) == 1
    path = api.get(f"/api/user/files/{item['id']}").get_json()["thumbnail"]["path"]
    res = client.get(path)
    thumb = Image.open(io.BytesIO(res.data))
    assert res.mimetype == "image/jpeg" and max(thumb.size) == 480
    assert api.get(f"/api/user/files/{item['id']}").get_json()["views"] == 0  # a thumbnail is not a view


def test_broken_images_are_marked_and_not_retried(api, rt):
    put(api, "fake.png", b"not a png", "image/png")
    assert generate_missing(rt.storage) == 0
    assert db.session.query(File).one().thumbnail_key == "-"
    assert generate_missing(rt.storage) == 0


def test_protected_files_have_no_public_thumbnail(api, client, rt):
    item = put(api, "secret.png", png(), "image/png", {"x-zipline-password": "pw-12345"})
    generate_missing(rt.storage)
    assert client.get(f"/raw/.thumbnail.{item['id']}.jpg").status_code == 404


def test_thumbnails_are_not_orphans_and_go_with_their_file(api, rt):
    import datetime as dt

    item = put(api, "a.png", png(), "image/png", {"x-zipline-deletes-at": "1h"})
    assert generate_missing(rt.storage) == 1
    row = db.session.get(File, item["id"], populate_existing=True)
    assert row.thumbnail_key not in (None, "-") and rt.storage.exists(row.thumbnail_key)
    assert set(rt.storage.keys()) == {row.storage_key, row.thumbnail_key}
    assert fsck(rt.storage, temp_age=dt.timedelta(0)).orphan_blobs == []  # the thumbnail counts as its file's
    prune_expired(rt, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))
    assert count(File) == 0 and list(rt.storage.keys()) == []  # the thumbnail went with the file


def test_video_thumbnail_with_ffmpeg(api, rt, tmp_path):
    import subprocess

    require_tool("ffmpeg", "video thumbnails need it")

    video = tmp_path / "v.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10",
                    str(video)], check=True)
    put(api, "v.mp4", video.read_bytes(), "video/mp4")
    assert generate_missing(rt.storage) == 1
