"""Typed, frozen settings: defaults ← instance/config.toml ← ZIPSHORT_* env ← Zipline env names ← overrides.

Every default lives in the dataclasses of ``sections`` and is mirrored, with its meaning, in
``config.example.toml``. Unknown keys are an error; validation (``validation``) happens once, at load.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tomllib
import typing
from pathlib import Path
from typing import Any, Mapping

from zipshort.config.sections import (  # the settings classes and constants are this package's API
    DEFAULT_INSTANCE,
    MIN_SECRET_LENGTH,
    RANDOM_ALPHABET,
    REPO_ROOT,
    SECTIONS,
    SPECIAL_ENV,
    SPECIAL_ENV_PREFIXES,
    WEAK_SECRETS,
    ZIPLINE_ENV,
    ConfigError,
    CoreSettings,
    DatabaseSettings,
    DiscordSettings,
    DomainVerificationSettings,
    FaultsSettings,
    FeaturesSettings,
    FilesSettings,
    HttpWebhookSettings,
    MetricsSettings,
    OutboundSettings,
    RatelimitSettings,
    S3Settings,
    SecuritySettings,
    ServerSettings,
    Settings,
    UrlsSettings,
)
from zipshort.config.validation import parse_nameserver, validate


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
    return _resolve_secret(validate(settings))


__all__ = [
    "ConfigError", "CoreSettings", "DEFAULT_INSTANCE", "configured_origin", "DatabaseSettings", "DiscordSettings",
    "DomainVerificationSettings", "FaultsSettings", "FeaturesSettings", "FilesSettings", "HttpWebhookSettings",
    "MIN_SECRET_LENGTH", "MetricsSettings", "OutboundSettings",
    "RANDOM_ALPHABET", "REPO_ROOT", "RatelimitSettings", "S3Settings", "SECTIONS", "SPECIAL_ENV",
    "SPECIAL_ENV_PREFIXES", "SecuritySettings", "ServerSettings", "Settings", "UrlsSettings", "WEAK_SECRETS",
    "ZIPLINE_ENV", "load_settings", "parse_nameserver",
]


def configured_origin(settings: Settings) -> str:
    """This server's origin where no request says it (a background sender): ``core.default_domain``, else the
    first of ``domains``, with https under ``core.return_https_urls`` (else http); "" when neither is set.
    Inside a request, ``zipshort.urls`` decides (the scheme rule, with the request's own scheme)."""
    host = settings.core.default_domain or (settings.domains[0] if settings.domains else "")
    return f"{'https' if settings.core.return_https_urls else 'http'}://{host}" if host else ""
