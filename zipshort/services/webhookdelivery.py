"""Delivering per-user webhook messages: claim what is due, send it signed, record the outcome, retry or give up.

Every server process runs a ``WebhookWorker`` thread (``zipshort serve``); it is never in a request. A round:

1. ``claim``: in one write transaction, take up to ``webhooks.concurrency`` due messages (pending, or claimed
   by a process whose lease ran out) of enabled endpoints and mark them ``sending`` by this process until
   ``now + lease`` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so processes take different rows; SQLite: the
   transaction holds the database's write lock, so the conditional UPDATE is the claim). Each claim counts an
   attempt.
2. ``attempt``: POST the stored body through ``outbound.fetch`` (the SSRF guard, ``outbound.allowed_networks``,
   no redirect followed, ``webhooks.timeout``), signed the Standard Webhooks way: ``webhook-id`` (the message
   id, the same at every attempt), ``webhook-timestamp``, ``webhook-signature`` (``v1,`` base64 HMAC-SHA256 of
   ``id.timestamp.body`` under the secret's bytes, made by the ``standardwebhooks`` library).
3. ``settle``: ``outcome_of`` decides (the one place: ``delivered`` for a 2xx; else ``retrying`` after an
   exponential, jittered delay, or ``gave_up`` past ``webhooks.give_up_seconds``), and one transaction records
   it — the message's state (only if this process still holds the claim), a delivery log row, the endpoint's
   failure count; ``webhooks.disable_after_failures`` failed attempts in a row disable the endpoint, with the
   reason, and give up what it was still to get.

A process that dies holding claims leaves them until their lease ends; another process (or this one after a
restart) then sends them again: delivery is at least once, and receivers deduplicate by ``webhook-id``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete, select, update
from standardwebhooks.webhooks import Webhook

from zipshort.database import rowcount, write_transaction
from zipshort.errors import ZipshortError
from zipshort.extensions import db
from zipshort.models import WebhookDelivery, WebhookEndpoint, WebhookMessage, new_id, utcnow
from zipshort.models.webhook import DELIVERED, FAILED, PENDING, SENDING
from zipshort.outbound import fetch
from zipshort.runtime import Runtime
from zipshort.security import unseal
from zipshort.services.webhooks import SEAL_PURPOSE, flush_visits, refresh_wanted_visits
from zipshort.telemetry import record_webhook_delivery

log = logging.getLogger("zipshort.webhooks")

LEASE_MARGIN = 30.0  # seconds a claim outlives the attempt's timeout
PRUNE_EVERY = 3600.0  # seconds between clean-ups of old messages and log rows in one process
MAX_ERROR = 500

# Outcomes of one attempt (the delivery log's ``outcome``; zipshort_webhook_deliveries_total's label).
OUTCOME_DELIVERED, OUTCOME_RETRYING, OUTCOME_GAVE_UP = "delivered", "retrying", "gave_up"


@dataclass(frozen=True)
class Claimed:
    """A message this process holds, with what sending it needs."""

    id: str
    endpoint_id: str
    url: str
    secret_sealed: str
    event_type: str
    payload: str
    attempt: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Attempted:
    """What one attempt got: the status (None when nothing answered), how long it took, the error."""

    status: int | None
    duration_ms: int
    error: str | None = None


def claim(rt: Runtime, now: dt.datetime | None = None, limit: int | None = None) -> list[Claimed]:
    """Take up to ``limit`` due messages for this process (see the module's docstring)."""
    now = now or utcnow()
    settings = rt.settings.webhooks
    limit = limit or settings.concurrency
    lease_until = now + dt.timedelta(seconds=settings.timeout + LEASE_MARGIN)
    # A read first: an idle round takes no write lock (SQLite's is the whole database's); in a fresh snapshot.
    if db.session().in_transaction():
        db.session.commit()
    if db.session.scalar(select(WebhookMessage.id).where(WebhookMessage.state.in_((PENDING, SENDING)),
                                                         WebhookMessage.next_attempt_at <= now).limit(1)) is None:
        db.session.rollback()
        return []
    with write_transaction(db.session) as session:
        due = (select(WebhookMessage.id).join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
               .where(WebhookEndpoint.enabled, WebhookMessage.state.in_((PENDING, SENDING)),
                      WebhookMessage.next_attempt_at <= now)
               .order_by(WebhookMessage.next_attempt_at).limit(limit)
               .with_for_update(skip_locked=True, of=WebhookMessage))
        ids = list(session.scalars(due))
        if not ids:
            return []
        session.execute(update(WebhookMessage).where(WebhookMessage.id.in_(ids))
                        .values(state=SENDING, claimed_by=rt.webhooks.holder, attempts=WebhookMessage.attempts + 1,
                                next_attempt_at=lease_until))
        rows = session.execute(select(WebhookMessage.id, WebhookMessage.endpoint_id, WebhookEndpoint.url,
                                      WebhookEndpoint.secret_sealed, WebhookMessage.event_type,
                                      WebhookMessage.payload, WebhookMessage.attempts, WebhookMessage.created_at)
                               .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
                               .where(WebhookMessage.id.in_(ids))).all()
    return [Claimed(*row) for row in rows]


def signed_headers(secret: str, message_id: str, body: str, at: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {"content-type": "application/json", "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body)}


def attempt(rt: Runtime, message: Claimed) -> Attempted:
    """Send ``message`` once (no database work: it runs on the worker's delivery threads)."""
    secret = unseal(rt.settings.core.secret, SEAL_PURPOSE, message.secret_sealed)
    if secret is None:
        return Attempted(None, 0, "The signing secret cannot be read (core.secret changed?): rotate the secret")
    started = time.monotonic()
    try:
        answer = fetch(message.url, method="POST", body=message.payload.encode(),
                       headers=signed_headers(secret, message.id, message.payload, utcnow()),
                       allowed_networks=rt.settings.outbound.allowed_networks, max_redirects=0,
                       timeout=rt.settings.webhooks.timeout, max_bytes=1024)
    except ZipshortError as exc:  # refused (SSRF guard), unreachable, timed out, a redirect
        return Attempted(None, _ms(started), exc.message[:MAX_ERROR])
    error = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    return Attempted(answer.status, _ms(started), error)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def retry_delay(rt: Runtime, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: exponential, capped, jittered."""
    s = rt.settings.webhooks
    delay = min(s.max_retry_seconds, s.first_retry_seconds * s.retry_factor ** max(0, attempts - 1))
    return delay * (1 + random.uniform(-s.retry_jitter, s.retry_jitter))


def outcome_of(rt: Runtime, message: Claimed, result: Attempted, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """The one place an attempt's outcome is decided: delivered (a 2xx), retrying (and when), or gave up (the
    next attempt would come after ``webhooks.give_up_seconds`` from the message's creation)."""
    if result.status is not None and 200 <= result.status < 300:
        return OUTCOME_DELIVERED, None
    next_at = now + dt.timedelta(seconds=retry_delay(rt, message.attempt))
    if next_at > message.created_at + dt.timedelta(seconds=rt.settings.webhooks.give_up_seconds):
        return OUTCOME_GAVE_UP, None
    return OUTCOME_RETRYING, next_at


def settle(rt: Runtime, message: Claimed, result: Attempted, now: dt.datetime | None = None) -> str:
    """Record one attempt and what follows from it; returns the outcome."""
    now = now or utcnow()
    outcome, next_at = outcome_of(rt, message, result, now)
    record_webhook_delivery(rt.telemetry, outcome)  # zipshort_webhook_deliveries_total{outcome}
    with write_transaction(db.session) as session:
        if outcome == OUTCOME_RETRYING:
            values: dict[str, object] = {"state": PENDING, "next_attempt_at": next_at, "claimed_by": None}
        else:
            values = {"state": DELIVERED if outcome == OUTCOME_DELIVERED else FAILED, "finished_at": now}
        held = rowcount(session.execute(update(WebhookMessage).where(
            WebhookMessage.id == message.id, WebhookMessage.state == SENDING,
            WebhookMessage.claimed_by == rt.webhooks.holder, WebhookMessage.attempts == message.attempt)
            .values(**values)))
        if not held:  # the lease ran out and another process took it (or the endpoint went): its attempt decides
            return outcome
        session.add(WebhookDelivery(id=new_id(), endpoint_id=message.endpoint_id, message_id=message.id,
                                    event_type=message.event_type, attempt=message.attempt, outcome=outcome,
                                    status_code=result.status, duration_ms=result.duration_ms,
                                    error=(result.error or None) and result.error[:MAX_ERROR], at=now))
        if outcome == OUTCOME_DELIVERED:
            session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == message.endpoint_id)
                            .values(failures=0))
            return outcome
        session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == message.endpoint_id)
                        .values(failures=WebhookEndpoint.failures + 1))
        endpoint = session.execute(select(WebhookEndpoint.failures, WebhookEndpoint.enabled)
                                   .where(WebhookEndpoint.id == message.endpoint_id)).one_or_none()
        if endpoint is None:
            return outcome
        limit = rt.settings.webhooks.disable_after_failures
        if endpoint.enabled and endpoint.failures >= limit:
            reason = f"Disabled after {endpoint.failures} failed attempts in a row (the last: {result.error})"
            session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == message.endpoint_id)
                            .values(enabled=False, disabled_reason=reason[:300], disabled_at=now))
        if not endpoint.enabled or endpoint.failures >= limit:  # nothing more goes to a disabled endpoint
            session.execute(update(WebhookMessage).where(WebhookMessage.endpoint_id == message.endpoint_id,
                                                         WebhookMessage.state == PENDING)
                            .values(state=FAILED, finished_at=now))
    return outcome


