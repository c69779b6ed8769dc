"""zipshort: a self-hosted file and URL host that Zipline's clients work against unchanged.

``create_app`` is a short list of steps: settings → Flask → extensions → blueprints → errors → WSGI layers.
It has no side effects beyond creating the instance folder: no migrations, no network.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import cast

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from zipshort.config import REPO_ROOT, Settings, load_settings

__all__ = ["create_app"]



def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI application for ``settings`` (loaded from the environment when omitted)."""
    settings = settings or load_settings()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    from zipshort.http import SegmentConverter, ZipshortRequest

    app = Flask("zipshort", instance_path=settings.instance_path, root_path=str(REPO_ROOT / "zipshort"),
                template_folder=str(REPO_ROOT / "templates"), static_folder=str(REPO_ROOT / "static"))
    app.request_class = ZipshortRequest
    app.url_map.converters["default"] = SegmentConverter  # before any route is added
    _configure(app, settings)
    _register_extensions(app, settings)
    _register_blueprints(app, settings)
    _register_errors(app)
    _register_headers(app)
    _register_transaction_end(app)
    _register_events(app, settings)
    _wrap_wsgi(app, settings)
    return app


def _wrap_wsgi(app: Flask, settings: Settings) -> None:
    """The WSGI layers around Flask, outermost first: ProxyFix (``core.trust_proxy``), then the redirect lane
    (``public/lane.py``: cached redirects answered below Flask's dispatch)."""
    from zipshort.public.lane import RedirectLane

    app.wsgi_app = RedirectLane(app, app.wsgi_app)  # type: ignore[method-assign]
    if settings.core.trust_proxy:
        n = settings.core.trust_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]


def _configure(app: Flask, settings: Settings) -> None:
    https = settings.core.return_https_urls
    app.config.update(
        SECRET_KEY=settings.core.secret,
        TESTING=settings.core.testing,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        SESSION_COOKIE_NAME="zipshort_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=https,
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,  # JSON and form bodies; uploads raise it per request
        # Non-file form fields held in memory. Werkzeug also bounds its multipart read buffer with this,
        # so it must stay well above its 64 KiB reads (files themselves are spooled to disk).
        MAX_FORM_MEMORY_SIZE=500_000,
        MAX_FORM_PARTS=64,
        WTF_CSRF_TIME_LIMIT=None,
        # Forms call csrf.protect() themselves (csrf.protect()); a test checks that every
        # state-changing page route refuses a request without a token. Checking by default would
        # cost every redirect a before_request hook.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_SSL_STRICT=https,
        TRUSTED_HOSTS=_trusted_hosts(settings, app),
    )
    cast(DefaultJSONProvider, app.json).sort_keys = False  # Flask's default provider


def _trusted_hosts(settings: Settings, app: Flask) -> list[str] | None:
    if not settings.core.trusted_hosts:
        return None
    from zipshort.http import TrustedHosts, runtime
    from zipshort.services.domains import verified_hostnames

    return TrustedHosts(list(settings.core.trusted_hosts),
                        lambda engine: verified_hostnames(runtime(app), engine), app)


def _engine_options(settings: Settings) -> dict:
    if settings.database_url.startswith("sqlite"):
        timeout = settings.database.sqlite_busy_timeout_ms / 1000
        return {"connect_args": {"check_same_thread": False, "timeout": timeout}}
    # No pre-ping: it costs a round trip per checkout, a third of the redirect's budget. A dropped
    # connection is handled when it is used: the hot path retries on a fresh pool, the ORM path
    # answers 503 once and SQLAlchemy replaces the pool (see errorhandlers and database.py).
    return {"pool_size": settings.database.pool_size, "max_overflow": settings.server.threads,
            "pool_pre_ping": False, "pool_recycle": 1800, "connect_args": {"connect_timeout": 5}}


def _register_extensions(app: Flask, settings: Settings) -> None:
    from zipshort import models  # noqa: F401  (registers the tables)
    from zipshort.database import install_engine_hooks
    from zipshort.extensions import csrf, db, login_manager, migrate
    from zipshort.http import RUNTIME_KEY
    from zipshort.runtime import Runtime

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    # zipshort never issues remember-me cookies; Flask-Login's hook for them would touch the
    # session on every response, the redirect's included.
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    csrf.init_app(app)
    with app.app_context():
        install_engine_hooks(db.engine, settings.database.sqlite_busy_timeout_ms)
    app.extensions[RUNTIME_KEY] = Runtime.build(settings)


