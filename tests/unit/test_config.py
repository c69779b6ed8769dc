"""Settings: layering, Zipline names, validation messages, the generated secret."""

from __future__ import annotations

import os
import stat

import pytest

from zipshort.config import ConfigError, load_settings

SECRET = "s" * 40


def load(tmp_path, env=None, toml=None, **kwargs):
    if toml is not None:
        (tmp_path / "config.toml").write_text(toml)
    return load_settings(environ={"CORE_SECRET": SECRET, **(env or {})}, instance_path=tmp_path, **kwargs)


def test_defaults_are_zipline_defaults(tmp_path):
    settings = load(tmp_path)
    assert (settings.urls.route, settings.urls.length, settings.files.route, settings.server.port) == \
        ("/go", 6, "/u", 3000)
    assert settings.database_url == f"sqlite:///{tmp_path}/zipshort.db"


def test_toml_then_zipshort_env_then_zipline_env(tmp_path):
    toml = '[urls]\nroute = "/toml"\nlength = 7\n[server]\nport = 1111\n'
    settings = load(tmp_path, {"ZIPSHORT_URLS_ROUTE": "/env", "URLS_LENGTH": "9", "ZIPSHORT_URLS_LENGTH": "8"}, toml)
    assert settings.urls.route == "/env"  # ZIPSHORT_* beats the file
    assert settings.urls.length == 9  # Zipline's name beats ZIPSHORT_* (docs/configuration.md order)
    assert settings.server.port == 1111


def test_zipline_names_are_understood(tmp_path):
    settings = load(tmp_path, {"CORE_RETURN_HTTPS_URLS": "true", "CORE_DEFAULT_DOMAIN": "S.Example",
                               "DOMAINS": "a.example, b.example", "FILES_ROUTE": "/i", "FILES_LENGTH": "8",
                               "DATABASE_URL": "postgres://u@h/db", "URLS_ROUTE": "/l/"})
    assert settings.core.return_https_urls and settings.core.default_domain == "s.example"
    assert settings.domains == ("a.example", "b.example")
    assert settings.allowed_domains == ("a.example", "b.example", "s.example")
    assert (settings.files.route, settings.files.length, settings.urls.route) == ("/i", 8, "/l")
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_zipline_ratelimit_names_are_understood(tmp_path):
    settings = load(tmp_path, {"RATELIMIT_ENABLED": "true", "RATELIMIT_MAX": "20", "RATELIMIT_WINDOW": "30",
                               "RATELIMIT_ADMIN_BYPASS": "false", "RATELIMIT_ALLOW_LIST": "10.0.0.1, 10.0.0.2"})
    rl = settings.ratelimit
    assert (rl.enabled, rl.max, rl.window, rl.admin_bypass) == (True, 20, 30, False)
    assert rl.allow_list == ("10.0.0.1", "10.0.0.2")
    assert load(tmp_path).ratelimit.enabled is False


def test_zipline_file_variant_is_read(tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("f" * 40 + "\n")
    settings = load_settings(environ={"CORE_SECRET_FILE": str(secret_file)}, instance_path=tmp_path)
    assert settings.core.secret == "f" * 40


def test_overrides_win(tmp_path):
    assert load(tmp_path, overrides={"urls": {"length": 12}}).urls.length == 12


@pytest.mark.parametrize("toml,fragment", [
    ("[urls]\nnope = 1\n", "unknown key urls.nope"),
    ("[nope]\na = 1\n", "unknown key 'nope'"),
    ("[urls]\nlength = 'six'\n", "urls.length: expected an integer"),
    ("[urls]\nlength = 2\n", "urls.length: must be between 3 and 64"),
    ("[urls]\ngone_status = 500\n", "urls.gone_status"),
    ("[urls]\nroute = '/api'\n", "urls.route"),
    ("[urls]\nroute = '/u'\n", "urls.route"),
    ("[core]\nreturn_https_urls = 'maybe'\n", "core.return_https_urls"),
    ("[ratelimit]\nstorage_uri = 'mongodb://x'\n", "ratelimit.storage_uri"),
    ("not toml = = 1", "config.toml"),
    ("[urls]\nredirect_status = 303\n", "urls.redirect_status"),
    ("[urls]\nredirect_cache_seconds = -1\n", "urls.redirect_cache_seconds"),
    ("[urls]\nredirect_cache_seconds = 31536001\n", "urls.redirect_cache_seconds"),
    ("[urls]\nredirect_status = 200\n", "urls.redirect_status"),
    ('[urls]\nrobots_user_agents = ["Googlebot\\nAllow: /"]\n', "urls.robots_user_agents"),
    ("[urls]\nredirect_cache_visibility = 'shared'\n", "urls.redirect_cache_visibility"),
    ("[urls]\nbase_url_redirect = 'example.com'\n", "urls.base_url_redirect"),
    ("[urls]\nregular_404_redirect = 'javascript:alert(1)'\n", "urls.regular_404_redirect"),
    ('[urls]\ninvalid_short_url_redirect = "https://a.example/\\nx"\n', "urls.invalid_short_url_redirect"),
    ("[urls]\nrobots_user_agents = []\n", "urls.robots_user_agents"),
    ("[shlink]\ndelete_threshold = -1\n", "shlink.delete_threshold"),
    ("[shlink]\ncors_allow_origin = ['app.example']\n", "shlink.cors_allow_origin"),
    ("[shlink]\ncors_allow_origin = ['https://app.example/path']\n", "shlink.cors_allow_origin"),
    ("[shlink]\ncors_max_age = 86401\n", "shlink.cors_max_age"),
    ("[shlink]\nreported_version = 'latest'\n", "shlink.reported_version"),
    ("[shlink]\nkey_in_query = 'sometimes'\n", "shlink.key_in_query"),
])
def test_invalid_config_names_the_key(tmp_path, toml, fragment):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, toml=toml)
    assert fragment in str(info.value)


