"""The ``zipshort`` command: serve, user, key and db groups over the services."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from zipshort.config import ConfigError
from zipshort.errors import ZipshortError


def _create_app():
    from zipshort import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """zipshort: self-hosted file and URL host (Zipline compatible)."""


def _fail_on_service_error(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ZipshortError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


def apply_migrations() -> None:
    """Upgrade the database to the newest schema (idempotent)."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


def bootstrap_first_admin() -> None:
    """Create the first SUPERADMIN when there are no users; print a generated password once."""
    from zipshort.services import accounts

    created = accounts.bootstrap_admin(current_app.extensions["zipshort"],
                                       os.environ.get("ZIPSHORT_ADMIN_USERNAME"),
                                       os.environ.get("ZIPSHORT_ADMIN_PASSWORD"))
    if created is None:
        return
    user, password = created
    if password:
        click.echo(f"Created the first administrator: username '{user.username}', password '{password}'"
                   " (shown once; change it after logging in)")
    else:
        click.echo(f"Created the first administrator '{user.username}' from ZIPSHORT_ADMIN_USERNAME/PASSWORD")


@main.command()
@click.option("--host", default=None, help="Address to listen on (server.host).")
@click.option("--port", default=None, type=int, help="Port to listen on (server.port).")
@click.option("--threads", default=None, type=int, help="waitress worker threads (server.threads).")
@with_appcontext
def serve(host: str | None, port: int | None, threads: int | None) -> None:
    """Apply migrations, create the first admin if needed, and serve with waitress."""
    import waitress

    settings = current_app.extensions["zipshort"].settings
    apply_migrations()
    bootstrap_first_admin()
    # issue 10 (uploads): before serving, remove what interrupted uploads left (temps, orphan blobs, sessions).
    from zipshort.services.maintenance import clean_storage
    clean_storage(current_app.extensions["zipshort"])
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    click.echo(f"zipshort listening on http://{host}:{port} (instance: {settings.instance_path})")
    sys.stdout.flush()
    flusher = _start_view_flusher()
    pruner = _start_pruner()
    # Worker threads hand the GIL back and forth around every database call; Python's default
    # 5 ms switch interval turns each hand-back into a wait (reference/performance.md).
    sys.setswitchinterval(settings.server.gil_switch_interval_ms / 1000)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwind, so pending view counts are written
    try:
        waitress.serve(current_app._get_current_object(), host=host, port=port,
                       **waitress_options(settings, threads))
    finally:
        if pruner is not None:
            pruner.stop()
        if flusher is not None:
            flusher.stop()


def waitress_options(settings, threads: int | None = None) -> dict:
    """The waitress limits zipshort runs with (tests start their servers with the same)."""
    return {
        "threads": threads or settings.server.threads,
        "max_request_body_size": settings.server.max_request_body_size,
        "max_request_header_size": 64 * 1024,
        "channel_timeout": settings.server.channel_timeout,
        "expose_tracebacks": False,
        "ident": "zipshort",
    }


def _start_pruner():
    """Delete expired files in the background (files.prune_interval_seconds; 0 = only `zipshort prune`)."""
    from zipshort.services.maintenance import Pruner

    rt = current_app.extensions["zipshort"]
    interval = rt.settings.files.prune_interval_seconds
    return Pruner(current_app._get_current_object(), rt.storage, interval).start() if interval > 0 else None


def _start_view_flusher():
    """Write batched view counts in the background (urls.view_flush_seconds; 0 counts in the request)."""
    from zipshort.extensions import db
    from zipshort.services.visits import ViewFlusher

    rt = current_app.extensions["zipshort"]
    interval = rt.settings.urls.view_flush_seconds
    return ViewFlusher(db.engine, rt.views, interval).start() if interval > 0 else None


# --- users --------------------------------------------------------------------------------------

@main.group()
def user() -> None:
    """Manage users."""


def _runtime():
    return current_app.extensions["zipshort"]


@user.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["USER", "ADMIN", "SUPERADMIN"]), default="USER")
@with_appcontext
@_fail_on_service_error
def user_create(username: str, password: str, role: str) -> None:
    """Create a user."""
    from zipshort.models import Role
    from zipshort.services import accounts

    created = accounts.create_user(_runtime(), username, password, Role(role))
    click.echo(f"created {created.role} {created.username} ({created.id})")


@user.command("list")
@with_appcontext
def user_list() -> None:
    """List users."""
    from zipshort.services import accounts

    for u in accounts.list_users():
        flags = " disabled" if u.disabled else ""
        click.echo(f"{u.id}  {u.username:<24} {u.role:<10} links={u.url_count}{flags}")


