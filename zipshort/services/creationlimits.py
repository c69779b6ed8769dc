"""How fast callers may create things (links, uploads). A dialect says which limit its requests fall
under; the numbers and the wording come from the settings and from here, and the door that creates
the thing applies it (services/links.py), before any other work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zipshort.errors import RateLimited
from zipshort.models import User
from zipshort.ratelimit import describe
from zipshort.runtime import Runtime


class CreationLimit(Protocol):
    """A limit a creating request falls under."""

    def hit(self, rt: Runtime, owner: User | None) -> None:
        """Count one request; raise RateLimited (with ``retry_after``) when over the limit."""


@dataclass(frozen=True)
class GeneralLimit:
    """Zipline's RATELIMIT_* (``[ratelimit]`` enabled, max, window): ``max`` creations per ``window`` seconds
    per user (per address when anonymous), route and method; administrators (with ``admin_bypass``) and
    addresses in ``allow_list`` skip it."""

    route: str  # "urls", "upload"
    address: str  # the client's address
    method: str = "POST"

    def hit(self, rt: Runtime, owner: User | None) -> None:
        settings = rt.settings.ratelimit
        if not settings.enabled or (owner is not None and settings.admin_bypass and owner.is_administrator):
            return
        if self.address in settings.allow_list:
            return
        try:
            rt.limiter.hit(f"{max(1, settings.max)}/{max(1, settings.window)} second", "creation",
                           owner.id if owner is not None else self.address, self.route, self.method)
        except RateLimited as exc:
            raise RateLimited(f"Rate limit exceeded, retry in {exc.retry_after} seconds",
                              retry_after=exc.retry_after) from None


@dataclass(frozen=True)
class PerKeyLimit:
    """hozip's: ``urls.hozip_create_limit`` link creations per API key (per user for a browser session)."""

    key_id: str | None

    def hit(self, rt: Runtime, owner: User | None) -> None:
        limit = rt.settings.urls.hozip_create_limit
        if not limit:
            return
        rt.limiter.hit(limit, "hozip-create", self.key_id or (owner.id if owner is not None else ""),
                       message=f"Request was throttled: {describe(limit, 'link creations')} per API key.")
