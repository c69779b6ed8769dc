"""Signing in and out: login (with the TOTP step), first-run setup, registration and invites."""

from __future__ import annotations

import time
from typing import Any

from flask import redirect, render_template, request, session
from flask_login import current_user

from zipshort.auth import begin_browser_session, client_address, end_browser_session, public_route
from zipshort.errors import Conflict, Forbidden, RateLimited, Unauthorized, ValidationError, ZipshortError
from zipshort.extensions import csrf
from zipshort.http import original_path, redirect_answer, runtime, visit_facts
from zipshort.services import accounts, analytics, domains, invites, mfa
from zipshort.web import bp
from zipshort.web.common import safe_next

MFA_WINDOW_SECONDS = 300  # how long the password step stays good while the code is typed


def _refused(template: str, exc: ZipshortError, status: int | None = None, **context):
    headers = {"Retry-After": str(exc.retry_after or 60)} if isinstance(exc, RateLimited) else {}
    return render_template(template, error=exc.message, **context), status or exc.status, headers


@bp.get("/")
@public_route("sends visitors to the dashboard, the login page or the base URL redirect")
def index():
    if current_user.is_authenticated:  # a user coming back to the dashboard
        return redirect("/dashboard")
    rt = runtime()  # a visitor: Shlink's base_url orphan visit, sent to the special redirect when one is set
    target = domains.special_redirect(rt, domains.BASE_URL, request.host, original_path())
    analytics.orphan_visit(rt, domains.BASE_URL, visit_facts, target)
    return redirect_answer(rt.settings, target) if target else redirect("/auth/login")


@bp.route("/auth/login", methods=["GET", "POST"])
@public_route("the login form; CSRF token; rate limited")
def login():
    if request.method == "POST":
        csrf.protect()  # login CSRF too: nobody can log a visitor into another account
    if accounts.count_users() == 0:
        return redirect("/setup")
    next_url = safe_next(request.values.get("next"))
    features = runtime().settings.features
    context: dict[str, Any] = {"next_url": next_url,
                               "can_register": features.user_registration and not features.invites_enabled}
    if request.method == "GET":
        return render_template("login.html", **context)
    username = request.form.get("username", "")
    try:
        user = accounts.authenticate(runtime(), username, request.form.get("password"), client_address())
    except (Unauthorized, ValidationError) as exc:
        return _refused("login.html", exc, 401, username=username, **context)
    except RateLimited as exc:
        return _refused("login.html", exc, **context)
    if accounts.needs_second_factor(runtime(), user):
        session.clear()
        session["mfa"] = {"user": user.get_id(), "at": int(time.time()), "next": next_url}
        return render_template("login_totp.html")
    begin_browser_session(user, "password")  # a fresh session (no fixation)
    return redirect(next_url, 303)


@bp.post("/auth/login/totp")
@public_route("the second step of a login in progress; CSRF token; rate limited")
def login_totp():
    csrf.protect()
    pending = session.get("mfa") or {}
    user_id, _, version = str(pending.get("user", "")).partition(":")
    if not user_id or time.time() - pending.get("at", 0) > MFA_WINDOW_SECONDS:
        session.pop("mfa", None)
        return redirect("/auth/login", 303)
    try:
        user = accounts.get_user(user_id)
        if user.disabled or str(user.session_version) != version:
            raise Unauthorized("Please log in again", code="not_logged_in")
        mfa.check_login_code(runtime(), user, request.form.get("code"))
    except (ValidationError, RateLimited) as exc:
        return _refused("login_totp.html", exc, 401 if isinstance(exc, ValidationError) else None)
    except ZipshortError:
        session.pop("mfa", None)
        return redirect("/auth/login", 303)
    begin_browser_session(user, "totp")  # a fresh session (no fixation)
    return redirect(safe_next(pending.get("next")), 303)


@bp.post("/auth/logout")
@public_route("ends the browser's session; CSRF token")
def logout():
    csrf.protect()
    end_browser_session()
    return redirect("/auth/login", 303)


@bp.route("/setup", methods=["GET", "POST"])
@public_route("only until the first user exists; CSRF token")
def setup():
    if request.method == "POST":
        csrf.protect()
    if accounts.count_users():
        return redirect("/auth/login")
    if request.method == "GET":
        return render_template("setup.html")
    username = request.form.get("username", "")
    try:
        user = accounts.setup_first_user(runtime(), username, request.form.get("password"))
    except ValidationError as exc:
        return render_template("setup.html", error=exc.message, username=username), 400
    except Forbidden:
        return redirect("/auth/login", 303)
    begin_browser_session(user, "setup")  # a fresh session (no fixation)
    return redirect("/dashboard", 303)


@bp.route("/auth/register", methods=["GET", "POST"])
@public_route("open registration or an invite code; CSRF token; rate limited")
def register():
    if request.method == "POST":
        csrf.protect()
    features = runtime().settings.features
    code = (request.values.get("code") or "").strip()
    invite = invites.check_invite(code) if code and features.invites_enabled else None
    open_form = (features.user_registration and not features.invites_enabled) or invite is not None
    context: dict[str, Any] = {"code": code, "invite": invite, "open_form": open_form,
                               "invites": features.invites_enabled}
    if request.method == "GET":
        if code and invite is None:
            return render_template("register.html", error="Invalid invite code", **context), 400
        return render_template("register.html", **context), 200 if open_form or features.invites_enabled else 403
    username = request.form.get("username", "")
    try:
        user = accounts.register(runtime(), username, request.form.get("password"), code or None, client_address())
    except (ValidationError, Forbidden, Conflict, RateLimited) as exc:
        return _refused("register.html", exc, username=username, **context)
    begin_browser_session(user, "registration")  # a fresh session (no fixation)
    return redirect("/dashboard", 303)


@bp.get("/invite/<code>")
@public_route("redirects to the registration form")
def invite_link(code: str):
    return redirect("/auth/register?code=" + code if code.isalnum() else "/auth/register", 302)