@user.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
@_fail_on_service_error
def user_set_password(username: str, password: str) -> None:
    """Set a user's password (ends their sessions)."""
    from zipshort.services import accounts

    accounts.update_user(_runtime(), accounts.find_user(username), accounts.UserChanges(password=password))
    click.echo(f"password changed for {username}")


@user.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["USER", "ADMIN", "SUPERADMIN"]))
@with_appcontext
@_fail_on_service_error
def user_set_role(username: str, role: str) -> None:
    """Change a user's role."""
    from zipshort.models import Role
    from zipshort.services import accounts

    accounts.update_user(_runtime(), accounts.find_user(username), accounts.UserChanges(role=Role(role)))
    click.echo(f"{username} is now {role}")


@user.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@with_appcontext
@_fail_on_service_error
def user_disable(username: str, enable: bool) -> None:
    """Disable a user (sessions and keys stop working at once), or enable them again."""
    from zipshort.services import accounts

    accounts.update_user(_runtime(), accounts.find_user(username), accounts.UserChanges(disabled=not enable))
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")


# --- keys ---------------------------------------------------------------------------------------

@main.group()
def key() -> None:
    """Manage API keys."""


@key.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Repeat for several; default: every scope but admin.")
@click.option("--expires-days", type=int, default=None, help="Expire after this many days.")
@with_appcontext
@_fail_on_service_error
def key_create(username: str, name: str, scopes: tuple[str, ...], expires_days: int | None) -> None:
    """Create a key and print it alone on stdout (it is not shown again)."""
    from zipshort.models import utcnow
    from zipshort.services import accounts, apikeys

    expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
    owner = accounts.find_user(username)
    if "admin" in scopes and not owner.is_administrator:
        raise click.ClickException("only administrators can hold the admin scope")
    _, plaintext = apikeys.create_key(owner, name, list(scopes) or None, expires)
    click.echo(plaintext)


@key.command("list")
@click.argument("username")
@with_appcontext
@_fail_on_service_error
def key_list(username: str) -> None:
    """List a user's keys (never their values)."""
    from zipshort.services import accounts, apikeys

    for k in apikeys.list_keys(accounts.find_user(username)):
        state = "revoked" if k.revoked_at else "active"
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
        click.echo(f"{k.id}  {k.prefix}…  {k.name:<20} {state:<8} last used {used}  [{k.scopes}]")


@key.command("revoke")
@click.argument("username")
@click.argument("key_id")
@with_appcontext
@_fail_on_service_error
def key_revoke(username: str, key_id: str) -> None:
    """Revoke a key; it stops working on the next request."""
    from zipshort.services import accounts, apikeys

    apikeys.revoke_key(accounts.find_user(username), key_id)
    click.echo(f"revoked {key_id}")


# --- maintenance --------------------------------------------------------------------------------

@main.command()
@click.option("--remove", is_flag=True, help="Delete orphan blobs and stale temp files (default: report only).")
@click.option("--min-age-minutes", default=60, show_default=True, help="Leave blobs and temps younger than this.")
@with_appcontext
def fsck(remove: bool, min_age_minutes: int) -> None:
    """Reconcile stored blobs with file rows; exit 1 when a row has lost its blob."""
    from zipshort.services.maintenance import fsck as run_fsck

    report = run_fsck(_runtime().storage, remove=remove, temp_age=dt.timedelta(minutes=min_age_minutes))
    verb = "removed" if remove else "found"
    click.echo(f"orphan blobs {verb}: {len(report.orphan_blobs)}")
    for key in report.orphan_blobs:
        click.echo(f"  {key}")
    if remove:
        click.echo(f"stale temp files removed: {report.temp_removed}")
    click.echo(f"files missing their blob: {len(report.missing_blobs)}")
    for name in report.missing_blobs:
        click.echo(f"  {name}")
    if report.missing_blobs:
        sys.exit(1)


@main.command()
@with_appcontext
def prune() -> None:
    """Delete expired files now (rows and quota first, then blobs)."""
    from zipshort.services.invites import prune_invites
    from zipshort.services.maintenance import prune_expired
    from zipshort.services.partials import prune_abandoned

    click.echo(f"pruned {prune_expired(_runtime().storage)} expired files")
    click.echo(f"forgot {prune_abandoned(_runtime().storage)} abandoned chunked uploads")
    click.echo(f"removed {prune_invites()} expired or used-up invites")
