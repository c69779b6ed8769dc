"""Typed, frozen settings: defaults ← instance/config.toml ← ZIPSHORT_* env ← Zipline env names ← overrides.

Every default lives in the dataclasses below and is mirrored, with its meaning, in
``config.example.toml``. Unknown keys are an error; validation happens once, here.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import re
import secrets
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import limits

from zipshort.dates import parse_expiry
from zipshort.errors import ValidationError
from zipshort.faults import CRASH_POINTS

REPO_ROOT = Path(__file__).resolve().parent.parent
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
    """The waitress front end."""

    host: str = "0.0.0.0"
    port: int = 3000
    threads: int = 8
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
class SecuritySettings:
    """argon2id parameters (RFC 9106 second recommendation by default)."""

    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4


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
    security: SecuritySettings = field(default_factory=SecuritySettings)
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
    "RATELIMIT_ENABLED": ("ratelimit", "enabled"),
    "RATELIMIT_MAX": ("ratelimit", "max"),
    "RATELIMIT_WINDOW": ("ratelimit", "window"),
    "RATELIMIT_ADMIN_BYPASS": ("ratelimit", "admin_bypass"),
    "RATELIMIT_ALLOW_LIST": ("ratelimit", "allow_list"),
    "DOMAINS": (None, "domains"),
}


def _section_class(name: str) -> type:
    return {f.name: f.default_factory for f in dataclasses.fields(Settings) if f.name == name}[name]  # type: ignore[return-value]


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _size(value: Any) -> int:
    """An int, or a human size like 100mb / 1gb (Zipline writes sizes that way)."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*", value, re.IGNORECASE)
        if match:
            unit = (match.group(2) or "b").lower()
            return int(float(match.group(1)) * 1024 ** ("b", "kb", "mb", "gb", "tb").index(unit))
    return int(value)


def _coerce(where: str, kind: Any, value: Any) -> Any:
    """Convert a TOML or environment value to the declared type, or raise ConfigError."""
    origin = typing.get_origin(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return 1 if value.strip().lower() == "true" else 0
        try:
            return _size(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if kind is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if kind is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if origin is tuple or kind == tuple[str, ...]:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(v.strip() for v in value if v.strip())
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {kind!r}")


def _merge(tree: dict[str, dict[str, Any]], top: dict[str, Any], source: Mapping[str, Any], label: str) -> None:
    """Fold a nested mapping (TOML shape) into tree/top, refusing unknown keys."""
    for key, value in source.items():
        if key == "domains":
            top["domains"] = _coerce(f"{label}: domains", tuple[str, ...], value)
            continue
        if key not in SECTIONS:
            raise ConfigError(f"{label}: unknown key {key!r}")
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}: [{key}] must be a table")
        types_ = _field_types(_section_class(key))
        for sub, subvalue in value.items():
            if sub not in types_:
                raise ConfigError(f"{label}: unknown key {key}.{sub}")
            tree.setdefault(key, {})[sub] = _coerce(f"{label}: {key}.{sub}", types_[sub], subvalue)


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """ZIPSHORT_<SECTION>_<KEY> variables as a nested mapping."""
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("ZIPSHORT_") or name in SPECIAL_ENV or name.startswith(SPECIAL_ENV_PREFIXES):
            continue
        rest = name[len("ZIPSHORT_"):].lower()
        if rest == "domains":
            layer["domains"] = value
            continue
        section = next((s for s in SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(f"environment: unknown variable {name}")
        layer.setdefault(section, {})[rest[len(section) + 1:]] = value
    return layer


def _zipline_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """Zipline's environment names (see ZIPLINE_ENV), also read from <NAME>_FILE."""
    layer: dict[str, Any] = {}
    for name, (section, key) in ZIPLINE_ENV.items():
        value = environ.get(name)
        if value is None and environ.get(name + "_FILE"):
            value = Path(environ[name + "_FILE"]).read_text().strip()
        if value is None:
            continue
        if section is None:
            layer[key] = value
        else:
            layer.setdefault(section, {})[key] = value
    return layer


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


def _validate_outbound(section: OutboundSettings) -> None:
    for network in section.allowed_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"outbound.allowed_networks: {network!r} is not a network like 10.0.0.0/8 or "
                              "fd00::/8") from None
    if not 0.1 <= section.timeout <= 60:
        raise ConfigError("outbound.timeout: must be between 0.1 and 60 seconds")


def _is_duration(value: str) -> bool:
    """Whether ``value`` is an upload expiry duration (not ``never`` or ``date=``) ending in the supported range."""
    if value.strip().lower() == "never" or value.strip().lower().startswith("date="):
        return False
    try:
        parse_expiry(value, datetime.datetime.now(datetime.timezone.utc))
    except ValidationError:
        return False
    return True


def _validate(settings: Settings) -> Settings:
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
    _validate_domain_verification(settings.domain_verification)
    _validate_outbound(settings.outbound)
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


def _resolve_secret(settings: Settings) -> Settings:
    """Refuse a weak explicit secret; generate and keep one in the instance folder when none is set."""
    secret = settings.core.secret
    if secret:
        if not settings.core.testing and (len(secret) < MIN_SECRET_LENGTH or secret.lower() in WEAK_SECRETS):
            raise ConfigError(
                f"core.secret (CORE_SECRET): must be at least {MIN_SECRET_LENGTH} characters and not a "
                "known placeholder; unset it to let zipshort generate one in the instance folder"
            )
        return settings
    path = Path(settings.instance_path) / "secret_key"
    if path.exists():
        secret = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
    return dataclasses.replace(settings, core=dataclasses.replace(settings.core, secret=secret))


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    instance_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Build the settings from every layer, validate them, and resolve the secret.

    Args:
        overrides: nested mapping in TOML shape applied last (tests, embedding).
        environ: environment to read (defaults to ``os.environ``).
        instance_path: instance folder; else ``ZIPSHORT_INSTANCE``; else the repository's ``instance/``.

    Raises:
        ConfigError: a key is unknown or a value is invalid; the message names it.
    """
    environ = os.environ if environ is None else environ
    instance = Path(instance_path or environ.get("ZIPSHORT_INSTANCE") or DEFAULT_INSTANCE).resolve()
    tree: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    config_file = instance / "config.toml"
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: {exc}") from None
        _merge(tree, top, data, str(config_file))
    _merge(tree, top, _env_layer(environ), "environment (ZIPSHORT_*)")
    _merge(tree, top, _zipline_layer(environ), "environment (Zipline names)")
    if overrides:
        _merge(tree, top, overrides, "overrides")
    sections = {name: _section_class(name)() for name in SECTIONS}
    sections = {name: dataclasses.replace(obj, **tree.get(name, {})) for name, obj in sections.items()}
    settings = Settings(instance_path=str(instance), **top, **sections)
    return _resolve_secret(_validate(settings))
