"""Settings: password, two-factor (TOTP), API keys, the Zipline token, embed settings, client configs."""

from __future__ import annotations

import datetime as dt

from flask import Response, g, render_template, request

from zipshort.auth import actor, begin_browser_session, client_address
from zipshort.errors import NotFound, ValidationError
from zipshort.http import runtime
from zipshort.models import utcnow
from zipshort.services import accounts, apikeys, audit, domainproofs, domains, dynamic, mfa
from zipshort.web import bp, generators
from zipshort.web.common import action, base_url, checked, done, page, text

EXPIRY_CHOICES = {"": "Never", "1d": "1 day", "7d": "7 days", "30d": "30 days", "90d": "90 days", "365d": "1 year"}
SCOPE_LABELS = {"links:read": "Read links", "links:write": "Create and change links", "files:read": "Read files",
                "files:write": "Upload and change files", "stats:read": "Read statistics",
                "domains:read": "Read custom domains", "domains:write": "Add and remove custom domains",
                "webhooks:read": "List webhook endpoints and their deliveries",
                "webhooks:write": "Add, change and remove webhook endpoints",
                "keys:read": "List API keys", "keys:write": "Create and revoke API keys",
                "account": "Manage the account: password, username, token, 2FA, sessions",
                "admin": "Administer users (administrators only)"}
EMBED_FIELDS = ("embedTitle", "embedDescription", "embedSiteName", "embedColor", "content")


def render_settings(status: int = 200, **extra):
    """The Settings page; other modules' forms show it again with what they made (a webhook's new secret)."""
    return _render(status, **extra)


def _render(status: int = 200, **extra):
    from zipshort.web.webhooks import webhook_section

    user = g.user
    totp = None
    if runtime().settings.features.totp_enabled and not user.totp_secret:
        secret = extra.pop("totp_secret", None) or mfa.new_secret()
        uri = mfa.provisioning_uri(runtime(), user, secret)
        totp = {"secret": secret, "qr": mfa.qr_svg_data_url(uri), "uri": uri}
    scopes = {k: v for k, v in SCOPE_LABELS.items() if k != "admin" or user.is_administrator}
    custom_domains = domains.list_custom(user)
    return render_template("settings.html", keys=apikeys.list_keys(user), token=apikeys.get_token(runtime(), user),
                           signing_secret=dynamic.secret_of(user), dynamic_base=f"{base_url()}/dl/{user.id}/",
                           totp=totp, totp_enabled=runtime().settings.features.totp_enabled, scopes=scopes,
                           default_scopes=apikeys.DEFAULT_SCOPES,
                           expiry_choices=EXPIRY_CHOICES, view=user.view or {}, generator_files=generators.FILES,
                           domains=runtime().settings.allowed_domains, now=utcnow(),
                           custom_domains=custom_domains,
                           key_domains=[d.hostname for d in domains.platform_domains(runtime(), request.host)]
                           + [d.hostname for d in custom_domains if d.verified],
                           challenge_records={d.id: domainproofs.challenge_record(d) for d in custom_domains},
                           custom_domains_limit=runtime().settings.urls.custom_domains_per_user,
                           **webhook_section(user), audit_entries=audit.account_entries(user), **extra), status


@bp.get("/dashboard/settings")
@page()
def settings_page():
    return _render()


@bp.post("/dashboard/settings/password")
@page()
@action("/dashboard/settings")
def change_password():
    new = request.form.get("new_password") or ""
    if new != (request.form.get("confirm_password") or ""):
        raise ValidationError("The new passwords do not match", field="confirm_password")
    user = accounts.change_password(runtime(), g.user, request.form.get("current_password"), new, client_address())
    begin_browser_session(user)  # every other session of this account has ended; this one goes on
    return done("Password changed; your other sessions were logged out", "/dashboard/settings")


@bp.post("/dashboard/settings/totp/enable")
@page()
def totp_enable():
    try:
        mfa.enable(runtime(), g.user, request.form.get("secret"), request.form.get("code"))
    except ValidationError as exc:  # keep the same secret so the app the person just set up still matches
        return _render(400, totp_error=exc.message, totp_secret=request.form.get("secret"))
    return done("Two-factor authentication is on", "/dashboard/settings")


@bp.post("/dashboard/settings/totp/disable")
@page()
@action("/dashboard/settings")
def totp_disable():
    mfa.disable(runtime(), g.user, request.form.get("code"))
    return done("Two-factor authentication is off", "/dashboard/settings")


