"""Domains links are served on: the platform's (``domains`` and ``core.default_domain`` in settings, else
the host the request came to). Each has a stable UUID (v5 of its name), so dialects that address
domains by id (hozip's ``domain_id``, h0p's ``domainId``) get the same id every time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from zipshort.runtime import Runtime

_NAMESPACE = uuid.UUID("6f1c9a52-8d1e-4c39-9a0e-2b7d4f3c8e10")


@dataclass(frozen=True)
class Domain:
    """One host links can be served on."""

    id: str
    hostname: str
    is_primary: bool


def domain_id(hostname: str) -> str:
    """The stable id of ``hostname``."""
    return str(uuid.uuid5(_NAMESPACE, hostname.lower()))


def platform_domains(rt: Runtime, request_host: str) -> list[Domain]:
    """The enabled platform domains, the primary (default domain, else the first) first."""
    names = list(rt.settings.allowed_domains) or [request_host.lower()]
    primary = (rt.settings.core.default_domain or names[0]).lower()
    ordered = [primary] + [n for n in names if n != primary]
    return [Domain(domain_id(n), n, n == primary) for n in ordered]


def find(rt: Runtime, request_host: str, ident: str | None = None, name: str | None = None) -> Domain | None:
    """The platform domain with this id or hostname, or None."""
    for domain in platform_domains(rt, request_host):
        if (ident and domain.id == ident.lower()) or (name and domain.hostname == name.lower()):
            return domain
    return None


def choose(rt: Runtime, request_host: str, ident: str | None = None, name: str | None = None) -> Domain:
    """The requested domain if it exists, else the primary one."""
    return find(rt, request_host, ident, name) or platform_domains(rt, request_host)[0]
