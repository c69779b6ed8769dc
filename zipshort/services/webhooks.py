"""Per-user webhooks: the doors over a user's endpoints, and how events become outbox messages.

An endpoint is a URL, the event types it wants (from the event catalogue: every event about something a user
owns, plus the batched visits) and a signing secret shown once (``whsec_<base64>``, Standard Webhooks). The
secret is sealed at rest (``security.seal``, a key derived from ``core.secret``) because the server must sign
with it; changing ``core.secret`` makes it unreadable, and deliveries then fail until the secret is rotated.

**Outbox, same transaction.** ``outbox_writer`` is a transactional subscriber of the dispatcher: just before a
door's transaction commits, it inserts one ``webhook_messages`` row per event and endpoint that wants it, in
that transaction. The change and its messages commit together or not at all, so an event is never lost
between the commit and the delivery (a crash there leaves the message for the next process to deliver), and
the worker (services/webhookdelivery.py) delivers it at least once.

**Visits** (``link.visited``, ``file.viewed``) come from the redirect's hot path and are not changes: a hand-off
subscriber queues them in memory (``rt.webhooks.visits``, bounded, only while some enabled endpoint wants
them), and the worker turns each window of ``webhooks.visit_batch_seconds`` into one message per endpoint and
type carrying many visits (``flush_visits``). Visits queued when a process dies are lost, as the analytics
queue's are.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, cast

from sqlalchemy import func, insert, select, update

from zipshort.database import lock_key, write_transaction
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.events import Event, FileViewed, LinkVisited, catalogue
from zipshort.extensions import db
from zipshort.inputs import check_offset, check_text, dumps
from zipshort.models import File, Link, User, WebhookDelivery, WebhookEndpoint, WebhookMessage, new_id, utcnow
from zipshort.models.webhook import FAILED, PENDING, SENDING
from zipshort.outbound import check_url
from zipshort.runtime import Runtime
from zipshort.security import seal

SEAL_PURPOSE = "webhook secrets"
SECRET_PREFIX = "whsec_"
TEST_EVENT = "webhook.test"
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200
VISIT_TYPES = (LinkVisited.name, FileViewed.name)
VISITS_PER_MESSAGE = 1000
UNSET: Any = object()


def owned_types() -> dict[str, type[Event]]:
    """Events about something a user owns (they carry ``owner_id``), by name: what an endpoint may want
    besides the visits. Derived from the catalogue, so a new event of that kind is offered at once."""
    return {cls.name: cls for cls in catalogue() if any(f.name == "owner_id" for f in fields(cls))}


def event_types() -> tuple[str, ...]:
    """Every event type an endpoint may subscribe to, in the catalogue's order."""
    return (*owned_types(), *VISIT_TYPES)


def new_message_id() -> str:
    """``msg_`` and a time-ordered UUID: the ``webhook-id`` of every attempt of one message."""
    return "msg_" + new_id().replace("-", "")


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    return value


def payload(event_type: str, at: dt.datetime, data: dict[str, Any]) -> str:
    """The body of a message: ``{"type", "timestamp", "data"}`` as Standard Webhooks suggests."""
    return dumps({"type": event_type, "timestamp": _json_value(at),
                  "data": {k: _json_value(v) for k, v in data.items()}}, separators=(",", ":"))


def event_payload(event: Event) -> str:
    """An owned event's message body: its fields (destinations included: the receiver is the owner), the actor
    and the request id."""
    data = {**event.details(include_quiet=True), "actor_id": event.actor_id, "request_id": event.request_id}
    return payload(event.name, event.at, data)


# --- the outbox ------------------------------------------------------------------------------------------------

def outbox_writer(rt: Runtime) -> Callable[[Any, list[Event]], None]:
    """The transactional subscriber (``Dispatcher.subscribe_in_transaction``) that writes the messages of a
    committing change's events, one per event and enabled endpoint of the owner that wants it."""
    del rt  # the session is the committing one; nothing else is needed

    def write(session: Any, events: list[Event]) -> None:
        names = owned_types()
        owned = [e for e in events if e.name in names and _owner(e)]
        if not owned:
            return
        owners = {_owner(e) for e in owned}
        endpoints = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.user_id, WebhookEndpoint.events)
                                    .where(WebhookEndpoint.user_id.in_(owners), WebhookEndpoint.enabled)).all()
        if not endpoints:
            return
        now = utcnow()
        rows = [{"id": new_message_id(), "endpoint_id": ep.id, "event_type": e.name, "payload": event_payload(e),
                 "created_at": now, "next_attempt_at": now, "attempts": 0, "state": PENDING, "test": False}
                for e in owned for ep in endpoints
                if ep.user_id == _owner(e) and e.name in ep.events.split()]
        if rows:
            session.execute(insert(WebhookMessage), rows)

    return write


