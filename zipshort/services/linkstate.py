"""Whether a link is live: one rule, written once, read in Python and in SQL.

A link is live (``active``) while it is enabled and its owner is not disabled, its life has begun (Shlink's
``validSince``), it has not expired, and it has views left. ``CONDITIONS`` holds these four, each as SQL and
as Python side by side, in the order that names a dead link (a disabled link that has also expired reads
"disabled"). A link that is not live yet answers as an expired one does (services/redirects.py).
``state_of`` evaluates them in Python (listings, API objects, the classification of a redirect that
found no row); ``LIVE_SQL`` is their conjunction for the redirect's hot statements
(services/redirects.py). tests/services/test_link_liveness.py checks every combination of states
through both, on both databases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from zipshort.models import Link, utcnow

ACTIVE, DISABLED, NOT_YET_VALID, EXPIRED, USED_UP = "active", "disabled", "not yet valid", "expired", "used up"
LINK_STATES = (ACTIVE, DISABLED, NOT_YET_VALID, EXPIRED, USED_UP)


@dataclass(frozen=True)
class Facts:
    """What liveness depends on: the link's columns and its owner's ``disabled`` flag."""

    enabled: bool
    expires_at: dt.datetime | None
    views: int
    max_views: int | None
    owner_disabled: bool = False
    valid_since: dt.datetime | None = None


@dataclass(frozen=True)
class Condition:
    """One condition of liveness: ``sql`` over a ``links`` row (``:now`` bound to the time of the
    visit) and ``holds``, the same test in Python; a link for which it is the first to fail is in
    state ``fails_as``."""

    fails_as: str
    sql: str
    holds: Callable[[Facts, dt.datetime], bool]


def unexpired(expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """The expiry condition in Python."""
    return expires_at is None or expires_at > now


def begun(valid_since: dt.datetime | None, now: dt.datetime) -> bool:
    """The start-of-life condition in Python (Shlink's ``validSince``: live from that instant on)."""
    return valid_since is None or valid_since <= now


def in_window(valid_since: dt.datetime | None, expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Both time conditions: what a cached link (live but for time) is checked against on each visit."""
    return begun(valid_since, now) and unexpired(expires_at, now)


CONDITIONS: tuple[Condition, ...] = (
    Condition(DISABLED, "links.enabled IS TRUE AND EXISTS (SELECT 1 FROM users WHERE users.id = links.user_id"
                        " AND users.disabled IS FALSE)",
              lambda f, now: bool(f.enabled) and not f.owner_disabled),
    Condition(NOT_YET_VALID, "links.valid_since IS NULL OR links.valid_since <= :now",
              lambda f, now: begun(f.valid_since, now)),
    Condition(EXPIRED, "links.expires_at IS NULL OR links.expires_at > :now",
              lambda f, now: unexpired(f.expires_at, now)),
    Condition(USED_UP, "links.max_views IS NULL OR links.views < links.max_views",
              lambda f, now: f.max_views is None or f.views < f.max_views),
)

# The rule in SQL, for the redirect's hot statements (a WHERE clause over ``links``; binds ``:now``).
LIVE_SQL = " AND ".join(f"({condition.sql})" for condition in CONDITIONS)


def state_of(enabled: bool, expires_at: dt.datetime | None, views: int, max_views: int | None,
             owner_disabled: bool = False, now: dt.datetime | None = None, *,
             valid_since: dt.datetime | None = None) -> str:
    """active / disabled / not yet valid / expired / used up: whether a visit redirects now and, if not, why."""
    facts = Facts(enabled, expires_at, views, max_views, owner_disabled, valid_since)
    now = now or utcnow()
    for condition in CONDITIONS:
        if not condition.holds(facts, now):
            return condition.fails_as
    return ACTIVE


def link_state(link: Link, now: dt.datetime | None = None, owner_disabled: bool = False) -> str:
    """The state of ``link`` (see :func:`state_of`); every dialect and page shows this one."""
    return state_of(link.enabled, link.expires_at, link.views, link.max_views, owner_disabled, now,
                    valid_since=link.valid_since)


def is_live(link: Link, now: dt.datetime | None = None, owner_disabled: bool = False) -> bool:
    """Whether a visit to ``link`` would redirect now (the ``isActive`` / ``is_active`` of the APIs)."""
    return link_state(link, now, owner_disabled) == ACTIVE
