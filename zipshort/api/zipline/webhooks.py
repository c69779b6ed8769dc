"""Per-user webhook endpoints (zipshort's addition in the Zipline dialect's style): list, add (the secret shown
once), change, remove, rotate the secret, send a test event, read the delivery log; the event types on offer."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import iso
from zipshort.auth import require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.inputs import whole_number
from zipshort.models import WebhookDelivery, WebhookEndpoint
from zipshort.services import webhooks

FIELDS = ("url", "events", "description", "enabled")


class WebhookEndpointJson(Open):
    """``endpoint_json``: ``secret`` only in the answer that made it."""

    id: str
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabledReason: str | None
    disabledAt: str | None
    failures: int
    secretHint: str
    createdAt: str | None
    updatedAt: str | None
    secret: str | None = None


class WebhookDeliveryJson(Open):
    """``delivery_json``."""

    id: str
    messageId: str
    event: str
    attempt: int
    outcome: str
    statusCode: int | None
    durationMs: int | None
    error: str | None
    at: str | None


class WebhookInput(Open):
    """The fields of a new endpoint (``url`` and ``events`` required) or of a change (any of them)."""

    url: WebUrl | None = None
    events: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


class WebhookEvents(Open):
    events: list[str]


class WebhookTest(Open):
    messageId: str
    event: str
    queued: bool


class PageQuery(Open):
    page: int | None = None
    perpage: int | None = None


def endpoint_json(row: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    """An endpoint; ``secret`` only in the answer that made it (creation, rotation)."""
    out = {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": row.event_list,
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
        "disabledAt": iso(row.disabled_at),
        "failures": row.failures,
        "secretHint": row.secret_hint + "…",
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {"id": row.id, "messageId": row.message_id, "event": row.event_type, "attempt": row.attempt,
            "outcome": row.outcome, "statusCode": row.status_code, "durationMs": row.duration_ms,
            "error": row.error, "at": iso(row.at)}


def _body() -> dict:
    body = json_body()
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(unknown[:5])} (known: {', '.join(FIELDS)})",
                              field=unknown[0])
    return body


@bp.get("/user/webhooks/events")
@documented("The event types an endpoint may subscribe to", responses={200: WebhookEvents})
@require_user("webhooks:read")
def webhook_event_types():
    return jsonify({"events": list(webhooks.event_types())})


@bp.get("/user/webhooks")
@documented("List your webhook endpoints", responses={200: list[WebhookEndpointJson]})
@require_user("webhooks:read")
def list_webhooks():
    return jsonify([endpoint_json(row) for row in webhooks.list_endpoints(g.user)])


@bp.post("/user/webhooks")
@documented("Add a webhook endpoint (its secret is in this answer only)", body=WebhookInput,
            responses={201: WebhookEndpointJson})
@require_user("webhooks:write")
def create_webhook():
    body = _body()
    row, secret = webhooks.create_endpoint(runtime(), g.user, webhooks.NewEndpoint(
        url=body.get("url"), events=body.get("events"), description=body.get("description", "")))
    return jsonify(endpoint_json(row, secret)), 201


@bp.get("/user/webhooks/<ident>")
@documented("One of your webhook endpoints", responses={200: WebhookEndpointJson})
@require_user("webhooks:read")
def get_webhook(ident: str):
    return jsonify(endpoint_json(webhooks.get_endpoint(g.user, ident)))


@bp.patch("/user/webhooks/<ident>")
@documented("Change a webhook endpoint", body=WebhookInput, responses={200: WebhookEndpointJson})
@require_user("webhooks:write")
def update_webhook(ident: str):
    body = _body()
    changes = webhooks.EndpointChanges(**{k: body[k] for k in FIELDS if k in body})
    return jsonify(endpoint_json(webhooks.update_endpoint(runtime(), g.user, ident, changes)))


@bp.delete("/user/webhooks/<ident>")
@documented("Remove a webhook endpoint", responses={200: WebhookEndpointJson})
@require_user("webhooks:write")
def delete_webhook(ident: str):
    return jsonify(endpoint_json(webhooks.delete_endpoint(runtime(), g.user, ident)))


@bp.post("/user/webhooks/<ident>/secret")
@documented("Rotate an endpoint's signing secret (the new one is in this answer only)",
            responses={200: WebhookEndpointJson})
@require_user("webhooks:write")
def rotate_webhook_secret(ident: str):
    row, secret = webhooks.rotate_secret(runtime(), g.user, ident)
    return jsonify(endpoint_json(row, secret))


@bp.post("/user/webhooks/<ident>/test")
@documented("Queue a test event for an endpoint", responses={202: WebhookTest})
@require_user("webhooks:write")
def test_webhook(ident: str):
    message = webhooks.send_test(runtime(), g.user, ident)
    return jsonify({"messageId": message.id, "event": message.event_type, "queued": True}), 202


def _page_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = whole_number(raw)
    if value is None:
        raise ValidationError(f"{name} must be a whole number", field=name)
    return value


@bp.get("/user/webhooks/<ident>/deliveries")
@documented("An endpoint's delivery log, newest first", query=PageQuery, responses={200: list[WebhookDeliveryJson]})
@require_user("webhooks:read")
def webhook_deliveries(ident: str):
    rows = webhooks.list_deliveries(g.user, ident, page=_page_arg("page", 1), per_page=_page_arg("perpage", 50))
    return jsonify([delivery_json(row) for row in rows])