def _owner(event: Event) -> str | None:
    owner: str | None = getattr(event, "owner_id", None)
    return owner


def waker(rt: Runtime) -> Callable[[Event], None]:
    """An ordinary subscriber of the owned events: after their commit, wake this process's delivery worker."""
    wake = rt.webhooks.wake

    def wake_worker(event: Event) -> None:
        wake.set()

    return wake_worker


def visit_collector(rt: Runtime) -> Callable[[Event], None]:
    """The hand-off subscriber of visits: queue one (bounded) while some enabled endpoint wants its type."""
    state = rt.webhooks

    def queue_visit(event: Event) -> None:
        if event.name in state.wanted_visits:
            state.visits.offer(event)

    return queue_visit


def refresh_wanted_visits(rt: Runtime) -> frozenset[str]:
    """Read which visit types some enabled endpoint wants (the worker does, every round), and subscribe the visit
    collector for exactly those (none: the redirect builds no visit event for webhooks)."""
    wanted = frozenset(name for name in VISIT_TYPES if db.session.scalar(
        select(WebhookEndpoint.id).where(WebhookEndpoint.enabled, WebhookEndpoint.events.contains(name)).limit(1)))
    db.session.rollback()
    state = rt.webhooks
    if wanted != state.wanted_visits or (wanted and state.collector is None):
        if state.collector is not None:
            rt.events.unsubscribe(state.collector)
            state.collector = None
        state.wanted_visits = wanted
        if wanted:
            state.collector = visit_collector(rt)
            rt.events.subscribe(state.collector, *(kind for kind in (LinkVisited, FileViewed) if kind.name in wanted),
                                hand_off=True)
    return wanted


def _visit_entry(event: Event) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": _json_value(event.at), "host": getattr(event, "host", None)}
    if isinstance(event, LinkVisited):
        entry.update(link_id=event.link_id, code=event.code)
    elif isinstance(event, FileViewed):
        entry.update(file_id=event.file_id, filename=event.filename)
    visitor = getattr(event, "visitor", None)
    if visitor is not None and not visitor.do_not_track:  # never the address
        entry.update(referrer=visitor.referrer or None, user_agent=visitor.user_agent or None)
    return entry


def flush_visits(rt: Runtime, limit: int = 50_000) -> int:
    """Turn the queued visits into messages: for each endpoint and visit type, one message per
    ``VISITS_PER_MESSAGE`` visits of its owner's links or files. Returns how many messages were written."""
    visits: list[Event] = [v for v in rt.webhooks.visits.take(limit) if isinstance(v, (LinkVisited, FileViewed))]
    if not visits:
        return 0
    link_ids = {v.link_id for v in visits if isinstance(v, LinkVisited)}
    file_ids = {v.file_id for v in visits if isinstance(v, FileViewed)}
    owner_of: dict[str, str] = {}
    for model, ids in ((Link, link_ids), (File, file_ids)):
        for start in range(0, len(ids), 500):
            chunk = list(ids)[start:start + 500]
            owner_of.update((i, u) for i, u in db.session.execute(select(model.id, model.user_id)
                                                                   .where(model.id.in_(chunk))) if u)
    by_owner: dict[tuple[str, str], list[Event]] = {}
    for v in visits:
        owner = owner_of.get(v.link_id if isinstance(v, LinkVisited) else cast(FileViewed, v).file_id)
        if owner:
            by_owner.setdefault((owner, v.name), []).append(v)
    if not by_owner:
        db.session.rollback()
        return 0
    now = utcnow()
    with write_transaction(db.session) as session:
        endpoints = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.user_id, WebhookEndpoint.events)
                                    .where(WebhookEndpoint.user_id.in_({o for o, _ in by_owner}),
                                           WebhookEndpoint.enabled)).all()
        rows = []
        for ep in endpoints:
            for name in ep.events.split():
                batch = by_owner.get((ep.user_id, name), [])
                for start in range(0, len(batch), VISITS_PER_MESSAGE):
                    part = [_visit_entry(v) for v in batch[start:start + VISITS_PER_MESSAGE]]
                    rows.append({"id": new_message_id(), "endpoint_id": ep.id, "event_type": name,
                                 "payload": payload(name, now, {"count": len(part), "visits": part}),
                                 "created_at": now, "next_attempt_at": now, "attempts": 0, "state": PENDING,
                                 "test": False})
        if rows:
            session.execute(insert(WebhookMessage), rows)
    return len(rows)


