"""Pages for people: sign-in, the dashboard and its tools, administration, public folder pages."""

from __future__ import annotations

from flask import Blueprint

from zipshort.web import words

bp = Blueprint("web", __name__)


@bp.app_template_filter("filesize")
def filesize(value: int | float | None) -> str:
    """Bytes for people: 1023 B, 1.5 KiB, 12.0 MiB."""
    size = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


bp.add_app_template_filter(words.noun, "noun")  # {{ n | noun('file') }} → file / files
bp.add_app_template_filter(words.counted, "counted")  # {{ n | counted('view') }} → 1 view / 2 views


@bp.app_context_processor
def _page_context() -> dict[str, object]:
    from flask import g, request

    from zipshort.web.common import base_url, typed
    from zipshort.web.stats import metrics_allowed

    # ``here`` is the page being shown: a refused form's page is rendered inside the POST to another path.
    return {"origin": base_url, "typed": typed, "here": g.get("page_path") or request.path,
            "metrics_allowed": metrics_allowed}


from zipshort.web import admin, audit, auth, dashboard, folders, links, settings, stats, webhooks  # noqa: E402,F401
