"""The dashboard: home (stats, chart, recent items), files (grid/table, filters, bulk actions), upload pages."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from flask import g, render_template, request

from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.services import files, folders, links, tags
from zipshort.web import bp
from zipshort.web.cards import file_cards
from zipshort.web.charts import daily_chart
from zipshort.web.common import action, done, page, text
from zipshort.web.words import counted

PER_PAGE_CHOICES = (12, 24, 48, 96)
SORTS = {"createdAt": "Date", "name": "Name", "size": "Size", "views": "Views", "type": "Type"}
SEARCH_FIELDS = {"any": "Name", "type": "Type"}


def routes() -> dict[str, str]:
    """The public routes templates build links with."""
    settings = runtime().settings
    return {"files": settings.files.route, "urls": settings.urls.route}


@bp.get("/dashboard")
@page()
def dashboard():
    recent_files, _ = files.list_files(g.user, files.FileQuery(per_page=8))
    recent_links, _ = links.page_links(g.user, per_page=6)
    return render_template("dashboard.html", stats=files.user_stats(g.user), cards=file_cards(recent_files, owner=True),
                           recent_links=recent_links, chart=daily_chart(files.activity(g.user)), routes=routes())


def _int_arg(name: str, default: int, allowed: tuple[int, ...] | None = None) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    if allowed is not None and value not in allowed:
        return default
    return max(1, value)


@bp.get("/dashboard/files")
@page()
def files_page():
    args = request.args
    per_page = _int_arg("per", 24, PER_PAGE_CHOICES)
    sort = args.get("sort", "createdAt") if args.get("sort") in SORTS else "createdAt"
    order = "asc" if args.get("order") == "asc" else "desc"
    field = args.get("field") if args.get("field") in SEARCH_FIELDS else "any"
    q = args.get("q", "")[:200]
    query = files.FileQuery(page=_int_arg("page", 1), per_page=per_page, sort_by=sort, order=order,
                            favorite=args.get("fav") == "1", search_field=field if q else None,
                            search_query=q or None, folder_id=args.get("folder") or None,
                            tag_id=args.get("tag") or None)
    try:
        rows, total = files.list_files(g.user, query)
    except ValidationError:
        rows, total = [], 0
    pages = max(1, math.ceil(total / per_page))
    view = "table" if args.get("view") == "table" else "grid"
    params = {k: v for k, v in args.items() if k != "page"}
    user_folders, user_tags = folders.list_folders(g.user), tags.list_tags(g.user)
    # This page may be shown inside a refused POST (see web.common.action): its own path, not the request's.
    # The bulk form posts with the listing's query, so a refused bulk action shows this same listing again.
    listing = "?" + urlencode(list(args.items(multi=True))) if args else ""
    return render_template("files.html", rows=rows, total=total, page=query.page, pages=pages, params=params,
                           view=view, sort=sort, order=order, field=field, q=q, per_page=per_page, sorts=SORTS,
                           search_fields=SEARCH_FIELDS, per_page_choices=PER_PAGE_CHOICES, listing=listing,
                           folders=user_folders, tags=user_tags, bulk_actions=_bulk_actions(user_folders, user_tags),
                           cards=file_cards(rows, owner=True) if view == "grid" else [],
                           routes=routes())


def _bulk_actions(user_folders, user_tags) -> list[tuple[str, str]]:
    """The choices of the files page's "With selected" menu: (value, label)."""
    choices = [("favorite", "Favourite"), ("unfavorite", "Unfavourite"), ("folder:", "Remove from folder")]
    choices += [(f"folder:{f.id}", f"Move to {f.name}") for f in user_folders]
    for t in user_tags:
        choices += [(f"tag:{t.id}", f"Tag {t.name}"), (f"untag:{t.id}", f"Untag {t.name}")]
    return choices


@bp.post("/dashboard/files/bulk")
@page()
@action("/dashboard/files")
def files_bulk():
    ids = [i for i in request.form.getlist("ids") if i][:1000]
    what = text("action")
    if not ids:
        raise ValidationError("Select at least one file", field="ids")
    if request.form.get("delete"):
        n = len(files.delete_files(runtime(), g.user, ids, bulk=True))
        return done(f"Deleted {counted(n, 'file')}", "/dashboard/files")
    if what in ("favorite", "unfavorite"):
        n = files.set_favorite(g.user, ids, what == "favorite")
        return done(f"Updated {counted(n, 'file')}", "/dashboard/files")
    kind, _, target = what.partition(":")
    if kind == "folder":
        n = folders.move_files(g.user, ids, target or None)
        return done(f"Moved {counted(n, 'file')}", "/dashboard/files")
    if kind in ("tag", "untag") and target:
        n = tags.tag_files(g.user, ids, target, add=kind == "tag")
        return done(f"Updated tags of {counted(n, 'file')}", "/dashboard/files")
    raise ValidationError("Choose an action", field="action")


@bp.post("/dashboard/tags")
@page()
@action("/dashboard/files")
def tag_create():
    tag = tags.create_tag(g.user, text("name"), text("color") or "#3b5bdb")
    return done(f"Created tag {tag.name}", "/dashboard/files")


@bp.post("/dashboard/tags/<tag_id>/delete")
@page()
@action("/dashboard/files")
def tag_delete(tag_id: str):
    tag = tags.delete_tag(g.user, tag_id)
    return done(f"Deleted tag {tag.name}", "/dashboard/files")


@bp.get("/dashboard/upload/file")
@page()
def upload_file_page():
    settings = runtime().settings
    return render_template("upload_file.html", folders=folders.list_folders(g.user),
                           max_size=settings.files.max_file_size, chunk_size=settings.files.chunk_size,
                           chunk_threshold=settings.files.chunk_threshold,
                           default_format=settings.files.default_format)


LANGUAGES = {"txt": "Plain text", "md": "Markdown", "py": "Python", "js": "JavaScript", "ts": "TypeScript",
             "json": "JSON", "html": "HTML", "css": "CSS", "sh": "Shell", "go": "Go", "rs": "Rust", "java": "Java",
             "c": "C", "cpp": "C++", "cs": "C#", "rb": "Ruby", "php": "PHP", "sql": "SQL", "yaml": "YAML",
             "toml": "TOML", "xml": "XML", "diff": "Diff", "log": "Log"}


@bp.get("/dashboard/upload/text")
@page()
def upload_text_page():
    return render_template("upload_text.html", languages=LANGUAGES, folders=folders.list_folders(g.user))