def test_the_shlink_settings_change_nothing_by_default(tmp_path):
    settings = load(tmp_path)
    urls, shlink = settings.urls, settings.shlink
    assert (urls.redirect_status, urls.base_url_redirect, urls.invalid_short_url_redirect,
            urls.regular_404_redirect, urls.robots_allow_all) == (302, "", "", "", False)
    assert (shlink.delete_threshold, shlink.cors_allow_origin, shlink.reported_version) == (0, ("*",), "5.1.5")


def test_the_shlink_settings_take_what_shlink_allows(tmp_path):
    settings = load(tmp_path, {"ZIPSHORT_URLS_REDIRECT_STATUS": "308",
                               "ZIPSHORT_URLS_REDIRECT_CACHE_VISIBILITY": "public",
                               "ZIPSHORT_URLS_BASE_URL_REDIRECT": "https://{DOMAIN}/welcome?from={ORIGINAL_PATH}",
                               "ZIPSHORT_URLS_ROBOTS_USER_AGENTS": "Googlebot, Bingbot",
                               "ZIPSHORT_SHLINK_CORS_ALLOW_ORIGIN": "<origin>, https://app.shlink.io:8443",
                               "ZIPSHORT_SHLINK_DELETE_THRESHOLD": "15",
                               "ZIPSHORT_SHLINK_REPORTED_VERSION": "5.1.5+zipshort"})
    assert (settings.urls.redirect_status, settings.urls.redirect_cache_visibility) == (308, "public")
    assert settings.urls.base_url_redirect == "https://{DOMAIN}/welcome?from={ORIGINAL_PATH}"
    assert settings.urls.robots_user_agents == ("Googlebot", "Bingbot")
    assert settings.shlink.cors_allow_origin == ("<origin>", "https://app.shlink.io:8443")
    assert (settings.shlink.delete_threshold, settings.shlink.reported_version) == (15, "5.1.5+zipshort")


def test_unknown_zipshort_env_variable_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="ZIPSHORT_NOPE_X"):
        load(tmp_path, {"ZIPSHORT_NOPE_X": "1"})


@pytest.mark.parametrize("secret", ["changethis", "short", "x" * 31])
def test_weak_secret_is_refused(tmp_path, secret):
    with pytest.raises(ConfigError, match="core.secret"):
        load_settings(environ={"CORE_SECRET": secret}, instance_path=tmp_path)


def test_missing_secret_is_generated_once_and_kept_private(tmp_path):
    first = load_settings(environ={}, instance_path=tmp_path).core.secret
    second = load_settings(environ={}, instance_path=tmp_path).core.secret
    assert first == second and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_instance_folder_from_environment(tmp_path):
    settings = load_settings(environ={"ZIPSHORT_INSTANCE": str(tmp_path / "inst"), "CORE_SECRET": SECRET})
    assert settings.instance_path == str(tmp_path / "inst")


def test_config_example_documents_every_key_with_its_default(tmp_path):
    import dataclasses
    import tomllib
    from pathlib import Path

    from zipshort.config import SECTIONS, Settings

    example = tomllib.loads((Path(__file__).resolve().parents[2] / "config.example.toml").read_text())
    defaults = Settings()
    assert list(example["domains"]) == list(defaults.domains)
    for section in SECTIONS:
        expected = dataclasses.asdict(getattr(defaults, section))
        assert set(example[section]) == set(expected), section
        for key, value in expected.items():
            value = list(value) if isinstance(value, tuple) else value
            assert example[section][key] == value, f"{section}.{key}"
    (tmp_path / "config.toml").write_text((Path(__file__).resolve().parents[2] / "config.example.toml").read_text())
    assert load_settings(environ={}, instance_path=tmp_path).urls.route == "/go"


def test_sizes_may_be_human(tmp_path):
    settings = load(tmp_path, {"FILES_MAX_FILE_SIZE": "10mb"})
    assert settings.files.max_file_size == 10 * 1024 * 1024


def test_request_body_limit_must_exceed_the_file_limit(tmp_path):
    with pytest.raises(ConfigError, match="server.max_request_body_size"):
        load(tmp_path, {"ZIPSHORT_FILES_MAX_FILE_SIZE": "2gb"})


@pytest.mark.parametrize("days", ["0", "36501", "-5"])
def test_audit_retention_must_be_a_sane_number_of_days(tmp_path, days):
    with pytest.raises(ConfigError, match="audit.retention_days"):
        load(tmp_path, {"ZIPSHORT_AUDIT_RETENTION_DAYS": days})


def test_the_audit_log_is_on_for_a_year_by_default_and_can_be_turned_off(tmp_path):
    assert (load(tmp_path, {}).audit.enabled, load(tmp_path, {}).audit.retention_days) == (True, 365)
    assert load(tmp_path, {"ZIPSHORT_AUDIT_ENABLED": "false"}).audit.enabled is False
