"""Login, logout, first-run setup and the dashboard home. Every form carries and checks a CSRF token."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, session
from flask_login import current_user, login_user, logout_user

from zipshort.auth import client_address, runtime
from zipshort.errors import RateLimited, Unauthorized, ValidationError
from zipshort.extensions import csrf
from zipshort.services import accounts, files, links
from zipshort.web import bp


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, schemes, ``//``, ``/\\``) is /dashboard."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/dashboard"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/dashboard"
    return value


def _start_session(user) -> None:
    session.clear()
    login_user(user)
    session.permanent = True


@bp.get("/")
def index():
    return redirect("/dashboard" if current_user.is_authenticated else "/auth/login")


@bp.route("/auth/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        csrf.protect()  # login CSRF too: nobody can log a visitor into another account
    if accounts.count_users() == 0:
        return redirect("/setup")
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url)
    try:
        user = accounts.authenticate(runtime(), request.form.get("username"), request.form.get("password"),
                                     client_address())
    except (Unauthorized, ValidationError) as exc:
        return render_template("login.html", next_url=next_url, error=exc.message,
                               username=request.form.get("username", "")), 401
    except RateLimited as exc:
        page = render_template("login.html", next_url=next_url, error=exc.message)
        return page, 429, {"Retry-After": str(exc.retry_after or 60)}
    _start_session(user)
    return redirect(next_url, 303)


@bp.post("/auth/logout")
def logout():
    csrf.protect()
    logout_user()
    session.clear()
    return redirect("/auth/login", 303)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if request.method == "POST":
        csrf.protect()
    if accounts.count_users():
        return redirect("/auth/login")
    if request.method == "GET":
        return render_template("setup.html")
    try:
        user = accounts.setup_first_user(runtime(), request.form.get("username"), request.form.get("password"))
    except ValidationError as exc:
        return render_template("setup.html", error=exc.message), 400
    _start_session(user)
    return redirect("/dashboard", 303)


@bp.get("/dashboard")
def dashboard():
    if not current_user.is_authenticated:
        return redirect(f"/auth/login?next={request.path}")
    g.user = current_user._get_current_object()
    recent_files, _ = files.list_files(g.user, files.FileQuery(per_page=6))
    recent_links = links.list_links(g.user)[:6]
    return render_template("dashboard.html", user=g.user, stats=files.user_stats(g.user),
                           recent_files=recent_files, recent_links=recent_links,
                           files_route=runtime().settings.files.route, urls_route=runtime().settings.urls.route)
