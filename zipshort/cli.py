"""The ``zipshort`` command: serve, db, user, key and maintenance groups over the services.

A plain click group (not Flask's ``FlaskGroup``): ``--help`` shows zipshort's own options only, and the
app is built from zipshort's settings, never from ``--app``/``FLASK_APP`` or a ``.env`` file.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext

from zipshort.config import ConfigError
from zipshort.errors import ZipshortError
from zipshort.http import runtime

PASSWORD_ENV = "ZIPSHORT_USER_PASSWORD"  # `user create` / `user set-password` read it when set


def _create_app() -> Flask:
    from zipshort import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


class ZipshortGroup(click.Group):
    """The root group: hands every command a ScriptInfo that builds the app from zipshort's settings."""

    def make_context(self, info_name, args, parent=None, **extra):
        made: list[Flask] = []

        def create() -> Flask:
            made.append(_create_app())
            return made[-1]

        extra.setdefault("obj", ScriptInfo(create_app=create, set_debug_flag=False, load_dotenv_defaults=False))
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        # A command's events (users, keys: the audit log keeps them) are delivered before the process exits.
        ctx.call_on_close(lambda: [runtime(app).events.close() for app in made])
        return ctx


@click.group(cls=ZipshortGroup)
@click.version_option(package_name="zipshort", prog_name="zipshort", message="%(prog)s %(version)s")
def main() -> None:
    """zipshort: self-hosted file and URL host (Zipline compatible)."""


def _load_app() -> Flask:
    return click.get_current_context().ensure_object(ScriptInfo).load_app()


