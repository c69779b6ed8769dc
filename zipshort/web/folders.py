"""Folders: the owner's page (create, rename, public and open-for-upload flags, delete) and /folder/<id>."""

from __future__ import annotations

import math

from flask import g, render_template, request

from zipshort.auth import public_route
from zipshort.http import runtime
from zipshort.services import files, folders
from zipshort.services.folders import FolderChanges
from zipshort.web import bp
from zipshort.web.cards import file_cards
from zipshort.web.common import action, checked, done, page, text

PUBLIC_PER_PAGE = 48


@bp.get("/dashboard/folders")
@page()
def folders_page():
    return render_template("folders.html", folders=folders.list_folders(g.user), counts=folders.file_counts(g.user))


@bp.post("/dashboard/folders")
@page()
@action("/dashboard/folders")
def folder_create():
    folder = folders.create_folder(g.user, text("name"), public=checked("public"))
    if checked("allow_uploads"):
        folders.update_folder(g.user, folder.id, FolderChanges(allow_uploads=True))
    return done(f"Created folder {folder.name}", "/dashboard/folders")


@bp.post("/dashboard/folders/<folder_id>")
@page()
@action("/dashboard/folders")
def folder_update(folder_id: str):
    folder = folders.update_folder(g.user, folder_id, FolderChanges(
        name=text("name"), public=checked("public"), allow_uploads=checked("allow_uploads")))
    return done(f"Saved folder {folder.name}", "/dashboard/folders")


@bp.post("/dashboard/folders/<folder_id>/delete")
@page()
@action("/dashboard/folders")
def folder_delete(folder_id: str):
    folder = folders.delete_folder(g.user, folder_id)
    return done(f"Deleted folder {folder.name} (its files were kept)", "/dashboard/folders")


@bp.get("/folder/<folder_id>")
@public_route("public folders only")
def public_folder(folder_id: str):
    folder = folders.public_folder(folder_id)
    try:
        page_no = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page_no = 1
    rows, total = files.list_files(folder.user, files.FileQuery(page=page_no, per_page=PUBLIC_PER_PAGE,
                                                                folder_id=folder.id))
    settings = runtime().settings
    return render_template("folder_public.html", folder=folder, cards=file_cards(rows), total=total, page=page_no,
                           pages=max(1, math.ceil(total / PUBLIC_PER_PAGE)),
                           routes={"files": settings.files.route, "urls": settings.urls.route},
                           max_size=settings.files.max_file_size)
