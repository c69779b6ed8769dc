"""Settings → Webhooks: a user's webhook endpoints (add, with the secret shown once; enable or disable; send a
test event; rotate the secret; remove) and each one's latest deliveries. Rendered by templates/_webhooks.html."""

from __future__ import annotations

from flask import g, request

from zipshort.http import runtime
from zipshort.models import User
from zipshort.services import webhooks
from zipshort.web import bp
from zipshort.web.common import action, done, page, text
from zipshort.web.settings import render_settings

BACK = "/dashboard/settings#webhooks-h"
LOG_SIZE = 10


def webhook_section(user: User) -> dict[str, object]:
    """What the Webhooks section shows: the endpoints, the event types, what each still has to get, its log."""
    endpoints = webhooks.list_endpoints(user)
    return {"webhooks_on": runtime().settings.webhooks.enabled, "webhook_endpoints": endpoints,
            "webhook_events": webhooks.event_types(), "webhook_pending": webhooks.pending_count(endpoints),
            "webhook_log": {e.id: webhooks.list_deliveries(user, e.id, per_page=LOG_SIZE) for e in endpoints}}


@bp.post("/dashboard/settings/webhooks")
@page()
@action("/dashboard/settings")
def webhook_create():
    row, secret = webhooks.create_endpoint(runtime(), g.user, webhooks.NewEndpoint(
        url=text("url"), events=request.form.getlist("events"), description=text("description")))
    # Shown once, in this answer only: never stored in the clear, never put in a redirect or the session.
    return render_settings(201, new_webhook={"url": row.url, "secret": secret})


@bp.post("/dashboard/settings/webhooks/<ident>/secret")
@page()
@action("/dashboard/settings")
def webhook_rotate(ident: str):
    row, secret = webhooks.rotate_secret(runtime(), g.user, ident)
    return render_settings(200, new_webhook={"url": row.url, "secret": secret})


@bp.post("/dashboard/settings/webhooks/<ident>/enable")
@page()
@action("/dashboard/settings")
def webhook_enable(ident: str):
    row = webhooks.update_endpoint(runtime(), g.user, ident, webhooks.EndpointChanges(enabled=True))
    return done(f"{row.url} is enabled again", BACK)


@bp.post("/dashboard/settings/webhooks/<ident>/disable")
@page()
@action("/dashboard/settings")
def webhook_disable(ident: str):
    row = webhooks.update_endpoint(runtime(), g.user, ident, webhooks.EndpointChanges(enabled=False))
    return done(f"{row.url} is disabled", BACK)


@bp.post("/dashboard/settings/webhooks/<ident>/test")
@page()
@action("/dashboard/settings")
def webhook_test(ident: str):
    webhooks.send_test(runtime(), g.user, ident)
    return done("A test event is on its way; its delivery shows below in a moment", BACK)


@bp.post("/dashboard/settings/webhooks/<ident>/delete")
@page()
@action("/dashboard/settings")
def webhook_delete(ident: str):
    row = webhooks.delete_endpoint(runtime(), g.user, ident)
    return done(f"Removed the webhook to {row.url}", BACK)
