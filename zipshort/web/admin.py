"""Administration: users (create, role, quota, disable, delete), invites and custom domains (verify by hand,
remove); each page shows and acts on what the administrator may manage (services/roles.py) only."""

from __future__ import annotations

from flask import g, render_template, request

from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.models import FilesQuota, Role
from zipshort.services import accounts, domains, invites, roles
from zipshort.web import bp
from zipshort.web.common import action, base_url, checked, done, page, text


def _role(value: str) -> Role:
    if value not in (Role.USER.value, Role.ADMIN.value):
        raise ValidationError("Role must be USER or ADMIN", field="role")
    return Role(value)


def _quota() -> accounts.Quota:
    kind = text("quota_type") or FilesQuota.NONE.value
    return accounts.parse_quota({"filesType": kind, "maxBytes": text("max_bytes") or None,
                                 "maxFiles": text("max_files") or None, "maxUrls": text("max_urls") or None})


@bp.get("/dashboard/admin/users")
@page(admin=True)
def admin_users():
    users = accounts.list_users(g.user)
    return render_template("admin_users.html", users=users, can_interact=roles.can_interact,
                           can_make_admin=g.user.role == Role.SUPERADMIN.value)


@bp.post("/dashboard/admin/users")
@page(admin=True)
@action("/dashboard/admin/users")
def admin_user_create():
    quota = _quota()  # refused before the user exists: a bad quota must not leave a user without one
    user = accounts.create_user(runtime(), text("username"), request.form.get("password"),
                                _role(text("role") or "USER"), actor=g.user)
    if quota.files_type != FilesQuota.NONE.value or quota.max_urls is not None:
        accounts.update_user(runtime(), user, accounts.UserChanges(quota=quota), actor=g.user)
    return done(f"Created user {user.username}", "/dashboard/admin/users")


def _target(user_id: str):
    """The user, when the administrator may manage them (services/roles.py); NotFound otherwise."""
    return accounts.get_managed_user(g.user, user_id)


@bp.post("/dashboard/admin/users/<user_id>")
@page(admin=True)
@action("/dashboard/admin/users")
def admin_user_update(user_id: str):
    target = _target(user_id)
    quota = _quota()
    changes = accounts.UserChanges(role=_role(text("role") or target.role), quota=quota,
                                   clear_quota=quota.files_type == FilesQuota.NONE.value and quota.max_urls is None,
                                   disabled=checked("disabled"), password=request.form.get("password") or None)
    user = accounts.update_user(runtime(), target, changes, actor=g.user)
    return done(f"Saved user {user.username}", "/dashboard/admin/users")


@bp.post("/dashboard/admin/users/<user_id>/delete")
@page(admin=True)
@action("/dashboard/admin/users")
def admin_user_delete(user_id: str):
    user = accounts.delete_user(runtime(), _target(user_id), actor=g.user)
    return done(f"Deleted user {user.username} and everything they owned", "/dashboard/admin/users")


@bp.get("/dashboard/admin/invites")
@page(admin=True)
def admin_invites():
    return render_template("admin_invites.html", invites=invites.list_invites(g.user), origin_url=base_url(),
                           enabled=runtime().settings.features.invites_enabled)


@bp.post("/dashboard/admin/invites")
@page(admin=True)
@action("/dashboard/admin/invites")
def admin_invite_create():
    invite = invites.create_invite(runtime(), g.user, text("expires") or "never", text("max_uses") or None)
    return done(f"Created invite {invite.code}", "/dashboard/admin/invites")


@bp.post("/dashboard/admin/invites/<invite_id>/delete")
@page(admin=True)
@action("/dashboard/admin/invites")
def admin_invite_delete(invite_id: str):
    invite = invites.delete_invite(g.user, invite_id)
    return done(f"Deleted invite {invite.code}", "/dashboard/admin/invites")


@bp.get("/dashboard/admin/domains")
@page(admin=True)
def admin_domains():
    return render_template("admin_domains.html", rows=domains.list_custom(g.user, everyone=True))


@bp.post("/dashboard/admin/domains/<ident>/verify")
@page(admin=True)
@action("/dashboard/admin/domains")
def admin_domain_verify(ident: str):
    row = domains.set_verified(runtime(), g.user, ident, not checked("unverify"))
    return done(f"{row.hostname} is {'verified' if row.verified else 'no longer verified'}", "/dashboard/admin/domains")


@bp.post("/dashboard/admin/domains/<ident>/delete")
@page(admin=True)
@action("/dashboard/admin/domains")
def admin_domain_delete(ident: str):
    row = domains.delete_custom(runtime(), g.user, ident)
    return done(f"Removed {row.hostname}", "/dashboard/admin/domains")
