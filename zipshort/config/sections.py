"""The settings tree: one frozen dataclass per section, every default here (mirrored in config.example.toml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTANCE = REPO_ROOT / "instance"
WEAK_SECRETS = {"changethis", "secret", "changeme", "zipline", "zipshort"}
MIN_SECRET_LENGTH = 32
RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# Environment variables that are not settings keys.
SPECIAL_ENV = {"ZIPSHORT_INSTANCE", "ZIPSHORT_ADMIN_USERNAME", "ZIPSHORT_ADMIN_PASSWORD", "ZIPSHORT_USER_PASSWORD"}
SPECIAL_ENV_PREFIXES = ("ZIPSHORT_TEST_",)


class ConfigError(ValueError):
    """A setting is missing, unknown or invalid; the message names the key."""


@dataclass(frozen=True)
class CoreSettings:
    """Secret, URL building and proxy trust."""

    secret: str = ""
    return_https_urls: bool = False
    default_domain: str = ""
    trust_proxy: int = 0
    trusted_hosts: tuple[str, ...] = ()
    testing: bool = False


@dataclass(frozen=True)
class ServerSettings:
    """The front end: waitress in one process (``workers = 0``), or granian's worker processes."""

    host: str = "0.0.0.0"
    port: int = 3000
    threads: int = 8
    workers: int = 0  # 0: waitress, one process; N >= 1: granian with N worker processes (docs/operations.md)
    shutdown_seconds: int = 30  # granian: how long a stopping worker may take to finish and flush
    max_request_body_size: int = 1024 * 1024 * 1024
    channel_timeout: int = 60
    connection_limit: int = 1000
    gil_switch_interval_ms: float = 0.5


@dataclass(frozen=True)
class DatabaseSettings:
    """Where rows live; empty url means SQLite in the instance folder."""

    url: str = ""
    pool_size: int = 10
    sqlite_busy_timeout_ms: int = 5000


@dataclass(frozen=True)
class UrlsSettings:
    """Short links: route, random codes, vanity rules, what gone links answer."""

    route: str = "/go"
    length: int = 6
    alphabet: str = RANDOM_ALPHABET
    vanity_max_length: int = 100
    destination_max_length: int = 2048
    gone_status: int = 404
    view_flush_seconds: float = 1.0
    cache_seconds: float = 2.0
    country_header: str = ""
    geoip_database: str = ""
    hozip_create_limit: str = "100/hour"
    bulk_max_per_request: int = 10_000
    bulk_max_links: int = 0
    custom_domains_per_user: int = 5
    # The redirect's status (301, 302, 307, 308); 301 and 308 are cached by browsers for redirect_cache_seconds,
    # Cache-Control's visibility being redirect_cache_visibility (public or private). Shlink: REDIRECT_STATUS_CODE,
    # REDIRECT_CACHE_LIFETIME, REDIRECT_CACHE_VISIBILITY.
    redirect_status: int = 302
    redirect_cache_seconds: int = 30
    redirect_cache_visibility: str = "private"
    # Instance-wide special redirects (Shlink's DEFAULT_*_REDIRECT), used where a domain sets none; "" = 404.
    base_url_redirect: str = ""
    invalid_short_url_redirect: str = ""
    regular_404_redirect: str = ""
    # /robots.txt: the User-agent lines, and whether every short link may be crawled (else the crawlable ones).
    robots_user_agents: tuple[str, ...] = ("*",)
    robots_allow_all: bool = False


@dataclass(frozen=True)
class FilesSettings:
    """Files: routes, names, size and chunk limits, expiry, images, storage choice, serving."""

    route: str = "/u"
    length: int = 6
    storage: str = "local"
    directory: str = ""
    max_file_size: int = 100 * 1024 * 1024
    chunk_threshold: int = 95 * 1024 * 1024
    chunk_size: int = 25 * 1024 * 1024
    default_format: str = "random"
    disabled_extensions: tuple[str, ...] = ()
    prune_interval_seconds: int = 60
    remove_gps_metadata: bool = False
    default_expiration: str = ""
    max_expiration: str = ""
    content_domain: str = ""
    default_compression_format: str = "jpg"
    offload: str = ""
    offload_prefix: str = "/_zipshort_files/"
    partial_sessions_per_user: int = 5
    partial_max_age_seconds: int = 6 * 3600
    cleanup_min_age_seconds: int = 3600
    cleanup_interval_seconds: int = 3600


