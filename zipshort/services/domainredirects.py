"""Special redirects per domain (Shlink's "not found" redirects) as a caller sees them: the ``domain_redirects``
rows of some domains, and which domains a caller sees. Setting them, and where a visitor is sent, is
services/domains.py's (``set_domain_redirects``, ``special_redirect``).

A domain is named as ``links.domain`` names it: ``''`` for the platform's own hosts (Shlink's default domain),
else a custom hostname.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select

from zipshort.extensions import db
from zipshort.models import CustomDomain, DomainRedirect, Link, User
from zipshort.services.reach import Reach


@dataclass(frozen=True)
class Redirects:
    """The three targets of one domain (None: not set)."""

    base_url: str | None = None
    regular_404: str | None = None
    invalid_short_url: str | None = None


def redirects_of(names: list[str]) -> dict[str, Redirects]:
    """The stored redirects of these domains (a domain without a row is missing)."""
    if not names:
        return {}
    rows = db.session.scalars(select(DomainRedirect).where(DomainRedirect.domain.in_(names)))
    return {row.domain: Redirects(row.base_url, row.regular_404, row.invalid_short_url) for row in rows}


def visible_domains(owner: User, reach: Reach) -> tuple[bool, list[str]]:
    """Whether the caller sees the platform's domain, and the custom hostnames it sees (sorted): the owner's
    verified custom domains; an authored-only key only those holding a link it made; a domain key only its own."""
    if reach.domain is not None:
        return reach.domain == "", [reach.domain] if reach.domain else []
    cond: list[Any] = [CustomDomain.user_id == owner.id, CustomDomain.verified_at.is_not(None)]
    if reach.authored_only:
        cond.append(exists().where(Link.domain == CustomDomain.hostname, Link.user_id == owner.id,
                                   Link.api_key_id == reach.key_id))
    names = db.session.scalars(select(CustomDomain.hostname).where(*cond).distinct())
    return True, sorted(set(names))
