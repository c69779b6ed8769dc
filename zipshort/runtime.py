"""The objects every service needs, built once per app: settings, hasher, rate limiter, view buffer, caches,
events. No module keeps per-app state of its own: it lives here (tests/unit/test_layering.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from zipshort.config import Settings
from zipshort.counters import (
    Generation,
    GroupCommit,
    HostnameCache,
    LinkCache,
    RunningHashes,
    Snapshot,
    Tally,
    ViewBuffer,
    ViewLeases,
    VisitQueue,
    WebhookState,
)
from zipshort.events import Dispatcher
from zipshort.faults import arm as arm_faults
from zipshort.geoip import CountryLookup
from zipshort.ratelimit import RateLimiter
from zipshort.security import Passwords
from zipshort.storage import Storage, build_storage
from zipshort.telemetry import Telemetry
from zipshort.useragents import AgentParser


@dataclass(frozen=True)
class Runtime:
    """Explicit dependencies handed to services (no hidden globals)."""

    settings: Settings
    passwords: Passwords
    limiter: RateLimiter
    views: ViewBuffer  # views of unlimited links, written in batches (services/visits.py)
    file_views: ViewBuffer  # views of files without a limit, written with them
    link_cache: LinkCache
    # files recently found protected, by name (CachedLink.protected; their password page runs no SQL)
    protected_files: LinkCache
    storage: Storage
    hostnames: HostnameCache
    country: CountryLookup
    events: Dispatcher
    visits: VisitQueue
    agents: AgentParser
    grants: GroupCommit[Any, Any]  # the redirect's grouped view counts (services/redirects.py)
    lookups: GroupCommit[Any, Any]  # the redirect's grouped cache-miss reads on PostgreSQL (services/redirects.py)
    leases: ViewLeases  # views of limited links held in advance (services/redirects.py, services/visits.py)
    # every domain's special redirects, read on each public 404 (services/domains.py: domain_redirects)
    domain_redirects: Snapshot[Any]
    # outcomes of Zipline's webhook and Discord deliveries: (channel, outcome) → count (services/ziplinehooks.py)
    notifications: Tally
    webhooks: WebhookState  # per-user webhooks: batched visits, the delivery worker's wake-up
    # this process's SHA-256 of each chunked upload's bytes received in order so far (services/partials.py)
    chunk_hashes: RunningHashes
    telemetry: Telemetry | None = None  # Prometheus metrics (zipshort/telemetry.py); None unless metrics.enabled

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        """Create the runtime for ``settings``."""
        sec = settings.security
        arm_faults(settings.faults.crash_at)  # empty unless a crash test asks for points
        leases = ViewLeases()
        # every process of this instance folder sees a change made in any of them at once (counters.Generation)
        generation = Generation(os.path.join(settings.instance_path, "cache-generation"))
        return cls(
            settings=settings,
            passwords=Passwords(sec.argon2_time_cost, sec.argon2_memory_cost, sec.argon2_parallelism),
            limiter=RateLimiter(settings.ratelimit.storage_uri),
            views=ViewBuffer(),
            file_views=ViewBuffer(),
            link_cache=LinkCache(settings.urls.cache_seconds, leases=leases, generation=generation),
            protected_files=LinkCache(settings.urls.cache_seconds, generation=generation),
            storage=build_storage(settings),
            hostnames=HostnameCache(),
            country=CountryLookup(settings.urls.country_header, settings.urls.geoip_database),
            events=Dispatcher(),
            visits=VisitQueue(settings.analytics.queue_size, settings.analytics.queue_wait_ms / 1000,
                              settings.analytics.batch_size),
            agents=AgentParser(),
            grants=GroupCommit(),
            lookups=GroupCommit(),
            leases=leases,
            domain_redirects=Snapshot(),
            notifications=Tally(),
            webhooks=WebhookState(),
            chunk_hashes=RunningHashes(),
            telemetry=Telemetry(settings) if settings.metrics.enabled else None,
        )