@dataclass(frozen=True)
class S3Settings:
    """The bucket used when files.storage = "s3" (Zipline's DATASOURCE_S3_*)."""

    bucket: str = ""
    region: str = "us-east-1"
    endpoint: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    force_path_style: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class RatelimitSettings:
    """Shared rate limits; storage is memory:// or redis://host:port."""

    storage_uri: str = "memory://"
    # Zipline's general limit on uploads (a chunked upload counts once) and link creation, per user (per
    # address when anonymous) and route: ``max`` requests per ``window`` seconds. Off by default (Zipline: on).
    enabled: bool = False
    max: int = 10
    window: int = 60
    admin_bypass: bool = True
    allow_list: tuple[str, ...] = ()
    login: str = "10/minute"
    link_password: str = "10/minute"
    token_reset: str = "5/minute"
    register: str = "5/minute"


@dataclass(frozen=True)
class FeaturesSettings:
    """Who may create an account and how, and second factors."""

    user_registration: bool = False
    invites_enabled: bool = True
    invites_length: int = 8
    totp_enabled: bool = True
    totp_issuer: str = "zipshort"
    # Zipline's instance metrics (GET /api/stats, /dashboard/metrics): snapshots every metrics_interval_seconds
    metrics_enabled: bool = True
    metrics_admin_only: bool = False
    metrics_show_user_specific: bool = True
    metrics_interval_seconds: float = 1800.0


@dataclass(frozen=True)
class DomainVerificationSettings:
    """How a user proves a custom domain: a DNS TXT record ``_zipshort-challenge.<host>`` holding its token."""

    nameservers: tuple[str, ...] = ()
    timeout: float = 5.0
    rate_limit: str = "10/minute"
    http_check: bool = False


@dataclass(frozen=True)
class OutboundSettings:
    """Requests this server sends to URLs users give: only public addresses unless a network is allowed here."""

    allowed_networks: tuple[str, ...] = ()
    timeout: float = 5.0


@dataclass(frozen=True)
class HttpWebhookSettings:
    """Zipline's HTTP webhooks (HTTP_WEBHOOK_ON_UPLOAD / _ON_SHORTEN): a JSON POST to these URLs after every
    upload and every new short link, sent off the request through the SSRF guard ([outbound]); "" = none."""

    on_upload: str = ""
    on_shorten: str = ""


@dataclass(frozen=True)
class DiscordSettings:
    """Zipline's Discord notifications (DISCORD_*): a message to a Discord webhook after an upload or a new
    short link. An event is sent when its on_<event>_* keys say something (content or embed); its webhook URL,
    username and avatar fall back to the global ones. Strings may hold Zipline's template variables
    ({file.name}, {user.username}, …); the embeds are JSON objects (Zipline's DISCORD_ON_*_EMBED)."""

    webhook_url: str = ""
    username: str = ""
    avatar_url: str = ""
    on_upload_webhook_url: str = ""
    on_upload_username: str = ""
    on_upload_avatar_url: str = ""
    on_upload_content: str = ""
    on_upload_embed: str = ""
    on_shorten_webhook_url: str = ""
    on_shorten_username: str = ""
    on_shorten_avatar_url: str = ""
    on_shorten_content: str = ""
    on_shorten_embed: str = ""


@dataclass(frozen=True)
class WebhooksSettings:
    """Per-user webhook endpoints: signed deliveries from an outbox, retried with exponential backoff and jitter.

    Zipline's own HTTP and Discord webhooks are another section; these are the endpoints users add themselves.
    """

    enabled: bool = True
    poll_seconds: float = 2.0  # how often each server process looks for due messages
    timeout: float = 10.0  # one delivery attempt, connection to last byte
    first_retry_seconds: float = 5.0  # the delay after the first failed attempt
    retry_factor: float = 2.0  # each further delay is this many times the previous one
    max_retry_seconds: float = 3600.0  # no delay is longer than this
    retry_jitter: float = 0.2  # each delay is moved at random by up to this fraction (0 = none)
    give_up_seconds: float = 86400.0  # a message not delivered this long after it was made is given up
    disable_after_failures: int = 50  # failed attempts in a row (no success between) that disable an endpoint
    max_endpoints_per_user: int = 10
    concurrency: int = 4  # deliveries one process sends at once
    visit_batch_seconds: float = 10.0  # visits (link.visited, file.viewed) are sent in one message per window
    retention_days: int = 7  # delivered and given-up messages and the delivery log are kept this long


@dataclass(frozen=True)
class SecuritySettings:
    """argon2id parameters (RFC 9106 second recommendation by default)."""

    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4


