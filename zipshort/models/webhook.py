"""Per-user webhooks: endpoints, the outbox of messages to deliver, and the log of delivery attempts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from zipshort.extensions import Model
from zipshort.models.base import IdMixin, utcnow

# States of an outbox message: waiting for its next attempt; claimed by a process until ``next_attempt_at`` (a
# lease: a process that died with it leaves it to be claimed again); delivered (a 2xx); given up (too old, or its
# endpoint was disabled or deleted).
PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


class WebhookEndpoint(IdMixin, Model):
    """A URL a user wants events sent to: which event types, the signing secret (sealed with a key derived from
    ``core.secret``: the server must sign with it, so it cannot be stored hashed), enabled or not and why."""

    __tablename__ = "webhook_endpoints"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[str] = mapped_column(Text)  # event type names, space separated
    secret_sealed: Mapped[str] = mapped_column(Text)
    secret_hint: Mapped[str] = mapped_column(String(16))  # the secret's first characters, for listings
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    disabled_at: Mapped[dt.datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(default=0)  # failed attempts since the last success
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def event_list(self) -> list[str]:
        """The subscribed event types, in stored order."""
        return self.events.split()


class WebhookMessage(Model):
    """One event (or one batch of visits) for one endpoint: the exact body signed and sent at every attempt."""

    __tablename__ = "webhook_messages"
    __table_args__ = (Index("ix_webhook_messages_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_<uuid7 hex>: the webhook-id header
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    test: Mapped[bool] = mapped_column(default=False, server_default=false())  # a "send test event" message


class WebhookDelivery(IdMixin, Model):
    """One attempt to deliver a message: the answer's status (None: no answer), how long it took, the error."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_id_at", "endpoint_id", "at"),)

    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16))  # delivered, retrying, gave_up
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
