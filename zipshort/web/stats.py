"""Statistics pages: visits of one link or file, the administrator's server-wide visits (orphan visits
included) and Zipline's instance metrics.

Each page is a shell: static/stats.js fetches the JSON API with the session cookie (ANALYTICS.md's read
API, Zipline's ``GET /api/stats``) and draws it with the vendored uPlot. The views only check that the
thing exists and is the caller's, and name the API to read.
"""

from __future__ import annotations

from flask import g, render_template

from zipshort.errors import Forbidden, NotFound
from zipshort.http import runtime
from zipshort.services import files, links
from zipshort.web import bp
from zipshort.web.common import base_url, page
from zipshort.web.links import short_url


@bp.get("/dashboard/urls/<link_id>/stats")
@page()
def url_stats_page(link_id: str):
    link = links.get_owned_link(g.user, link_id)
    return render_template("stats.html", kind="link", title=short_url(link), subtitle=link.destination,
                           api=f"/api/user/urls/{link.id}/stats", csv=f"/api/user/urls/{link.id}/visits",
                           back=("/dashboard/urls", "Links"), edit=f"/dashboard/urls/{link.id}/edit")


@bp.get("/dashboard/files/<file_id>/stats")
@page()
def file_stats_page(file_id: str):
    row = files.get_owned_file(g.user, file_id)
    route = runtime().settings.files.route
    return render_template("stats.html", kind="file", title=row.original_name or row.name,
                           subtitle=f"{base_url()}{route}/{row.name}", api=f"/api/user/files/{row.id}/stats",
                           csv=f"/api/user/files/{row.id}/visits", back=("/dashboard/files", "Files"), edit=None)


@bp.get("/dashboard/admin/visits")
@page(admin=True)
def admin_visits_page():
    return render_template("stats.html", kind="server", title="Visits on this server", subtitle=None,
                           api="/api/server/stats/visits", csv=None, back=None, edit=None)


def metrics_allowed(user) -> bool:
    """Whether ``user`` may see the instance metrics (Zipline's features.metrics settings)."""
    features = runtime().settings.features
    return features.metrics_enabled and (not features.metrics_admin_only or user.is_administrator)


@bp.get("/dashboard/metrics")
@page()
def metrics_page():
    features = runtime().settings.features
    if not features.metrics_enabled:
        raise NotFound("Metrics are turned off on this server", code="metrics_disabled")
    if not metrics_allowed(g.user):
        raise Forbidden("Only administrators may see the metrics", code="not_admin")
    return render_template("metrics.html", per_user=features.metrics_show_user_specific)
