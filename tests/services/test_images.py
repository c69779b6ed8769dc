"""Image processing on upload: compression into a chosen format, GPS stripping, and refusal of what is not an
allowlisted image or is too large to decode safely."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from zipshort.errors import ValidationError
from zipshort.services import images


def picture(fmt: str = "PNG", size=(64, 48), mode: str = "RGBA", gps: bool = False) -> io.BytesIO:
    image = Image.new(mode, size, (10, 200, 30, 255) if mode == "RGBA" else (10, 200, 30))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    if gps:
        exif[images.GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0)}
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    out.seek(0)
    return out


@pytest.mark.parametrize("value,expected", [("JPG", "jpg"), ("webp", "webp"), ("png", "png")])
def test_compression_types_are_checked(value, expected):
    assert images.compression_type(value) == expected


@pytest.mark.parametrize("value", ["jxl", "gif", "tiff", ""])
def test_unsupported_compression_types_are_refused(value):
    with pytest.raises(ValidationError):
        images.compression_type(value)


def test_nothing_to_do_gives_none():
    assert images.process(picture(), quality=None, target=None, strip_gps=True) is None  # no GPS in it


@pytest.mark.parametrize("target,fmt,mimetype,ext", [("jpg", "JPEG", "image/jpeg", ".jpg"),
                                                     ("webp", "WEBP", "image/webp", ".webp"),
                                                     ("png", "PNG", "image/png", ".png")])
def test_compression_writes_the_target_format(target, fmt, mimetype, ext):
    done = images.process(picture(), quality=50, target=target, strip_gps=False)
    assert (done.mimetype, done.ext, done.removed_gps) == (mimetype, ext, False)
    result = Image.open(io.BytesIO(done.data))
    assert result.format == fmt and result.size == (64, 48)


def test_gps_is_stripped_and_the_rest_of_the_exif_kept():
    done = images.process(picture("JPEG", mode="RGB", gps=True), quality=None, target=None, strip_gps=True)
    assert done.removed_gps and done.mimetype == "image/jpeg" and done.ext is None
    exif = Image.open(io.BytesIO(done.data)).getexif()
    assert images.GPS_IFD not in exif and exif[0x010F] == "Camera maker"


def test_gps_stays_unless_stripping_is_asked_for():
    assert images.process(picture("JPEG", mode="RGB", gps=True), quality=None, target=None, strip_gps=False) is None


@pytest.mark.parametrize("data", [b"not an image", b"%PDF-1.7", b""])
def test_what_is_not_an_image_is_refused(data):
    with pytest.raises(ValidationError, match="cannot be processed"):
        images.open_image(io.BytesIO(data))


def test_a_format_outside_the_allowlist_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF")
    out.seek(0)
    with pytest.raises(ValidationError):
        images.open_image(out)


def test_an_image_above_the_pixel_cap_is_refused_before_decoding():
    # A PNG header claiming 8000 × 8000 pixels (64 M > 40 M), the rest of the file never read.
    data = bytearray(picture(size=(1, 1)).getvalue())
    data[16:24] = (8000).to_bytes(4, "big") * 2  # IHDR's width and height
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # IHDR's checksum
    with pytest.raises(ValidationError, match="larger than 40000000 pixels"):
        images.process(io.BytesIO(bytes(data)), quality=50, target="jpg", strip_gps=False)