def prune(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Delete delivered and given-up messages and delivery log rows older than ``webhooks.retention_days``."""
    cutoff = (now or utcnow()) - dt.timedelta(days=rt.settings.webhooks.retention_days)
    with write_transaction(db.session) as session:
        gone = rowcount(session.execute(delete(WebhookMessage).where(WebhookMessage.state.in_((DELIVERED, FAILED)),
                                                                     WebhookMessage.finished_at < cutoff)))
        gone += rowcount(session.execute(delete(WebhookDelivery).where(WebhookDelivery.at < cutoff)))
    return gone


class WebhookWorker:
    """The delivery thread of one server process: a round at every ``webhooks.poll_seconds`` or sooner when a
    commit wrote messages (``rt.webhooks.wake``), at once again while rounds come back full; visits are turned
    into messages every ``webhooks.visit_batch_seconds``, and old rows pruned every hour. Database work runs
    inside ``scope()`` (serve passes the app's ``app_context``); the sends run on ``concurrency`` threads."""

    def __init__(self, rt: Runtime, scope: Callable[[], AbstractContextManager[object]]) -> None:
        self.rt, self.scope = rt, scope
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=rt.settings.webhooks.concurrency,
                                        thread_name_prefix="zipshort-webhook-send")
        self._thread = threading.Thread(target=self._loop, name="zipshort-webhooks", daemon=True)
        self._next_visits = time.monotonic() + rt.settings.webhooks.visit_batch_seconds
        self._next_prune = time.monotonic() + 60

    def start(self) -> "WebhookWorker":
        self._thread.start()
        return self

    def _loop(self) -> None:
        wake = self.rt.webhooks.wake
        while not self._stop.is_set():
            full = False
            try:
                full = self.round()
            except Exception:  # keep the server up; the next round retries
                log.exception("webhooks: a delivery round failed; will retry")
            if not full:
                wake.wait(self.rt.settings.webhooks.poll_seconds)
                wake.clear()

    def round(self) -> bool:
        """One round; True when it claimed as many messages as it may (more may be due)."""
        clock = time.monotonic()
        with self.scope():
            refresh_wanted_visits(self.rt)
            if clock >= self._next_visits:
                self._next_visits = clock + self.rt.settings.webhooks.visit_batch_seconds
                flush_visits(self.rt)
            if clock >= self._next_prune:
                self._next_prune = clock + PRUNE_EVERY
                prune(self.rt)
            claimed = claim(self.rt)
            if not claimed:
                return False
            results = list(self._pool.map(lambda m: attempt(self.rt, m), claimed))
            for message, result in zip(claimed, results, strict=True):
                settle(self.rt, message, result)
        return len(claimed) >= self.rt.settings.webhooks.concurrency

    def stop(self) -> None:
        """Stop after the current round; the visits still queued become messages (delivered later)."""
        self._stop.set()
        self.rt.webhooks.wake.set()
        self._thread.join(timeout=self.rt.settings.webhooks.timeout + 5)
        self._pool.shutdown(wait=False)
        try:
            with self.scope():
                flush_visits(self.rt)
        except Exception:
            log.exception("webhooks: the last visits could not be written")
