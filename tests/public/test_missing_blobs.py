"""A row whose blob is gone from storage (lost outside zipshort; fsck lists it) answers 404, never 500:
on every file route, the thumbnail route, and on local and S3 storage."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from tests.conftest import s3_overrides
from zipshort.extensions import db
from zipshort.models import File
from zipshort.services.thumbnails import generate_missing


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (10, 20, 200)).save(out, "PNG")
    return out.getvalue()


def put(api, name, content, ctype) -> dict:
    res = api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]},
                   content_type="multipart/form-data")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["files"][0]


def lose_blobs(rt) -> None:
    db.session.rollback()
    for row in db.session.scalars(db.select(File)):
        rt.storage.delete(row.storage_key)
        if row.thumbnail_key and row.thumbnail_key != "-":
            rt.storage.delete(row.thumbnail_key)
    db.session.rollback()


@pytest.fixture(params=["local", "s3"])
def overrides(request):
    if request.param == "local":
        return {}
    return s3_overrides(request.getfixturevalue("s3_server"), f"missing-{uuid.uuid4().hex[:8]}")


def test_file_routes_answer_404_when_the_blob_is_gone(api, client, rt):
    image = put(api, "a.png", png(), "image/png")
    text = put(api, "a.txt", b"hello", "text/plain")
    assert generate_missing(rt.storage) == 1
    thumb = f"/raw/.thumbnail.{image['id']}.jpg"
    assert client.get(thumb).status_code == 200
    lose_blobs(rt)
    for path in (f"/u/{image['name']}", f"/raw/{image['name']}", f"/raw/{image['name']}?download",
                 f"/view/{text['name']}", f"/u/{text['name']}", thumb):
        res = client.get(path)
        assert res.status_code == 404, (path, res.status_code)