@dataclass(frozen=True)
class LoggingSettings:
    """Log lines on stderr: one per state change (events), human-readable text or JSON."""

    format: str = "text"
    level: str = "INFO"
    # One line per request on the `zipshort.access` logger (method, route, status, duration, bytes, request id,
    # user id; never the path's values, a query value, a header or a cookie). Off by default: the reverse proxy in
    # front usually logs requests already, and each line costs the redirect a few per cent.
    access: bool = False


@dataclass(frozen=True)
class MetricsSettings:
    """GET /metrics in Prometheus's text format (docs/operations.md#metrics): off by default; when on, a scraper
    must present ``token`` as a bearer token and/or come from a network of ``allow`` (both when both are set)."""

    enabled: bool = False
    token: str = ""  # at least 16 characters; compared in constant time
    allow: tuple[str, ...] = ()  # client networks, e.g. 127.0.0.1/32, 10.0.0.0/8 (the address after core.trust_proxy)
    # Several `zipshort serve` processes on one host: a directory they share (prometheus_client's multiprocess
    # mode; PROMETHEUS_MULTIPROC_DIR is used when this is empty). Empty and unset: one registry per process.
    multiprocess_dir: str = ""
    sample_seconds: float = 5.0  # how often each process writes its queue and pool gauges there


@dataclass(frozen=True)
class AnalyticsSettings:
    """Visit analytics: every counted redirect and file view, and orphan visits, recorded off the request path."""

    enabled: bool = True
    honor_dnt: bool = True  # a Do-Not-Track / Global-Privacy-Control visit is only counted
    store_address: bool = False  # keep the visitor's address (anonymised unless anonymize_address is off)
    anonymize_address: bool = True  # /24 for IPv4, /48 for IPv6, like Shlink
    retention_days: int = 90  # raw visits; the daily and hourly rollups are kept forever
    queue_size: int = 10_000  # visits waiting for the writer
    queue_wait_ms: int = 500  # a full queue holds the request this long for room, then drops the visit and counts
    flush_seconds: float = 1.0  # how often the writer stores what is queued
    batch_size: int = 2_000  # visits per transaction
    orphan_visits: bool = True  # record visits to the base URL, unknown codes and other public 404s
    writer: str = "process"  # `zipshort serve` writes visits in a child process ("process") or a thread ("thread")


@dataclass(frozen=True)
class AuditSettings:
    """The audit log: sign-ins, account security, keys, roles, quotas, users, domains, settings, bulk deletes."""

    enabled: bool = True
    retention_days: int = 365  # entries older than this are deleted by the maintenance loop


@dataclass(frozen=True)
class ShlinkSettings:
    """The Shlink REST API dialect (/rest/v3): whether it answers, its one key-in-the-URL exception, deletion
    protection, CORS, and the version its health check reports."""

    enabled: bool = True
    key_in_query: bool = True  # GET /rest/v3/short-urls/shorten takes its key as ?apiKey=, as Shlink's clients send it
    delete_threshold: int = 0  # refuse to delete a link with at least this many views; 0 = no check
    cors_allow_origin: tuple[str, ...] = ("*",)  # "*", origins, or "<origin>" to echo the request's
    cors_max_age: int = 3600
    reported_version: str = "5.1.5"  # the Shlink version clients see (they enable features by it)


