"""Per-user webhook endpoints (zipshort's addition in the Zipline dialect's style): list, add (the secret shown
once), change, remove, rotate the secret, send a test event, read the delivery log; the event types on offer."""

from __future__ import annotations

from flask import g, jsonify, request

from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import iso
from zipshort.auth import require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.inputs import whole_number
from zipshort.models import WebhookDelivery, WebhookEndpoint
from zipshort.services import webhooks

FIELDS = ("url", "events", "description", "enabled")


def endpoint_json(row: WebhookEndpoint, secret: str | None = None) -> dict:
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


def delivery_json(row: WebhookDelivery) -> dict:
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
@require_user("webhooks:read")
def webhook_event_types():
    return jsonify({"events": list(webhooks.event_types())})


@bp.get("/user/webhooks")
@require_user("webhooks:read")
def list_webhooks():
    return jsonify([endpoint_json(row) for row in webhooks.list_endpoints(g.user)])


@bp.post("/user/webhooks")
@require_user("webhooks:write")
def create_webhook():
    body = _body()
    row, secret = webhooks.create_endpoint(runtime(), g.user, webhooks.NewEndpoint(
        url=body.get("url"), events=body.get("events"), description=body.get("description", "")))
    return jsonify(endpoint_json(row, secret)), 201


@bp.get("/user/webhooks/<ident>")
@require_user("webhooks:read")
def get_webhook(ident: str):
    return jsonify(endpoint_json(webhooks.get_endpoint(g.user, ident)))


@bp.patch("/user/webhooks/<ident>")
@require_user("webhooks:write")
def update_webhook(ident: str):
    body = _body()
    changes = webhooks.EndpointChanges(**{k: body[k] for k in FIELDS if k in body})
    return jsonify(endpoint_json(webhooks.update_endpoint(runtime(), g.user, ident, changes)))


@bp.delete("/user/webhooks/<ident>")
@require_user("webhooks:write")
def delete_webhook(ident: str):
    return jsonify(endpoint_json(webhooks.delete_endpoint(runtime(), g.user, ident)))


@bp.post("/user/webhooks/<ident>/secret")
@require_user("webhooks:write")
def rotate_webhook_secret(ident: str):
    row, secret = webhooks.rotate_secret(runtime(), g.user, ident)
    return jsonify(endpoint_json(row, secret))


@bp.post("/user/webhooks/<ident>/test")
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
@require_user("webhooks:read")
def webhook_deliveries(ident: str):
    rows = webhooks.list_deliveries(g.user, ident, page=_page_arg("page", 1), per_page=_page_arg("perpage", 50))
    return jsonify([delivery_json(row) for row in rows])