def _register_blueprints(app: Flask, settings: Settings) -> None:
    from zipshort import auth  # noqa: F401  (user loader)
    from zipshort.api.h0p import bp as h0p_bp
    from zipshort.api.hoko import bp as hoko_bp
    from zipshort.api.hozip import bp as hozip_bp
    from zipshort.api.openapi import bp as openapi_bp
    from zipshort.api.prometheus import bp as prometheus_bp
    from zipshort.api.zipline import bp as zipline_bp
    from zipshort.extensions import csrf
    from zipshort.public import make_blueprint
    from zipshort.web import bp as web_bp

    apis = [zipline_bp, hozip_bp, h0p_bp, hoko_bp, openapi_bp]
    if settings.shlink.enabled:
        from zipshort.api.shlink import bp as shlink_bp

        apis.append(shlink_bp)
    for api in apis:
        csrf.exempt(api)  # programs authenticate with keys; session calls are checked in auth.py
        app.register_blueprint(api)
    app.register_blueprint(make_blueprint(settings))
    app.register_blueprint(web_bp)
    app.register_blueprint(prometheus_bp)  # GET /metrics; 404 unless metrics.enabled


def _register_errors(app: Flask) -> None:
    from zipshort.errorhandlers import register_error_handlers

    register_error_handlers(app)


def _register_transaction_end(app: Flask) -> None:
    """End the request's read transaction as soon as its response is ready.

    The session is removed at app-context teardown anyway, but that waits until a streamed body has been
    sent: a slow download would hold a snapshot (pinning SQLite's WAL, or a PostgreSQL connection
    ``idle in transaction``) for minutes. Writes are committed by the services that make them.
    """
    from zipshort.extensions import db

    @app.after_request
    def _end_transaction(response: Response) -> Response:
        if db.session.registry.has():
            db.session.rollback()
        return response


def _register_events(app: Flask, settings: Settings) -> None:
    """Subscribe the event consumers, and install the request hooks (zipshort/access.py): every request gets an
    id (a trusted proxy's, else a new one), and with ``logging.access`` or ``metrics.enabled`` an access line and
    its HTTP metrics.

    The id is stamped on every event and log line the request causes and echoed as ``X-Request-ID``; a
    redirect that caused nothing carries none unless the access log is on (it is the hot path: no id is made
    for it). Counted visits reach the log only at DEBUG: otherwise nobody subscribes to them for the log.
    Metrics count every event with a hand-off subscriber; visits only when analytics builds them anyway, so
    metrics never make the redirect build an event.
    """
    from zipshort import access
    from zipshort.eventlog import VERBOSE, log_event
    from zipshort.events import catalogue
    from zipshort.http import runtime

    kinds = [kind for kind in catalogue() if settings.logging.level.upper() == "DEBUG" or kind not in VERBOSE]
    rt = runtime(app)
    rt.events.subscribe(log_event, *kinds)
    if settings.analytics.enabled:
        from zipshort.services import analytics

        rt.events.subscribe(analytics.collect(rt), *analytics.VISIT_EVENTS, hand_off=True)
    from zipshort.services import ziplinehooks

    wanted = ziplinehooks.wanted_events(settings)  # Zipline's HTTP webhooks and Discord notifications
    if wanted:
        rt.events.subscribe(ziplinehooks.subscriber(rt, app.app_context), *wanted)
    if settings.webhooks.enabled:  # visits: the delivery worker subscribes a collector while endpoints want them
        from zipshort.services import webhooks

        rt.events.subscribe_in_transaction(webhooks.outbox_writer(rt))  # the outbox, in the change's transaction
        rt.events.subscribe(webhooks.waker(rt), *webhooks.owned_types().values())
    if settings.audit.enabled:
        from zipshort.extensions import db
        from zipshort.services import audit

        with app.app_context():
            engine = db.engine
        rt.events.subscribe(audit.recorder(rt, engine), *audit.AUDITED)
    if rt.telemetry is not None:
        from zipshort.events import LinkVisited, OrphanVisited

        counted = [kind for kind in catalogue()
                   if settings.analytics.enabled or kind not in (LinkVisited, OrphanVisited)]
        rt.events.subscribe(rt.telemetry.on_event, *counted, hand_off=True)
    access.register(app, settings, rt.telemetry)


def _register_headers(app: Flask) -> None:
    from zipshort.auth import CachedSerializerSessionInterface
    from zipshort.http import CSP

    app.session_interface = CachedSerializerSessionInterface()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        if 300 <= response.status_code < 400:
            return response  # a redirect has no body to protect; keep the hot path short
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if (response.content_type or "").startswith("text/html") and "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = CSP
            headers["X-Frame-Options"] = "DENY"
        if request.path.startswith("/api/") and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response