@bp.post("/dashboard/settings/keys")
@page()
@action("/dashboard/settings")
def key_create():
    expiry = text("expires")
    if expiry not in EXPIRY_CHOICES:
        raise ValidationError("Choose an expiry from the list", field="expires")
    expires_at = utcnow() + dt.timedelta(days=int(expiry[:-1])) if expiry else None
    scopes = request.form.getlist("scopes")
    if not scopes:
        raise ValidationError("Choose at least one scope", field="scopes")
    row, plaintext = apikeys.create_key(runtime(), actor(), g.user, name=text("name"), scopes=scopes,
                                        expires_at=expires_at, bot=checked("bot"),
                                        authored_only=checked("authored_only"), domain=text("domain") or None,
                                        request_host=request.host)
    # Shown once, in this answer only: never stored, never put in a redirect or the session.
    return _render(201, new_key={"name": row.name, "value": plaintext})


@bp.post("/dashboard/settings/keys/<key_id>/revoke")
@page()
@action("/dashboard/settings")
def key_revoke(key_id: str):
    row = apikeys.revoke_key(runtime(), actor(), g.user, key_id)
    return done(f"Revoked key {row.name}", "/dashboard/settings")


@bp.post("/dashboard/settings/domains")
@page()
@action("/dashboard/settings")
def domain_add():
    row = domains.add_custom(runtime(), g.user, text("hostname"), request.host)
    return done(f"Added {row.hostname}: create its DNS TXT record, then check it", "/dashboard/settings#domains-h")


@bp.post("/dashboard/settings/domains/<ident>/verify")
@page()
@action("/dashboard/settings#domains-h")
def domain_check(ident: str):
    row = domainproofs.check_proof(runtime(), g.user, ident)
    return done(f"{row.hostname} is verified: links on it answer there now", "/dashboard/settings#domains-h")


@bp.post("/dashboard/settings/domains/<ident>/delete")
@page()
@action("/dashboard/settings")
def domain_delete(ident: str):
    row = domains.delete_custom(runtime(), g.user, ident)
    return done(f"Removed {row.hostname}", "/dashboard/settings#domains-h")


@bp.post("/dashboard/settings/token/reset")
@page()
@action("/dashboard/settings")
def token_reset():
    apikeys.rotate_token(runtime(), g.user)
    return done("Your token was reset; update your clients", "/dashboard/settings")


@bp.post("/dashboard/settings/dynamic/rotate")
@page()
@action("/dashboard/settings")
def dynamic_rotate():
    dynamic.rotate_secret(runtime(), g.user)
    return done("New signing secret: Dynamic Links signed with the old one stop working", "/dashboard/settings")


@bp.post("/dashboard/settings/embed")
@page()
@action("/dashboard/settings")
def embed_save():
    view = dict(g.user.view or {})
    view["embed"] = checked("embed")
    view["enabled"] = checked("enabled")  # show ``content`` on the file's page
    for field in EMBED_FIELDS:
        if text(field):
            view[field] = text(field)
        else:
            view.pop(field, None)
    accounts.update_user(runtime(), g.user, accounts.UserChanges(view=view), actor=g.user)
    return done("Embed settings saved", "/dashboard/settings")


def _digits(value: str) -> bool:
    """ASCII digits only, short enough for a config (``'²'.isdigit()`` is true)."""
    return value.isascii() and value.isdigit() and len(value) <= 10


@bp.get("/dashboard/settings/generators/<name>")
@page()
def generator(name: str):
    if name not in generators.FILES:
        raise NotFound("No such client configuration", code="not_found")
    args = request.args
    domain = args.get("domain", "")
    if domain and domain.lower() not in runtime().settings.allowed_domains:
        raise ValidationError("Choose a domain from the list", field="domain")
    options = generators.Options(
        format=args.get("format", "") if args.get("format") in ("", "random", "uuid", "date", "name", "gfycat") else "",
        expiry=args.get("expiry", "") if args.get("expiry") in EXPIRY_CHOICES else "",
        max_views=args.get("max_views", "") if _digits(args.get("max_views", "")) else "",
        compression=args.get("compression", "") if _digits(args.get("compression", "")) else "",
        original_name=args.get("original_name") == "on", domain=domain)
    body = generators.render(name, base_url(), apikeys.get_token(runtime(), g.user), options)
    response = Response(body, mimetype=generators.FILES[name])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"  # it holds the token
    return response
