"""Per-user webhooks in the services: the outbox written in the change's transaction, the doors' rules, visits
batched, claims, signed attempts against a real receiver, retries, giving up and disabling."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import count, fresh
from zipshort.config.sections import OutboundSettings
from zipshort.errors import Conflict, NotFound, ValidationError
from zipshort.events import FileViewed, LinkVisited, Visitor
from zipshort.extensions import db
from zipshort.models import WebhookDelivery, WebhookEndpoint, WebhookMessage, utcnow
from zipshort.outbound import DestinationRefused
from zipshort.services import links, webhookdelivery, webhooks

FAST = {"first_retry_seconds": 1, "retry_factor": 2, "max_retry_seconds": 60, "retry_jitter": 0,
        "give_up_seconds": 3600, "disable_after_failures": 3, "timeout": 3, "max_endpoints_per_user": 3}


@pytest.fixture
def overrides():
    return {"outbound": {"allowed_networks": ["127.0.0.0/8"]}, "webhooks": dict(FAST)}


def _endpoint(rt, user, url: str, events=("link.created",)):
    return webhooks.create_endpoint(rt, user, webhooks.NewEndpoint(url=url, events=list(events)))


def _messages() -> list[WebhookMessage]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(WebhookMessage).order_by(WebhookMessage.created_at,
                                                                      WebhookMessage.id)))


def _later(seconds: float) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


# --- the outbox -------------------------------------------------------------------------------------------------

def test_a_change_writes_its_message_in_its_own_transaction(rt, user, make_user, make_link, receiver):
    endpoint, secret = _endpoint(rt, user, receiver.url + "/hook", ("link.created", "link.deleted"))
    assert secret.startswith("whsec_") and endpoint.secret_hint == secret[:10]
    assert secret not in endpoint.secret_sealed
    other = make_user("bob")
    make_link(other, vanity="bobs")  # someone else's link: nothing for alice's endpoint
    link = make_link(user, vanity="first")
    links.update_link(rt, user, link.id, links.LinkChanges(destination="https://example.org/"))  # not subscribed
    with pytest.raises(Conflict):
        make_link(user, vanity="first")  # refused and rolled back: no event, no message
    messages = _messages()
    assert [(m.event_type, m.endpoint_id, m.state, m.attempts) for m in messages] == [
        ("link.created", endpoint.id, "pending", 0)]
    body = json.loads(messages[0].payload)
    assert body["type"] == "link.created" and body["data"]["code"] == "first"
    assert body["data"]["destination"] == "https://example.com/" and body["data"]["link_id"] == link.id
    assert messages[0].id.startswith("msg_")


def test_a_disabled_endpoint_gets_no_messages(rt, user, make_link, receiver):
    endpoint, _ = _endpoint(rt, user, receiver.url + "/hook")
    webhooks.update_endpoint(rt, user, endpoint.id, webhooks.EndpointChanges(enabled=False))
    make_link(user)
    assert _messages() == []
    row = webhooks.get_endpoint(user, endpoint.id)
    assert not row.enabled and row.disabled_reason == "Disabled by its owner"


def test_the_doors_refuse_bad_input_and_other_peoples_endpoints(rt, user, make_user, receiver):
    for url in ("", "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/", "http://127.0.0.1/" + "a" * 2100, 42,
                "http://no-such-host.invalid/"):
        with pytest.raises(ValidationError) as refused:
            _endpoint(rt, user, url)  # type: ignore[arg-type]
        assert refused.value.field == "url"
    for events in ([], ["link.exploded"], "nothing", [1], None):
        with pytest.raises(ValidationError):
            webhooks.create_endpoint(rt, user, webhooks.NewEndpoint(url=receiver.url, events=events))
    with pytest.raises(ValidationError):
        webhooks.create_endpoint(rt, user, webhooks.NewEndpoint(url=receiver.url, events=["link.created"],
                                                                description="x" * 201))
    endpoint, _ = _endpoint(rt, user, receiver.url)
    bob = make_user("bob")
    for door in (lambda: webhooks.get_endpoint(bob, endpoint.id), lambda: webhooks.send_test(rt, bob, endpoint.id),
                 lambda: webhooks.delete_endpoint(rt, bob, endpoint.id), lambda: webhooks.get_endpoint(bob, "x" * 500)):
        with pytest.raises(NotFound):
            door()
    _endpoint(rt, user, receiver.url)
    _endpoint(rt, user, receiver.url)
    with pytest.raises(Conflict):  # max_endpoints_per_user = 3
        _endpoint(rt, user, receiver.url)


def test_private_and_loopback_targets_are_refused_unless_allowed(rt, user):
    strict = dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, outbound=OutboundSettings()))
    for url in ("http://127.0.0.1:9/hook", "http://10.0.0.8/", "http://169.254.169.254/latest", "http://[::1]/",
                "http://localhost/"):
        with pytest.raises(DestinationRefused):
            _endpoint(strict, user, url)
    assert count(WebhookEndpoint) == 0


# --- delivery ---------------------------------------------------------------------------------------------------

def _deliver(rt, now=None):
    """One round by hand: claim, send, settle; the outcomes."""
    claimed = webhookdelivery.claim(rt, now=now)
    return [webhookdelivery.settle(rt, m, webhookdelivery.attempt(rt, m), now=now) for m in claimed]


def test_a_delivery_is_signed_the_standard_webhooks_way(rt, user, make_link, receiver):
    endpoint, secret = _endpoint(rt, user, receiver.url + "/hook")
    make_link(user, vanity="signed")
    assert _deliver(rt) == ["delivered"]
    [got] = receiver.at("/hook")
    body = Webhook(secret).verify(got.body, got.headers)
    assert body["type"] == "link.created" and body["data"]["code"] == "signed"
    assert got.headers["webhook-id"] == _messages()[0].id
    assert got.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):  # another secret does not verify
        Webhook(webhooks.new_secret()).verify(got.body, got.headers)
    [message] = _messages()
    assert (message.state, message.attempts) == ("delivered", 1)
    [log] = webhooks.list_deliveries(user, endpoint.id)
    assert (log.outcome, log.status_code, log.attempt, log.error) == ("delivered", 200, 1, None)


def test_a_failing_receiver_gets_the_same_message_again_until_it_answers(rt, user, make_link, receiver):
    endpoint, secret = _endpoint(rt, user, receiver.url + "/hook")
    receiver.answers = [500, 503]
    make_link(user)
    assert _deliver(rt) == ["retrying"]
    assert _deliver(rt) == []  # not due yet: the first retry comes after first_retry_seconds
    [message] = _messages()
    assert message.state == "pending" and message.next_attempt_at > utcnow()
    assert _deliver(rt, now=_later(1.5)) == ["retrying"]
    assert _deliver(rt, now=_later(1.5)) == []  # the second retry waits twice as long
    assert _deliver(rt, now=_later(4)) == ["delivered"]
    got = receiver.at("/hook")
    assert len(got) == 3 and len({r.headers["webhook-id"] for r in got}) == 1
    for r in got:
        Webhook(secret).verify(r.body, r.headers)
    log = webhooks.list_deliveries(user, endpoint.id)
    assert [(d.attempt, d.outcome, d.status_code) for d in log] == [(3, "delivered", 200), (2, "retrying", 503),
                                                                     (1, "retrying", 500)]
    assert fresh(WebhookEndpoint, endpoint.id).failures == 0


def test_an_endpoint_failing_again_and_again_is_disabled_and_says_why(rt, user, make_link, receiver):
    endpoint, _ = _endpoint(rt, user, receiver.url + "/hook")
    receiver.default = 500
    make_link(user)
    make_link(user)
    outcomes = _deliver(rt) + _deliver(rt, now=_later(2))  # 4 failed attempts; the third disables
    assert outcomes.count("retrying") == 4
    row = fresh(WebhookEndpoint, endpoint.id)
    assert not row.enabled and "3 failed attempts in a row" in row.disabled_reason and "HTTP 500" in row.disabled_reason
    assert {m.state for m in _messages()} == {"failed"}
    assert _deliver(rt, now=_later(3600)) == []
    with pytest.raises(Conflict):
        webhooks.send_test(rt, user, endpoint.id)
    webhooks.update_endpoint(rt, user, endpoint.id, webhooks.EndpointChanges(enabled=True))
    row = fresh(WebhookEndpoint, endpoint.id)
    assert row.enabled and row.failures == 0 and row.disabled_reason is None


def test_a_message_is_given_up_after_the_give_up_time(rt, user, make_link, receiver):
    _endpoint(rt, user, receiver.url + "/hook")
    receiver.default = 500
    make_link(user)
    assert _deliver(rt, now=_later(3599)) == ["gave_up"]  # the next try would come after give_up_seconds
    assert [m.state for m in _messages()] == ["failed"]


def test_a_redirect_is_not_followed(rt, user, make_link, receiver):
    endpoint, _ = _endpoint(rt, user, receiver.url + "/hook")
    receiver.answers = [(302, {"Location": receiver.url + "/elsewhere"})]
    make_link(user)
    assert _deliver(rt) == ["retrying"]
    assert receiver.at("/elsewhere") == []
    [log] = webhooks.list_deliveries(user, endpoint.id)
    assert log.status_code is None and "redirect" in log.error


def test_delivery_refuses_an_address_no_longer_allowed(rt, user, make_link, receiver):
    endpoint, _ = _endpoint(rt, user, receiver.url + "/hook")
    make_link(user)
    strict = dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, outbound=OutboundSettings()))
    assert _deliver(strict) == ["retrying"]
    assert receiver.received == []
    assert "127.0.0.1" in webhooks.list_deliveries(user, endpoint.id)[0].error


def test_a_claimed_message_is_not_claimed_again_until_its_lease_ends(rt, user, make_link, receiver):
    _endpoint(rt, user, receiver.url + "/hook")
    make_link(user)
    first = webhookdelivery.claim(rt)
    assert len(first) == 1
    rt.webhooks.holder = "another-process"
    assert webhookdelivery.claim(rt) == []
    assert webhookdelivery.claim(rt, now=_later(rt.settings.webhooks.timeout + 10)) == []
    again = webhookdelivery.claim(rt, now=_later(rt.settings.webhooks.timeout + 31))  # the first holder died
    assert [(m.id, m.attempt) for m in again] == [(first[0].id, 2)]
    rt.webhooks.holder = "the-first"
    # The first holder's late answer does not overwrite what the second decides.
    assert webhookdelivery.settle(rt, first[0], webhookdelivery.Attempted(200, 5)) == "delivered"
    assert [m.state for m in _messages()] == ["sending"]


def test_an_unreadable_secret_fails_the_attempt_with_the_reason(rt, user, make_link, receiver):
    endpoint, _ = _endpoint(rt, user, receiver.url + "/hook")
    make_link(user)
    core = dataclasses.replace(rt.settings.core, secret="another-secret-" + "y" * 40)
    other = dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, core=core))
    assert _deliver(other) == ["retrying"]
    assert receiver.received == []
    assert "rotate the secret" in webhooks.list_deliveries(user, endpoint.id)[0].error
    _, secret = webhooks.rotate_secret(other, user, endpoint.id)
    assert _deliver(other, now=_later(2)) == ["delivered"]
    Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)


def test_a_test_event_goes_to_the_endpoint_whatever_it_wants(rt, user, receiver):
    endpoint, secret = _endpoint(rt, user, receiver.url + "/hook", ("file.deleted",))
    message = webhooks.send_test(rt, user, endpoint.id)
    assert _deliver(rt) == ["delivered"]
    body = Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert body["type"] == "webhook.test" and receiver.received[0].headers["webhook-id"] == message.id


def test_deleting_an_endpoint_removes_its_messages_and_log(rt, user, make_link, receiver):
    endpoint, _ = _endpoint(rt, user, receiver.url + "/hook")
    make_link(user)
    _deliver(rt)
    webhooks.delete_endpoint(rt, user, endpoint.id)
    assert count(WebhookMessage) == count(WebhookDelivery) == 0


def test_old_finished_messages_and_log_rows_are_pruned(rt, user, make_link, receiver):
    _endpoint(rt, user, receiver.url + "/hook")
    make_link(user)
    _deliver(rt)
    assert webhookdelivery.prune(rt) == 0
    assert webhookdelivery.prune(rt, now=_later(8 * 86400)) == 2
    assert count(WebhookMessage) == count(WebhookDelivery) == 0


def test_retry_delays_grow_are_capped_and_jittered(rt):
    assert [webhookdelivery.retry_delay(rt, n) for n in (1, 2, 3, 10)] == [1, 2, 4, 60]
    jittery = dataclasses.replace(rt, settings=dataclasses.replace(
        rt.settings, webhooks=dataclasses.replace(rt.settings.webhooks, retry_jitter=0.5)))
    delays = {webhookdelivery.retry_delay(jittery, 3) for _ in range(50)}
    assert len(delays) > 1 and all(2 <= d <= 6 for d in delays)


# --- visits -----------------------------------------------------------------------------------------------------

def test_visits_are_batched_into_one_message_per_endpoint(rt, user, make_user, make_link, receiver, client):
    endpoint, secret = _endpoint(rt, user, receiver.url + "/hook", ("link.visited",))
    bob = make_user("bob")
    bobs_endpoint, _ = _endpoint(rt, bob, receiver.url + "/bob", ("link.visited",))
    make_link(user, vanity="often")
    make_link(bob, vanity="bobs")
    db.session.remove()
    assert webhooks.refresh_wanted_visits(rt) == {"link.visited"}
    for _ in range(40):
        assert client.get("/go/often", headers={"User-Agent": "tester", "Referer": "https://ref.example/"}
                          ).status_code == 302
    for _ in range(3):
        client.get("/go/bobs")
    assert webhooks.flush_visits(rt) == 2
    assert webhooks.flush_visits(rt) == 0
    by_endpoint = {m.endpoint_id: json.loads(m.payload) for m in _messages()}
    mine, bobs = by_endpoint[endpoint.id], by_endpoint[bobs_endpoint.id]
    assert mine["type"] == "link.visited" and mine["data"]["count"] == 40 and len(mine["data"]["visits"]) == 40
    visit = mine["data"]["visits"][0]
    assert visit["code"] == "often" and visit["referrer"] == "https://ref.example/" and "address" not in visit
    assert bobs["data"]["count"] == 3
    assert _deliver(rt) == ["delivered", "delivered"]
    assert len(receiver.at("/hook")) == 1  # 40 visits, one request
    Webhook(secret).verify(receiver.at("/hook")[0].body, receiver.at("/hook")[0].headers)


@pytest.mark.parametrize("overrides", [{"analytics": {"enabled": False}, "outbound": {"allowed_networks":
                                                                                      ["127.0.0.0/8"]}}])
def test_visits_are_collected_only_while_an_endpoint_wants_them(rt, user, make_link, receiver):
    """Without an endpoint that wants visits (and without analytics) the redirect builds no visit event."""
    make_link(user, vanity="quiet")
    assert webhooks.refresh_wanted_visits(rt) == frozenset()
    assert not rt.events.wants(LinkVisited)
    rt.events.publish(LinkVisited(link_id="x", code="quiet", visitor=Visitor()))
    assert len(rt.webhooks.visits) == 0
    endpoint, _ = _endpoint(rt, user, receiver.url, ("file.viewed",))
    assert webhooks.refresh_wanted_visits(rt) == {"file.viewed"}
    assert not rt.events.wants(LinkVisited) and rt.events.wants(FileViewed)
    webhooks.update_endpoint(rt, user, endpoint.id, webhooks.EndpointChanges(events=["link.visited"]))
    assert webhooks.refresh_wanted_visits(rt) == {"link.visited"}
    rt.events.publish(LinkVisited(link_id="x", code="quiet", visitor=Visitor()))
    assert len(rt.webhooks.visits) == 1
    webhooks.update_endpoint(rt, user, endpoint.id, webhooks.EndpointChanges(enabled=False))
    assert webhooks.refresh_wanted_visits(rt) == frozenset()
    assert not rt.events.wants(LinkVisited) and not rt.events.wants(FileViewed)
