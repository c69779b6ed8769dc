"""QR codes of links (segno), drawn with the link's stored options: colours, size, margin and a logo.

The logo is one of the owner's uploaded images (h0p's ``qrCode.imageId``), never a URL fetched from
elsewhere. With a logo the code uses the highest error correction (H, 30 %) and the logo covers at
most 20 % of the symbol's area (``imageOptions.imageSize`` 0.1-0.45 of its width), so readers still
decode it; the modules behind the logo are cleared to the background colour.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from PIL import Image
from sqlalchemy import or_, select

from zipshort.codes import could_be_code
from zipshort.errors import NotFound
from zipshort.extensions import db
from zipshort.models import File, Link
from zipshort.runtime import Runtime
from zipshort.storage.base import Storage

MAX_LOGO_BYTES = 5 * 1024 * 1024


def find(code: str, host: str) -> Link:
    """The link answering to ``code`` on ``host``, or NotFound."""
    if not could_be_code(code):
        raise NotFound("Not found", code="not_found")
    link = db.session.scalar(select(Link).where(Link.slug_key == code.lower(),
                                                or_(Link.domain == "", Link.domain == host.lower())).limit(1))
    if link is None:
        raise NotFound("Not found", code="not_found")
    return link


def _logo(storage: Storage | None, options: dict[str, Any] | None, owner_id: str) -> Image.Image | None:
    """The owner's image named by ``imageId``, decoded, or None (missing, not an image, too large)."""
    image_id = (options or {}).get("imageId")
    if storage is None or not isinstance(image_id, str):
        return None
    row = db.session.get(File, image_id)
    if row is None or row.user_id != owner_id or not row.type.startswith("image/") or row.size > MAX_LOGO_BYTES:
        return None
    try:
        with storage.open(row.storage_key) as fh:
            image = Image.open(io.BytesIO(fh.read()))
            image.load()
    except Exception:  # noqa: BLE001 - a broken upload draws the code without a logo
        return None
    return image.convert("RGBA")


def link_qr(rt: Runtime, link: Link, url: str, kind: str) -> bytes:
    """The QR code of ``link``'s short ``url`` as SVG or PNG, with the link's options and its owner's logo."""
    return render(url, link.qr_options, kind, rt.storage, link.user_id)


def _section(opts: dict[str, Any], name: str) -> dict[str, Any]:
    """One of the options' objects (``dotsOptions``…), or an empty one."""
    value = opts.get(name)
    return value if isinstance(value, dict) else {}


def _width(opts: dict[str, Any]) -> int:
    value = opts.get("width")
    return value if isinstance(value, int) else 300


def render(url: str, options: dict[str, Any] | None, kind: str, storage: Storage | None = None,
           owner_id: str = "") -> bytes:
    """The QR code of ``url`` as SVG or PNG bytes, honouring width, margin, dot/background colours and a logo."""
    logo = _logo(storage, options, owner_id)
    if logo is not None:
        return _render_with_logo(url, options, kind, logo)
    opts = (options or {}).get("options") or {}
    dots, background = _section(opts, "dotsOptions"), _section(opts, "backgroundOptions")
    margin = opts.get("margin", 4)
    margin = margin if isinstance(margin, int) and 0 <= margin <= 100 else 4
    qr = segno.make(url, error="q")
    modules = int(qr.symbol_size(scale=1, border=0)[0])  # whole modules at scale 1
    width = _width(opts)
    border = max(0, round(margin / max(1, width) * modules)) if margin > 4 else margin
    scale = max(1, width // (modules + 2 * border))
    out = io.BytesIO()
    qr.save(out, kind=kind, scale=scale, border=border, dark=dots.get("color") or "#000000",
            light=background.get("color") or "#ffffff")
    return out.getvalue()


def _render_with_logo(url: str, options: dict[str, Any] | None, kind: str, logo: Image.Image) -> bytes:
    """A PNG drawn by segno at error level H with the logo pasted in the middle (SVG: that PNG embedded)."""
    opts = (options or {}).get("options") or {}
    dots, background = _section(opts, "dotsOptions"), _section(opts, "backgroundOptions")
    image_opts = _section(opts, "imageOptions")
    light = background.get("color") or "#ffffff"
    qr = segno.make(url, error="h", boost_error=False)
    width = _width(opts)
    border = 4
    scale = max(4, width // int(qr.symbol_size(scale=1, border=border)[0]))
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=border, dark=dots.get("color") or "#000000", light=light)
    canvas = Image.open(io.BytesIO(out.getvalue())).convert("RGBA")
    size = image_opts.get("imageSize", 0.4)
    size = min(0.45, max(0.1, float(size))) if isinstance(size, (int, float)) and not isinstance(size, bool) else 0.4
    symbol = canvas.width - 2 * border * scale
    box = int(symbol * size * 0.5 ** 0.5)  # a square of at most ~20 % of the symbol's area at 0.45
    logo.thumbnail((box, box))
    pad = max(2, scale // 2)
    left, top = (canvas.width - logo.width) // 2, (canvas.height - logo.height) // 2
    canvas.paste(Image.new("RGBA", (logo.width + 2 * pad, logo.height + 2 * pad), light),
                 (left - pad, top - pad))
    canvas.alpha_composite(logo, (left, top))
    png = io.BytesIO()
    canvas.convert("RGB").save(png, "PNG", optimize=True)
    if kind == "png":
        return png.getvalue()
    data = base64.b64encode(png.getvalue()).decode("ascii")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{canvas.width}" height="{canvas.height}" '
            f'viewBox="0 0 {canvas.width} {canvas.height}"><image width="{canvas.width}" '
            f'height="{canvas.height}" href="data:image/png;base64,{data}"/></svg>').encode("ascii")
