"""Image processing on upload (Pillow): compression to a chosen format, GPS stripping, bomb refusal.

Only the decoders of an allowlist run (``formats=``), and an image above ``MAX_PIXELS`` is refused
before it is decoded, so a small file cannot expand into gigabytes of memory.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO

from PIL import Image, UnidentifiedImageError

from zipshort.errors import ValidationError

DECODERS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MAX_PIXELS = 40_000_000
COMPRESSION_TYPES = {"jpg": ("JPEG", "image/jpeg", ".jpg"), "jpeg": ("JPEG", "image/jpeg", ".jpg"),
                     "png": ("PNG", "image/png", ".png"), "webp": ("WEBP", "image/webp", ".webp")}
GPS_IFD = 0x8825


@dataclass(frozen=True)
class Processed:
    """The new bytes and what changed."""

    data: bytes
    mimetype: str
    ext: str | None
    removed_gps: bool


def compression_type(value: str) -> str:
    """Validate ``x-zipline-image-compression-type``.

    Raises:
        ValidationError: unknown, or known but unsupported here (jxl).
    """
    value = value.lower()
    if value == "jxl":
        raise ValidationError('Compression type "jxl" is not supported on the system.', code="invalid_options")
    if value not in COMPRESSION_TYPES:
        raise ValidationError("Invalid compression type (must be one of: jpg, jpeg, png, webp, jxl)",
                              code="invalid_options")
    return value


def open_image(stream: BinaryIO) -> Image.Image:
    """Open and load an image with the allowlisted decoders and the pixel cap.

    Raises:
        ValidationError: not decodable or too large.
    """
    image = _open(stream)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()
    return image


def _open(stream: BinaryIO) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream, formats=DECODERS)
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValidationError("The image cannot be processed (unknown format or too large)",
                                  code="bad_image") from None
    if image.width * image.height > MAX_PIXELS:
        raise ValidationError(f"The image is larger than {MAX_PIXELS} pixels", code="bad_image")
    return image


def process(stream: BinaryIO, quality: int | None, target: str | None, strip_gps: bool) -> Processed | None:
    """Compress (``quality`` 1–100 into ``target``) and/or strip GPS; None when nothing needs doing.

    Raises:
        ValidationError: not a decodable image, or too many pixels.
    """
    image = _open(stream)
    exif = image.getexif()
    has_gps = strip_gps and GPS_IFD in exif
    if not quality and not has_gps:
        return None
    if has_gps:
        del exif[GPS_IFD]
    fmt, mimetype, ext = COMPRESSION_TYPES[target or "jpg"] if quality else (image.format, None, None)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    options: dict[str, Any] = {"exif": exif.tobytes()} if fmt in ("JPEG", "PNG", "WEBP") else {}
    if quality:
        options["quality"] = quality
    elif fmt == "JPEG":
        options["quality"] = "keep"  # GPS stripping only: keep the original quantisation
    image.save(out, format=fmt, **options)
    return Processed(data=out.getvalue(), mimetype=mimetype or Image.MIME.get(fmt or "", "application/octet-stream"),
                     ext=ext, removed_gps=has_gps)
