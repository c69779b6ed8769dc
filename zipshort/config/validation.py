"""Cross-field checks, run once at start-up; each failure names its key and says why."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

import limits

from zipshort.config.sections import (
    ConfigError,
    DiscordSettings,
    DomainVerificationSettings,
    MetricsSettings,
    OutboundSettings,
    Settings,
    ShlinkSettings,
    UrlsSettings,
    WebhooksSettings,
)
from zipshort.dates import parse_expiry
from zipshort.errors import ValidationError
from zipshort.faults import CRASH_POINTS


def _route(where: str, value: str) -> str:
    value = "/" + value.strip("/")
    if value == "/" or any(c in value for c in "<>?#% "):
        raise ConfigError(f"{where}: route must be a path like /go, got {value!r}")
    return value


def parse_nameserver(text: str) -> tuple[str, int]:
    """``1.1.1.1``, ``127.0.0.1:5353``, ``::1`` or ``[::1]:5353`` → (address, port); ValueError otherwise."""
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (rest or "53")
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"bad port in {text!r}")
    return str(ipaddress.ip_address(host)), int(port)


def _validate_domain_verification(section: DomainVerificationSettings) -> None:
    for server in section.nameservers:
        try:
            parse_nameserver(server)
        except ValueError:
            raise ConfigError(f"domain_verification.nameservers: {server!r} is not an IP address with an "
                              "optional port, like 127.0.0.1:5353 or [::1]:53") from None
    if not 0.1 <= section.timeout <= 60:
        raise ConfigError("domain_verification.timeout: must be between 0.1 and 60 seconds")
    if section.rate_limit:
        try:
            limits.parse(section.rate_limit)
        except ValueError:
            raise ConfigError("domain_verification.rate_limit: a limit like 10/minute, or empty for none") from None


def _validate_metrics(section: MetricsSettings) -> None:
    for network in section.allow:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"metrics.allow: {network!r} is not a network like 127.0.0.1/32 or 10.0.0.0/8") from None
    if section.token and (len(section.token) < 16 or not section.token.isprintable() or " " in section.token):
        raise ConfigError("metrics.token: at least 16 printable characters without spaces")
    if section.enabled and not (section.token or section.allow):
        raise ConfigError("metrics.enabled: set metrics.token, metrics.allow or both (GET /metrics is never open)")
    if not 0.5 <= section.sample_seconds <= 3600:
        raise ConfigError("metrics.sample_seconds: must be between 0.5 and 3600")


def _validate_outbound(section: OutboundSettings) -> None:
    for network in section.allowed_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"outbound.allowed_networks: {network!r} is not a network like 10.0.0.0/8 or "
                              "fd00::/8") from None
    if not 0.1 <= section.timeout <= 60:
        raise ConfigError("outbound.timeout: must be between 0.1 and 60 seconds")


EMBED_TEXTS = ("title", "description", "footer")  # Zipline's embed strings (templated)
EMBED_FLAGS = ("thumbnail", "imageOrVideo", "timestamp", "url")  # and its switches
TEMPLATE_MAX = 4000  # characters of one configured template


def _web_url(where: str, value: str) -> None:
    """An http(s) URL with a host and no credentials, at most 2048 characters (never echoed: it may hold a token)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if (parts is None or len(value) > 2048 or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.username is not None or any(c.isspace() or ord(c) < 32 for c in value)):
        raise ConfigError(f"{where}: an http(s) URL with a host and no user name or password, or empty for none")