@dataclass(frozen=True)
class FaultsSettings:
    """Fault injection for crash tests (zipshort.faults); off unless crash_at names points."""

    crash_at: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """The whole configuration tree; build it with :func:`load_settings`."""

    instance_path: str = str(DEFAULT_INSTANCE)
    domains: tuple[str, ...] = ()
    core: CoreSettings = field(default_factory=CoreSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    urls: UrlsSettings = field(default_factory=UrlsSettings)
    files: FilesSettings = field(default_factory=FilesSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    ratelimit: RatelimitSettings = field(default_factory=RatelimitSettings)
    features: FeaturesSettings = field(default_factory=FeaturesSettings)
    domain_verification: DomainVerificationSettings = field(default_factory=DomainVerificationSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    http_webhook: HttpWebhookSettings = field(default_factory=HttpWebhookSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    shlink: ShlinkSettings = field(default_factory=ShlinkSettings)
    faults: FaultsSettings = field(default_factory=FaultsSettings)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, defaulting to SQLite in the instance folder."""
        if self.database.url:
            url = self.database.url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://"):]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            return url
        return "sqlite:///" + str(Path(self.instance_path) / "zipshort.db")

    @property
    def files_directory(self) -> str:
        """Where local blobs live: files.directory, else <instance>/files."""
        return self.files.directory or str(Path(self.instance_path) / "files")

    @property
    def allowed_domains(self) -> tuple[str, ...]:
        """Hosts a client may ask for in returned URLs (DOMAINS plus the default domain)."""
        extra = (self.core.default_domain,) if self.core.default_domain else ()
        return tuple(dict.fromkeys(d.lower() for d in self.domains + extra))


SECTIONS = {f.name: f.type for f in dataclasses.fields(Settings) if f.name not in ("instance_path", "domains")}

# Zipline's environment names that mean the same as ours: name -> (section, key).
ZIPLINE_ENV = {
    "CORE_SECRET": ("core", "secret"),
    "CORE_RETURN_HTTPS_URLS": ("core", "return_https_urls"),
    "CORE_DEFAULT_DOMAIN": ("core", "default_domain"),
    "CORE_TRUST_PROXY": ("core", "trust_proxy"),
    "CORE_PORT": ("server", "port"),
    "CORE_HOSTNAME": ("server", "host"),
    "DATABASE_URL": ("database", "url"),
    "URLS_ROUTE": ("urls", "route"),
    "URLS_LENGTH": ("urls", "length"),
    "FILES_ROUTE": ("files", "route"),
    "FILES_LENGTH": ("files", "length"),
    "FILES_DEFAULT_FORMAT": ("files", "default_format"),
    "FILES_DISABLED_EXTENSIONS": ("files", "disabled_extensions"),
    "DATASOURCE_LOCAL_DIRECTORY": ("files", "directory"),
    "DATASOURCE_TYPE": ("files", "storage"),
    "FILES_REMOVE_GPS_METADATA": ("files", "remove_gps_metadata"),
    "FILES_DEFAULT_EXPIRATION": ("files", "default_expiration"),
    "FILES_MAX_EXPIRATION": ("files", "max_expiration"),
    "FILES_MAX_FILE_SIZE": ("files", "max_file_size"),
    "CHUNKS_MAX": ("files", "chunk_threshold"),
    "CHUNKS_SIZE": ("files", "chunk_size"),
    "FILES_DEFAULT_COMPRESSION_FORMAT": ("files", "default_compression_format"),
    "DATASOURCE_S3_BUCKET": ("s3", "bucket"),
    "DATASOURCE_S3_REGION": ("s3", "region"),
    "DATASOURCE_S3_ENDPOINT": ("s3", "endpoint"),
    "DATASOURCE_S3_ACCESS_KEY_ID": ("s3", "access_key_id"),
    "DATASOURCE_S3_SECRET_ACCESS_KEY": ("s3", "secret_access_key"),
    "DATASOURCE_S3_FORCE_PATH_STYLE": ("s3", "force_path_style"),
    "DATASOURCE_S3_SUBDIRECTORY": ("s3", "prefix"),
    "FEATURES_USER_REGISTRATION": ("features", "user_registration"),
    "INVITES_ENABLED": ("features", "invites_enabled"),
    "INVITES_LENGTH": ("features", "invites_length"),
    "MFA_TOTP_ENABLED": ("features", "totp_enabled"),
    "MFA_TOTP_ISSUER": ("features", "totp_issuer"),
    "FEATURES_METRICS_ENABLED": ("features", "metrics_enabled"),
    "FEATURES_METRICS_ADMIN_ONLY": ("features", "metrics_admin_only"),
    "FEATURES_METRICS_SHOW_USER_SPECIFIC": ("features", "metrics_show_user_specific"),
    "RATELIMIT_ENABLED": ("ratelimit", "enabled"),
    "RATELIMIT_MAX": ("ratelimit", "max"),
    "RATELIMIT_WINDOW": ("ratelimit", "window"),
    "RATELIMIT_ADMIN_BYPASS": ("ratelimit", "admin_bypass"),
    "RATELIMIT_ALLOW_LIST": ("ratelimit", "allow_list"),
    "DOMAINS": (None, "domains"),
    "HTTP_WEBHOOK_ON_UPLOAD": ("http_webhook", "on_upload"),
    "HTTP_WEBHOOK_ON_SHORTEN": ("http_webhook", "on_shorten"),
    "DISCORD_WEBHOOK_URL": ("discord", "webhook_url"),
    "DISCORD_USERNAME": ("discord", "username"),
    "DISCORD_AVATAR_URL": ("discord", "avatar_url"),
    **{f"DISCORD_ON_{event.upper()}_{key.upper()}": ("discord", f"on_{event}_{key}")
       for event in ("upload", "shorten") for key in ("webhook_url", "username", "avatar_url", "content", "embed")},
}