# --- the doors -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewEndpoint:
    """What a caller asks for, parsed but not judged."""

    url: Any
    events: Any
    description: Any = ""


@dataclass(frozen=True)
class EndpointChanges:
    """A partial edit; UNSET fields are left alone. ``enabled=True`` also clears an automatic disabling."""

    url: Any = UNSET
    events: Any = UNSET
    description: Any = UNSET
    enabled: Any = UNSET


def _check_enabled(rt: Runtime) -> None:
    if not rt.settings.webhooks.enabled:
        raise Forbidden("Webhooks are turned off on this server", code="webhooks_disabled")


def _check_url(rt: Runtime, url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("url must be an http or https URL", field="url")
    target: str = url.strip()
    if len(target) > MAX_URL_LENGTH:
        raise ValidationError(f"url must be at most {MAX_URL_LENGTH} characters", field="url")
    check_text(target, "url")
    try:
        check_url(target, rt.settings.outbound.allowed_networks)
    except ValidationError as exc:
        exc.field = "url"
        raise
    return target


def _check_events(events: Any) -> str:
    if isinstance(events, str):
        events = events.replace(",", " ").split()
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events) or not events:
        raise ValidationError("events must be a non-empty list of event types", field="events")
    known = event_types()
    unknown = sorted({e for e in events if e not in known})
    if unknown:
        raise ValidationError(f"Unknown event types: {', '.join(unknown[:10])} (known: {', '.join(known)})",
                              field="events")
    return " ".join(dict.fromkeys(events))


def _check_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(f"description must be text of at most {MAX_DESCRIPTION_LENGTH} characters",
                              field="description")
    return check_text(description.strip(), "description")


def list_endpoints(owner: User) -> list[WebhookEndpoint]:
    """The owner's endpoints, oldest first."""
    return list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.user_id == owner.id)
                                   .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)))


def get_endpoint(owner: User, ident: Any) -> WebhookEndpoint:
    """One of the owner's endpoints. Raises NotFound (also for someone else's)."""
    row = db.session.get(WebhookEndpoint, ident) if isinstance(ident, str) and len(ident) <= 36 else None
    if row is None or row.user_id != owner.id:
        raise NotFound("Webhook endpoint not found", code="webhook_not_found")
    return row


def create_endpoint(rt: Runtime, owner: User, new: NewEndpoint) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it and its secret (shown once).

    Raises:
        ValidationError: a bad URL (a private or loopback address unless ``outbound.allowed_networks`` allows
        it, a host that does not resolve), unknown events, a bad description. Conflict: the owner has
        ``webhooks.max_endpoints_per_user`` already.
    """
    _check_enabled(rt)
    url, events, description = _check_url(rt, new.url), _check_events(new.events), _check_description(new.description)
    secret = new_secret()
    limit = rt.settings.webhooks.max_endpoints_per_user
    with write_transaction(db.session):
        lock_key(db.session, f"webhooks:{owner.id}")
        held = db.session.scalar(select(func.count()).select_from(WebhookEndpoint)
                                 .where(WebhookEndpoint.user_id == owner.id)) or 0
        if held >= limit:
            raise Conflict(f"You have {held} webhook endpoints; this server allows {limit}",
                           code="too_many_webhooks")
        row = WebhookEndpoint(id=new_id(), user_id=owner.id, url=url, events=events, description=description,
                              secret_sealed=seal(rt.settings.core.secret, SEAL_PURPOSE, secret),
                              secret_hint=secret[:10], enabled=True, failures=0)
        db.session.add(row)
    return row, secret


def _fail_pending(endpoint_id: str, now: dt.datetime) -> None:
    """Give up the messages an endpoint was still to get (it was disabled)."""
    db.session.execute(update(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id,
                                                    WebhookMessage.state == PENDING)
                       .values(state=FAILED, finished_at=now))


def update_endpoint(rt: Runtime, owner: User, ident: Any, changes: EndpointChanges) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description, or enable or disable it (disabling gives up what it was
    still to get; enabling clears the failure count and the reason it was disabled)."""
    url = UNSET if changes.url is UNSET else _check_url(rt, changes.url)
    events = UNSET if changes.events is UNSET else _check_events(changes.events)
    description = UNSET if changes.description is UNSET else _check_description(changes.description)
    if changes.enabled is not UNSET and not isinstance(changes.enabled, bool):
        raise ValidationError("enabled must be true or false", field="enabled")
    now = utcnow()
    with write_transaction(db.session):
        row = get_endpoint(owner, ident)
        if url is not UNSET:
            row.url = url
        if events is not UNSET:
            row.events = events
        if description is not UNSET:
            row.description = description
        if changes.enabled is True and not row.enabled:
            row.enabled, row.disabled_reason, row.disabled_at, row.failures = True, None, None, 0
        elif changes.enabled is False and row.enabled:
            row.enabled, row.disabled_reason, row.disabled_at = False, "Disabled by its owner", now
            _fail_pending(row.id, now)
        row.updated_at = now
    return row


