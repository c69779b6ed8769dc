"""QR codes of links (segno), drawn with the link's stored options: colours, size and margin."""

from __future__ import annotations

import io

import segno
from sqlalchemy import or_, select

from zipshort.codes import could_be_code
from zipshort.errors import NotFound
from zipshort.extensions import db
from zipshort.models import Link


def find(code: str, host: str) -> Link:
    """The link answering to ``code`` on ``host``, or NotFound."""
    if not could_be_code(code):
        raise NotFound("Not found", code="not_found")
    link = db.session.scalar(select(Link).where(Link.slug_key == code.lower(),
                                                or_(Link.domain == "", Link.domain == host.lower())).limit(1))
    if link is None:
        raise NotFound("Not found", code="not_found")
    return link


def render(url: str, options: dict | None, kind: str) -> bytes:
    """The QR code of ``url`` as SVG or PNG bytes, honouring width, margin and dot/background colours."""
    opts = (options or {}).get("options") or {}
    dots = opts.get("dotsOptions") if isinstance(opts.get("dotsOptions"), dict) else {}
    background = opts.get("backgroundOptions") if isinstance(opts.get("backgroundOptions"), dict) else {}
    margin = opts.get("margin", 4)
    margin = margin if isinstance(margin, int) and 0 <= margin <= 100 else 4
    qr = segno.make(url, error="q")
    modules = qr.symbol_size(scale=1, border=0)[0]
    width = opts.get("width") if isinstance(opts.get("width"), int) else 300
    border = max(0, round(margin / max(1, width) * modules)) if margin > 4 else margin
    scale = max(1, width // (modules + 2 * border))
    out = io.BytesIO()
    qr.save(out, kind=kind, scale=scale, border=border, dark=dots.get("color") or "#000000",
            light=background.get("color") or "#ffffff")
    return out.getvalue()