def _fail_on_service_error(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ZipshortError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


def apply_migrations() -> tuple[str | None, str | None]:
    """Upgrade the database to the newest schema (idempotent); return the revisions before and after."""
    from alembic.runtime.migration import MigrationContext
    from flask_migrate import upgrade

    from zipshort.extensions import db

    def revision() -> str | None:
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    before = revision()
    upgrade(directory=current_app.extensions["migrate"].directory)
    return before, revision()


def bootstrap_first_admin() -> None:
    """Create the first SUPERADMIN when there are no users; print a generated password once."""
    from zipshort.services import accounts

    created = accounts.bootstrap_admin(runtime(),
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
@click.option("--workers", default=None, type=click.IntRange(0, 64),
              help="0: waitress, one process; N: the production mode, granian with N worker processes "
                   "(server.workers).")
def serve(host: str | None, port: int | None, threads: int | None, workers: int | None) -> None:
    """Apply migrations, create the first admin if needed, and serve (waitress, or granian's workers)."""
    from zipshort import serving

    _prepare_metrics(workers)
    app = _load_app()
    if workers is None:
        workers = runtime(app).settings.server.workers
    elif workers and os.name != "posix":
        raise click.ClickException("--workers: worker processes (granian) need Linux or macOS")
    from zipshort.eventlog import configure_logging

    configure_logging(runtime(app).settings)
    # Start-up work runs in an app context of its own that ends (and so ends its database session and
    # transaction) before serving: a read left open here would pin SQLite's WAL and hold a PostgreSQL
    # connection "idle in transaction" for the server's whole life.
    with app.app_context():
        apply_migrations()
        bootstrap_first_admin()
        # Before serving, remove what interrupted uploads left (temps, orphan blobs, stuck chunked sessions).
        from zipshort.services.maintenance import clean_storage

        clean_storage(runtime(app))
    if workers:
        serving.run_workers(app, host, port, workers, threads)
    else:
        serving.run(app, host, port, threads)


def _prepare_metrics(workers: int | None) -> None:
    """With metrics on and a multiprocess directory, point prometheus_client at it before the app builds its
    metrics, and clean it (zipshort/telemetry.py). Worker processes always share one: the one configured, else
    ``<instance>/metrics-multiprocess``."""
    from zipshort.config import load_settings
    from zipshort.telemetry import multiprocess_directory, prepare_multiprocess

    try:
        settings = load_settings()
    except ConfigError:
        return  # building the app reports it
    directory = multiprocess_directory(settings)
    if settings.server.workers if workers is None else workers:
        directory = directory or os.path.join(settings.instance_path, "metrics-multiprocess")
    if settings.metrics.enabled and directory:
        prepare_multiprocess(directory)


@main.command()
def routes() -> None:
    """Print every route and what it requires (scope, session or nothing) as a Markdown table."""
    from zipshort.auth import route_table

    click.echo(route_table(_load_app()), nl=False)


# --- database -----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply pending migrations (serve does this itself at start) and say what changed."""
    before, after = apply_migrations()
    if before == after:
        click.echo(f"database already at the newest revision ({after})")
    else:
        click.echo(f"database upgraded from {before or 'an empty schema'} to {after}")


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's schema revision."""
    from alembic.runtime.migration import MigrationContext

    from zipshort.extensions import db as sqla

    with sqla.engine.connect() as conn:
        click.echo(MigrationContext.configure(conn).get_current_revision() or "empty (no migrations applied)")


# --- users --------------------------------------------------------------------------------------

@main.group()
def user() -> None:
    """Manage users."""


def _password_options(fn):
    fn = click.option("--password-stdin", "password_stdin", is_flag=True,
                      help="Read the password from the first line of standard input.")(fn)
    return click.option("--password", default=None,
                        help=f"The password (visible in the process list; prefer --password-stdin or ${PASSWORD_ENV}). "
                             "Asked for when none is given and a terminal is attached.")(fn)


def _read_password(password: str | None, from_stdin: bool) -> str:
    """The new password from --password-stdin, --password, $ZIPSHORT_USER_PASSWORD or a terminal prompt."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("--password-stdin: standard input had no password on its first line")
        return line
    if password is not None:
        return password
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():  # a hidden prompt without a terminal would warn and echo
        raise click.ClickException(f"no password given: use --password-stdin, ${PASSWORD_ENV} or a terminal")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("create")
@click.argument("username")
@_password_options
@click.option("--role", type=click.Choice(["USER", "ADMIN", "SUPERADMIN"]), default="USER")
@with_appcontext
@_fail_on_service_error
def user_create(username: str, password: str | None, password_stdin: bool, role: str) -> None:
    """Create a user."""
    from zipshort.models import Role
    from zipshort.services import accounts

    created = accounts.create_user(runtime(), username, _read_password(password, password_stdin), Role(role))
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
@_password_options
@with_appcontext
@_fail_on_service_error
def user_set_password(username: str, password: str | None, password_stdin: bool) -> None:
    """Set a user's password (ends their sessions)."""
    from zipshort.services import accounts

    changes = accounts.UserChanges(password=_read_password(password, password_stdin))
    accounts.update_user(runtime(), accounts.find_user(username), changes)
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

    accounts.update_user(runtime(), accounts.find_user(username), accounts.UserChanges(role=Role(role)))
    click.echo(f"{username} is now {role}")


@user.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@with_appcontext
@_fail_on_service_error
def user_disable(username: str, enable: bool) -> None:
    """Disable a user (sessions and keys stop working at once), or enable them again."""
    from zipshort.services import accounts

    accounts.update_user(runtime(), accounts.find_user(username), accounts.UserChanges(disabled=not enable))
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")


# --- keys ---------------------------------------------------------------------------------------

@main.group()
def key() -> None:
    """Manage API keys."""


@key.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", "scopes", multiple=True,
              help="Repeat for several; default: links, files, stats and domains (not account, keys or admin).")
@click.option("--expires-days", type=int, default=None, help="Expire after this many days.")
@click.option("--authored-only", "--author-only", "authored_only", is_flag=True,
              help="Role: the key reaches only the links it creates (Shlink's AUTHORED_SHORT_URLS).")
@click.option("--domain", "--domain-only", "domain", metavar="HOST", default=None,
              help="Role: the key reaches only this domain's links and creates links there (Shlink's "
                   "DOMAIN_SPECIFIC): one of the user's verified custom domains or a platform domain.")
@with_appcontext
@_fail_on_service_error
def key_create(username: str, name: str, scopes: tuple[str, ...], expires_days: int | None,
               authored_only: bool, domain: str | None) -> None:
    """Create a key and print it alone on stdout (it is not shown again). Roles are fixed for the key's life."""
    from zipshort.models import utcnow
    from zipshort.services import accounts, apikeys

    expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
    _, plaintext = apikeys.create_key(runtime(), apikeys.Actor.console(), accounts.find_user(username), name=name,
                                      scopes=list(scopes) or None, expires_at=expires,
                                      authored_only=authored_only, domain=domain)
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
        roles = "".join(f"  {role}" for role in apikeys.role_labels(k))
        click.echo(f"{k.id}  {k.prefix}…  {k.name:<20} {state:<8} last used {used}  [{k.scopes}]{roles}")


@key.command("revoke")
@click.argument("username")
@click.argument("key_id")
@with_appcontext
@_fail_on_service_error
def key_revoke(username: str, key_id: str) -> None:
    """Revoke a key; it stops working on the next request."""
    from zipshort.services import accounts, apikeys

    apikeys.revoke_key(runtime(), apikeys.Actor.console(), accounts.find_user(username), key_id)
    click.echo(f"revoked {key_id}")


# --- maintenance --------------------------------------------------------------------------------

@main.command()
@click.option("--remove", is_flag=True, help="Delete orphan blobs and stale temp files (default: report only).")
@click.option("--min-age-minutes", default=60, show_default=True, help="Leave blobs and temps younger than this.")
@with_appcontext
def fsck(remove: bool, min_age_minutes: int) -> None:
    """Reconcile stored blobs with file rows; exit 1 when a row has lost its blob."""
    from zipshort.services.maintenance import check_storage

    report = check_storage(runtime(), remove=remove, temp_age=dt.timedelta(minutes=min_age_minutes))
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
    from zipshort.services.maintenance import prune_now

    report = prune_now(runtime())
    click.echo(f"pruned {report.files} expired files")
    click.echo(f"forgot {report.sessions} abandoned chunked uploads")
    click.echo(f"removed {report.invites} expired or used-up invites")
