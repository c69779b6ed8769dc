"""What an API key may reach among its user's links: all of them, only those it created, only one domain's
(Shlink's key roles ``AUTHORED_SHORT_URLS`` and ``DOMAIN_SPECIFIC``), in SQL and in Python, saying the same.

A :class:`Reach` narrows, never widens: the owner rule (a user's own links, ``roles`` for others) still
applies, and a reach only takes links away from it. A browser session, the CLI and an unrestricted key reach
everything their user owns; the reach of a key also names the key, so the links it creates record it
(``links.api_key_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement

from zipshort.models import ApiKey, Link
from zipshort.runtime import Runtime


@dataclass(frozen=True)
class Reach:
    """The links a caller may see and act on, beyond the owner rule.

    ``key_id``: the key calling (None: a session or the console), recorded on the links it creates.
    ``authored_only``: only links whose ``api_key_id`` is ``key_id``.
    ``domain``: only links whose ``links.domain`` is this (``''`` = the platform's domain-less links, else a
    custom hostname); None = every domain.
    """

    key_id: str | None = None
    authored_only: bool = False
    domain: str | None = None

    def __post_init__(self) -> None:
        if self.authored_only and self.key_id is None:
            raise ValueError("an authored-only reach needs the key's id")

    @property
    def restricted(self) -> bool:
        """Whether some of the user's links are out of reach (the key holds a role)."""
        return self.authored_only or self.domain is not None

    def link_conditions(self) -> list[ColumnElement[bool]]:
        """The reach as conditions on ``links`` (none when unrestricted), to AND into a query's WHERE."""
        conditions: list[ColumnElement[bool]] = []
        if self.authored_only:
            conditions.append(Link.api_key_id == self.key_id)
        if self.domain is not None:
            conditions.append(Link.domain == self.domain)
        return conditions

    def admits(self, link: Link) -> bool:
        """Whether ``link`` is within reach: the Python twin of :meth:`link_conditions`."""
        if self.authored_only and link.api_key_id != self.key_id:
            return False
        return self.domain is None or link.domain == self.domain

    def creation_domain(self, asked: str) -> str:
        """The ``links.domain`` a new link gets: a domain-bound reach overrides what the caller asked for."""
        return asked if self.domain is None else self.domain


ALL = Reach()


def reach_of(rt: Runtime, key: ApiKey | None) -> Reach:
    """The reach of a caller holding ``key`` (None: a browser session, the CLI: :data:`ALL`).

    ``api_keys.domain`` names a domain as a host; a platform host (``domains``, ``core.default_domain``) means
    the domain-less links, stored as ``''``, like the empty name itself.
    """
    if key is None:
        return ALL
    return Reach(key_id=key.id, authored_only=key.authored_only, domain=links_domain(rt, key.domain))


def links_domain(rt: Runtime, stored: str | None) -> str | None:
    """The ``links.domain`` a key's stored domain role stands for: None (no role) stays None, a platform host
    (``domains``, ``core.default_domain``) and ``''`` are the platform's domain-less links (``''``), a custom
    hostname is itself."""
    if stored is None:
        return None
    domain = stored.strip().lower()
    return "" if domain in rt.settings.allowed_domains else domain
