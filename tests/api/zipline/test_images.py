"""Image compression, GPS stripping and decompression bombs on upload (real Pillow images)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import count
from zipshort.models import File

GPS_IFD = 0x8825


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (32, 32), (10, 120, 10))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def upload(api, name, content, ctype, headers=None):
    return api.post("/api/upload", data={"file": [(io.BytesIO(content), name, ctype)]}, headers=headers,
                    content_type="multipart/form-data")


def fetch_image(client, body) -> Image.Image:
    data = client.get(f"/raw/{body['files'][0]['name']}").data
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("kind,fmt,ext", [("webp", "WEBP", ".webp"), ("jpg", "JPEG", ".jpg"), ("png", "PNG", ".png")])
def test_compression_converts_and_reports(api, client, kind, fmt, ext):
    res = upload(api, "shot.png", png(), "image/png", {"x-zipline-image-compression-percent": "60",
                                                       "x-zipline-image-compression-type": kind})
    body = res.get_json()
    item = body["files"][0]
    assert item["compressed"]["ext"] == ext and item["name"].endswith(ext)
    assert item["type"] == item["compressed"]["mimetype"]
    assert fetch_image(client, body).format == fmt


def test_compression_zero_means_none(api, client):
    data = png()
    body = upload(api, "shot.png", data, "image/png", {"x-zipline-image-compression-percent": "0"}).get_json()
    assert "compressed" not in body["files"][0]
    assert client.get(f"/raw/{body['files'][0]['name']}").data == data


def test_compression_leaves_non_images_alone(api, client):
    body = upload(api, "a.txt", b"text", "text/plain", {"x-zipline-image-compression-percent": "50"}).get_json()
    assert client.get(f"/raw/{body['files'][0]['name']}").data == b"text"


@pytest.mark.parametrize("headers,message", [
    ({"x-zipline-image-compression-percent": "abc"}, "Invalid percent (NaN)"),
    ({"x-zipline-image-compression-percent": "101"}, "Invalid percent (must be between 0 and 100)"),
    ({"x-zipline-image-compression-percent": "-1"}, "Invalid percent (must be between 0 and 100)"),
    ({"x-zipline-image-compression-percent": "50", "x-zipline-image-compression-type": "gif"},
     "Invalid compression type (must be one of: jpg, jpeg, png, webp, jxl)"),
    ({"x-zipline-image-compression-percent": "50", "x-zipline-image-compression-type": "jxl"},
     'Compression type "jxl" is not supported on the system.'),
])
def test_bad_compression_headers(api, headers, message):
    res = upload(api, "a.png", png(), "image/png", headers)
    assert res.status_code == 400 and res.get_json()["error"].endswith(message) and count(File) == 0


def test_v3_compression_always_makes_jpeg(api, client):
    body = upload(api, "a.png", png(), "image/png", {"Image-Compression-Percent": "70"}).get_json()
    assert body["files"][0].endswith(".jpg")
    assert Image.open(io.BytesIO(client.get(body["files"][0].replace("http://localhost", "")).data)).format == "JPEG"


def test_v3_bad_compression_text(api):
    res = upload(api, "a.png", png(), "image/png", {"Image-Compression-Percent": "x"})
    assert res.get_json() == {"error": "bad options: [image-compression-percent]: invalid image compression percent "
                                       "(invalid number)", "code": 400}


def test_decompression_bomb_is_refused_and_nothing_kept(api, app):
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 megapixels in a few kilobytes
    res = upload(api, "bomb.png", out.getvalue(), "image/png", {"x-zipline-image-compression-percent": "50"})
    assert res.status_code == 400 and count(File) == 0
    assert list(app.extensions["zipshort"].storage.keys()) == []


def test_gps_is_kept_unless_configured(api, client):
    body = upload(api, "geo.jpg", jpeg_with_gps(), "image/jpeg").get_json()
    assert GPS_IFD in fetch_image(client, body).getexif()


class TestGpsRemoval:
    @pytest.fixture
    def overrides(self):
        return {"files": {"remove_gps_metadata": True}}

    def test_gps_is_stripped_and_reported(self, api, client):
        body = upload(api, "geo.jpg", jpeg_with_gps(), "image/jpeg").get_json()
        assert body["files"][0]["removedGps"] is True
        exif = fetch_image(client, body).getexif()
        assert GPS_IFD not in exif and exif[0x010F] == "CameraMaker"

    def test_images_without_gps_are_untouched(self, api, client):
        data = png()
        body = upload(api, "a.png", data, "image/png").get_json()
        assert "removedGps" not in body["files"][0]
        assert client.get(f"/raw/{body['files'][0]['name']}").data == data