def delete_endpoint(rt: Runtime, owner: User, ident: Any) -> WebhookEndpoint:
    """Remove an endpoint with its messages and delivery log."""
    with write_transaction(db.session):
        row = get_endpoint(owner, ident)
        db.session.delete(row)
    return row


def rotate_secret(rt: Runtime, owner: User, ident: Any) -> tuple[WebhookEndpoint, str]:
    """Give an endpoint a new secret (shown once); the next attempt of every message is signed with it."""
    secret = new_secret()
    with write_transaction(db.session):
        row = get_endpoint(owner, ident)
        row.secret_sealed = seal(rt.settings.core.secret, SEAL_PURPOSE, secret)
        row.secret_hint = secret[:10]
        row.updated_at = utcnow()
    return row, secret


def send_test(rt: Runtime, owner: User, ident: Any) -> WebhookMessage:
    """Queue a ``webhook.test`` message for an enabled endpoint (whatever events it wants); the worker sends it.

    Raises:
        NotFound. Conflict: the endpoint is disabled.
    """
    _check_enabled(rt)
    now = utcnow()
    with write_transaction(db.session):
        row = get_endpoint(owner, ident)
        if not row.enabled:
            raise Conflict("This endpoint is disabled; enable it first", code="webhook_disabled")
        message = WebhookMessage(id=new_message_id(), endpoint_id=row.id, event_type=TEST_EVENT,
                                 payload=payload(TEST_EVENT, now, {"endpoint_id": row.id, "owner_id": owner.id}),
                                 created_at=now, next_attempt_at=now, attempts=0, state=PENDING, test=True)
        db.session.add(message)
    rt.webhooks.wake.set()
    return message


MAX_PAGE_SIZE = 100


def list_deliveries(owner: User, ident: Any, page: int = 1, per_page: int = 50) -> list[WebhookDelivery]:
    """An endpoint's delivery log, newest first, a page at a time."""
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValidationError(f"perpage must be between 1 and {MAX_PAGE_SIZE}", field="perpage")
    if page < 1:
        raise ValidationError("page must be 1 or more", field="page")
    offset = check_offset((page - 1) * per_page, "page")
    row = get_endpoint(owner, ident)
    return list(db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id)
                                   .order_by(WebhookDelivery.at.desc(), WebhookDelivery.id.desc())
                                   .offset(offset).limit(per_page)))


def pending_count(endpoints: Iterable[WebhookEndpoint]) -> dict[str, int]:
    """How many messages each endpoint still has to get (waiting or being sent)."""
    ids = [e.id for e in endpoints]
    if not ids:
        return {}
    rows = db.session.execute(select(WebhookMessage.endpoint_id, func.count())
                              .where(WebhookMessage.endpoint_id.in_(ids), WebhookMessage.state.in_((PENDING, SENDING)))
                              .group_by(WebhookMessage.endpoint_id))
    return {endpoint_id: n for endpoint_id, n in rows}