def parse_discord_embed(where: str, text: str) -> dict[str, Any] | None:
    """Zipline's embed JSON (``{"title": …, "color": "#rrggbb", "imageOrVideo": true, …}``) checked and completed
    with its defaults; None when ``text`` is empty.

    Raises:
        ConfigError: not a JSON object, an unknown key, a wrong type or colour.
    """
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc.msg} at character {exc.pos})") from None
    if data is None:  # Zipline's "no embed"
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a JSON object like {{\"title\": \"{{file.name}}\"}}")
    unknown = sorted(set(data) - set(EMBED_TEXTS) - set(EMBED_FLAGS) - {"color"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; the keys are "
                          f"{', '.join((*EMBED_TEXTS, 'color', *EMBED_FLAGS))}")
    embed: dict[str, Any] = {}
    for key in EMBED_TEXTS:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > TEMPLATE_MAX):
            raise ConfigError(f"{where}: {key} must be a string of at most {TEMPLATE_MAX} characters")
        embed[key] = value or None
    color = data.get("color")
    if color is not None and (not isinstance(color, str)
                              or not re.fullmatch(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", color)):
        raise ConfigError(f"{where}: color must be a hex colour like #3b5bdb")
    embed["color"] = color or None
    for key in EMBED_FLAGS:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false")
        embed[key] = value
    return embed


def _validate_notifications(settings: Settings) -> None:
    """Zipline's HTTP webhooks and Discord notifications: URLs, templates and embeds checked at start."""
    for key in ("on_upload", "on_shorten"):
        if getattr(settings.http_webhook, key):
            _web_url(f"http_webhook.{key} (HTTP_WEBHOOK_{key.upper()})", getattr(settings.http_webhook, key))
    discord: DiscordSettings = settings.discord
    for key in ("webhook_url", "avatar_url", "on_upload_webhook_url", "on_upload_avatar_url",
                "on_shorten_webhook_url", "on_shorten_avatar_url"):
        if getattr(discord, key):
            _web_url(f"discord.{key} (DISCORD_{key.upper()})", getattr(discord, key))
    for key in ("username", "on_upload_username", "on_shorten_username"):
        value = getattr(discord, key)
        if len(value) > 80 or any(ord(c) < 32 for c in value):
            raise ConfigError(f"discord.{key} (DISCORD_{key.upper()}): at most 80 characters on one line")
    for event in ("upload", "shorten"):
        content = getattr(discord, f"on_{event}_content")
        if len(content) > TEMPLATE_MAX:
            raise ConfigError(f"discord.on_{event}_content: at most {TEMPLATE_MAX} characters")
        embed = parse_discord_embed(f"discord.on_{event}_embed (DISCORD_ON_{event.upper()}_EMBED)",
                                    getattr(discord, f"on_{event}_embed"))
        said = [k for k in ("webhook_url", "username", "avatar_url", "content", "embed")
                if getattr(discord, f"on_{event}_{k}")]
        if said and not (content or embed):
            raise ConfigError(f"discord.on_{event}_{said[0]}: the {event} notification needs on_{event}_content "
                              f"or on_{event}_embed (Discord refuses an empty message)")
        if said and not (getattr(discord, f"on_{event}_webhook_url") or discord.webhook_url):
            raise ConfigError(f"discord.on_{event}_webhook_url: the {event} notification needs a webhook URL "
                              "(DISCORD_WEBHOOK_URL or DISCORD_ON_" + event.upper() + "_WEBHOOK_URL)")


def _validate_webhooks(section: WebhooksSettings) -> None:
    if not 0.05 <= section.poll_seconds <= 3600:
        raise ConfigError("webhooks.poll_seconds: must be between 0.05 and 3600")
    if not 0.1 <= section.timeout <= 60:
        raise ConfigError("webhooks.timeout: must be between 0.1 and 60 seconds")
    if not 0 < section.first_retry_seconds <= section.max_retry_seconds:
        raise ConfigError("webhooks.first_retry_seconds: must be above 0 and at most webhooks.max_retry_seconds")
    if not 1 <= section.retry_factor <= 100:
        raise ConfigError("webhooks.retry_factor: must be between 1 and 100")
    if not 0 <= section.retry_jitter < 1:
        raise ConfigError("webhooks.retry_jitter: a fraction from 0 (none) to below 1")
    if section.give_up_seconds < section.first_retry_seconds:
        raise ConfigError("webhooks.give_up_seconds: must be at least webhooks.first_retry_seconds")
    if section.disable_after_failures < 1 or section.max_endpoints_per_user < 0:
        raise ConfigError("webhooks.disable_after_failures: at least 1; webhooks.max_endpoints_per_user: 0 or more")
    if not 1 <= section.concurrency <= 64:
        raise ConfigError("webhooks.concurrency: must be between 1 and 64")
    if not 0.1 <= section.visit_batch_seconds <= 3600:
        raise ConfigError("webhooks.visit_batch_seconds: must be between 0.1 and 3600")
    if section.retention_days < 1:
        raise ConfigError("webhooks.retention_days: at least 1")


# A special redirect's target: an absolute http(s) URL, which may hold Shlink's {DOMAIN} and {ORIGINAL_PATH}.
_REDIRECT_TARGET = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
# A CORS origin: scheme://host[:port], nothing after it.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/?#]+", re.IGNORECASE)


def _validate_redirects(urls: UrlsSettings) -> None:
    """The redirect status and its caching, the instance-wide special redirects, robots.txt's user agents."""
    if urls.redirect_status not in (301, 302, 307, 308):
        raise ConfigError("urls.redirect_status: must be 301, 302, 307 or 308")
    if not 0 <= urls.redirect_cache_seconds <= 31_536_000:
        raise ConfigError("urls.redirect_cache_seconds: must be between 0 and 31536000 (a year)")
    if urls.redirect_cache_visibility not in ("public", "private"):
        raise ConfigError("urls.redirect_cache_visibility: public or private")
    for key in ("base_url_redirect", "invalid_short_url_redirect", "regular_404_redirect"):
        value = getattr(urls, key)
        if value and (len(value) > 2048 or not _REDIRECT_TARGET.fullmatch(value)):
            raise ConfigError(f"urls.{key}: an http(s) URL of at most 2048 characters (it may hold {{DOMAIN}} "
                              "and {ORIGINAL_PATH}), or empty for none")
    if not urls.robots_user_agents or any(not agent.isprintable() or len(agent) > 200
                                          for agent in urls.robots_user_agents):
        raise ConfigError("urls.robots_user_agents: at least one user agent, each printable on one line (\"*\" = all)")


def _validate_shlink(section: ShlinkSettings) -> None:
    if section.delete_threshold < 0:
        raise ConfigError("shlink.delete_threshold: 0 (no check) or the number of views that protects a link")
    if not section.cors_allow_origin or any(o not in ("*", "<origin>") and not _ORIGIN.fullmatch(o)
                                            for o in section.cors_allow_origin):
        raise ConfigError("shlink.cors_allow_origin: \"*\", \"<origin>\" (echo the request's) or origins like "
                          "https://app.example")
    if not 0 <= section.cors_max_age <= 86_400:
        raise ConfigError("shlink.cors_max_age: must be between 0 and 86400 seconds")
    if not re.fullmatch(r"\d+\.\d+\.\d+[-+.0-9A-Za-z]{0,40}", section.reported_version):
        raise ConfigError("shlink.reported_version: a version like 5.1.5 (clients enable features by it)")


def _is_duration(value: str) -> bool:
    """Whether ``value`` is an upload expiry duration (not ``never`` or ``date=``) ending in the supported range."""
    if value.strip().lower() == "never" or value.strip().lower().startswith("date="):
        return False
    try:
        parse_expiry(value, datetime.datetime.now(datetime.timezone.utc))
    except ValidationError:
        return False
    return True


def validate(settings: Settings) -> Settings:
    """Check cross-field rules once; return a normalised copy."""
    urls = settings.urls
    if not 3 <= urls.length <= 64:
        raise ConfigError("urls.length: must be between 3 and 64")
    if len(set(urls.alphabet)) < 10 or not urls.alphabet.isascii() or not urls.alphabet.isalnum():
        raise ConfigError("urls.alphabet: needs at least 10 distinct ASCII letters or digits")
    if urls.gone_status not in (404, 410):
        raise ConfigError("urls.gone_status: must be 404 or 410")
    if not 1 <= urls.vanity_max_length <= 255:
        raise ConfigError("urls.vanity_max_length: must be between 1 and 255")
    if not 0 <= urls.view_flush_seconds <= 3600:
        raise ConfigError("urls.view_flush_seconds: must be between 0 (count in the request) and 3600")
    if not 0 <= urls.cache_seconds <= 3600:
        raise ConfigError("urls.cache_seconds: must be between 0 (no cache) and 3600")
    if not 64 <= urls.destination_max_length <= 65536:
        raise ConfigError("urls.destination_max_length: must be between 64 and 65536")
    route = _route("urls.route", urls.route)
    files_route = _route("files.route", settings.files.route)
    if route.lower().startswith("/.well-known") or files_route.lower().startswith("/.well-known"):
        raise ConfigError("urls.route and files.route: /.well-known is reserved (domain proofs, RFC 8615)")
    if route.lower() in (files_route.lower(), "/r", "/raw", "/api", "/static", "/view", "/auth", "/dashboard"):
        raise ConfigError(f"urls.route: {route} is taken by another route")
    if files_route.lower() in ("/r", "/raw", "/api", "/static", "/view", "/auth", "/dashboard"):
        raise ConfigError(f"files.route: {files_route} is taken by another route")
    a = settings.analytics
    if not 0 <= a.queue_wait_ms <= 60_000:
        raise ConfigError("analytics.queue_wait_ms: must be between 0 and 60000")
    if a.retention_days < 1 or a.queue_size < 1 or a.batch_size < 1 or a.flush_seconds <= 0:
        raise ConfigError("analytics: retention_days, queue_size and batch_size must be at least 1, "
                          "flush_seconds above 0")
    if a.writer not in ("process", "thread"):
        raise ConfigError('analytics.writer: "process" or "thread"')
    if not 1 <= settings.audit.retention_days <= 36_500:
        raise ConfigError("audit.retention_days: must be between 1 and 36500 (a hundred years)")
    if settings.features.metrics_interval_seconds < 60:
        raise ConfigError("features.metrics_interval_seconds: at least 60")
    if settings.logging.format not in ("text", "json"):
        raise ConfigError("logging.format: text or json")
    if settings.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("logging.level: DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if not 0.05 <= settings.server.gil_switch_interval_ms <= 100:
        raise ConfigError("server.gil_switch_interval_ms: must be between 0.05 and 100")
    if settings.files.default_format not in ("random", "uuid", "date", "name", "gfycat", "random-words"):
        raise ConfigError("files.default_format: one of random, uuid, date, name, gfycat, random-words")
    if settings.files.default_compression_format not in ("jpg", "jpeg", "png", "webp"):
        raise ConfigError("files.default_compression_format: jpg, jpeg, png or webp")
    if settings.files.storage not in ("local", "s3"):
        raise ConfigError("files.storage: local or s3 (Zipline: DATASOURCE_TYPE)")
    if settings.files.storage == "s3" and not settings.s3.bucket:
        raise ConfigError("s3.bucket: required when files.storage is s3 (Zipline: DATASOURCE_S3_BUCKET)")
    if settings.files.storage == "s3" and settings.files.offload:
        raise ConfigError("files.offload: works with local storage only")
    if settings.files.offload not in ("", "x-accel-redirect", "x-sendfile"):
        raise ConfigError("files.offload: empty, x-accel-redirect (nginx) or x-sendfile (Apache, lighttpd)")
    if settings.files.max_file_size < 1:
        raise ConfigError("files.max_file_size: must be a positive number of bytes")
    if settings.files.chunk_size < 1 or settings.files.chunk_threshold < 1:
        raise ConfigError("files.chunk_size and files.chunk_threshold: must be positive numbers of bytes")
    if settings.server.max_request_body_size < settings.files.max_file_size + 64 * 1024:
        raise ConfigError("server.max_request_body_size: must exceed files.max_file_size by at least 64 KiB "
                          "(the multipart envelope), or large files would be cut off by waitress")
    for key in ("default_expiration", "max_expiration"):
        value = getattr(settings.files, key)
        if value and not _is_duration(value):
            raise ConfigError(f"files.{key}: a duration like 30d, 12h or 1w (ending before the year 9999)")
    _validate_uploads(settings)
    if not 1 <= settings.server.threads <= 256:
        raise ConfigError("server.threads: must be between 1 and 256")
    if not 0 <= settings.server.workers <= 64:
        raise ConfigError("server.workers: must be between 0 (waitress, one process) and 64")
    if settings.server.workers and os.name != "posix":
        raise ConfigError("server.workers: worker processes (granian) need Linux or macOS; use 0 on Windows")
    if not 1 <= settings.server.shutdown_seconds <= 600:
        raise ConfigError("server.shutdown_seconds: must be between 1 and 600")
    if not 10 <= settings.server.connection_limit <= 100_000:
        raise ConfigError("server.connection_limit: must be between 10 and 100000")
    if not 5 <= settings.server.channel_timeout <= 3600:
        raise ConfigError("server.channel_timeout: must be between 5 and 3600 seconds")
    if not 0 <= settings.server.port <= 65535:
        raise ConfigError("server.port: must be between 0 and 65535")
    if settings.core.trust_proxy < 0:
        raise ConfigError("core.trust_proxy: must be 0 (no proxy) or the number of proxies")
    scheme = settings.ratelimit.storage_uri.split("://", 1)[0]
    if scheme not in ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster"):
        raise ConfigError("ratelimit.storage_uri: must be memory:// or a redis:// URL")
    _validate_redirects(urls)
    _validate_shlink(settings.shlink)
    _validate_domain_verification(settings.domain_verification)
    _validate_outbound(settings.outbound)
    _validate_notifications(settings)
    _validate_webhooks(settings.webhooks)
    _validate_metrics(settings.metrics)
    domains = tuple(dict.fromkeys(d.lower().strip() for d in settings.domains if d.strip()))
    return dataclasses.replace(
        settings,
        domains=domains,
        urls=dataclasses.replace(urls, route=route),
        files=dataclasses.replace(settings.files, route=files_route),
        core=dataclasses.replace(settings.core, default_domain=settings.core.default_domain.lower().strip()),
    )


def _validate_uploads(settings: Settings) -> None:
    """Chunked-upload limits, storage clean-up ages and crash points."""
    files = settings.files
    if not 1 <= files.partial_sessions_per_user <= 1000:
        raise ConfigError("files.partial_sessions_per_user: must be between 1 and 1000")
    if files.partial_max_age_seconds < 60:
        raise ConfigError("files.partial_max_age_seconds: must be at least 60 seconds")
    if files.cleanup_min_age_seconds < 0 or files.cleanup_interval_seconds < 0:
        raise ConfigError("files.cleanup_min_age_seconds and files.cleanup_interval_seconds: must be 0 or more")
    unknown = [name for name in settings.faults.crash_at if name not in CRASH_POINTS]
    if unknown:
        raise ConfigError(f"faults.crash_at: unknown point {unknown[0]!r}; one of {', '.join(CRASH_POINTS)}")


