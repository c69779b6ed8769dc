"""Settings of custom domain proofs and of the outbound guard: parsed, validated with the key named."""

from __future__ import annotations

import pytest

from zipshort.config import ConfigError, load_settings

SECRET = "s" * 40


def load(tmp_path, env: dict[str, str] | None = None, **overrides):
    return load_settings(overrides, environ={"CORE_SECRET": SECRET, **(env or {})}, instance_path=tmp_path)


def test_nameservers_and_networks_from_the_environment(tmp_path):
    settings = load(tmp_path, {"ZIPSHORT_DOMAIN_VERIFICATION_NAMESERVERS": "127.0.0.1:5353, [::1]:53",
                               "ZIPSHORT_OUTBOUND_ALLOWED_NETWORKS": "10.0.0.0/8"})
    assert settings.domain_verification.nameservers == ("127.0.0.1:5353", "[::1]:53")
    assert settings.outbound.allowed_networks == ("10.0.0.0/8",)


@pytest.mark.parametrize("section,values,fragment", [
    ("domain_verification", {"nameservers": ["dns.example"]}, "domain_verification.nameservers"),
    ("domain_verification", {"nameservers": ["1.1.1.1:0"]}, "domain_verification.nameservers"),
    ("domain_verification", {"timeout": 0}, "domain_verification.timeout"),
    ("domain_verification", {"rate_limit": "often"}, "domain_verification.rate_limit"),
    ("outbound", {"allowed_networks": ["10.0.0.0/33"]}, "outbound.allowed_networks"),
    ("outbound", {"timeout": 100}, "outbound.timeout"),
    ("files", {"route": "/.well-known/x"}, "/.well-known is reserved"),
    ("urls", {"route": "/.well-known"}, "/.well-known is reserved"),
])
def test_bad_value_is_refused_naming_the_key(tmp_path, section, values, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load(tmp_path, **{section: values})
