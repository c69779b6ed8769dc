"""Per-user webhooks through real servers and a real receiver: deliveries verified with ``standardwebhooks``, a
receiver failing twice, visits batched, a real ``zipshort serve`` killed between the commit and the delivery
(the event is delivered after the restart), and two processes delivering every message exactly once."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from tests.cli.test_cli import start_server, stop
from tests.conftest import fetch, truncate_all
from tests.e2e.uploads import send_file
from zipshort.extensions import db
from zipshort.models import WebhookMessage
from zipshort.services import webhookdelivery, webhooks

FAST = {"poll_seconds": 0.1, "first_retry_seconds": 0.3, "retry_factor": 2, "retry_jitter": 0,
        "visit_batch_seconds": 0.5, "timeout": 5}
ENV = {"ZIPSHORT_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8", "ZIPSHORT_WEBHOOKS_POLL_SECONDS": "0.1",
       "ZIPSHORT_WEBHOOKS_FIRST_RETRY_SECONDS": "0.3", "ZIPSHORT_WEBHOOKS_RETRY_JITTER": "0"}


@pytest.fixture
def overrides():
    return {"outbound": {"allowed_networks": ["127.0.0.0/8"]}, "webhooks": dict(FAST)}


@pytest.fixture
def worker(app, rt, live_server):
    """The delivery thread beside the live server, as `zipshort serve` runs it."""
    running = webhookdelivery.WebhookWorker(rt, app.app_context).start()
    yield running
    running.stop()


def _endpoint(rt, user, url: str, *events: str) -> str:
    _, secret = webhooks.create_endpoint(rt, user, webhooks.NewEndpoint(url=url, events=list(events)))
    db.session.remove()
    return secret


def test_a_link_created_through_the_api_is_delivered_signed(rt, user, make_key, receiver, live_server, worker):
    secret = _endpoint(rt, user, receiver.url + "/hook", "link.created", "link.deleted")
    key = make_key(user)
    made = fetch("POST", live_server.url + "/api/user/urls", headers={"Authorization": key},
                 json={"destination": "https://example.com/", "vanity": "hooked"})
    assert made.status_code == 200
    [got] = receiver.wait(1, "/hook")
    event = Webhook(secret).verify(got.body, got.headers)
    assert event["type"] == "link.created" and event["data"]["code"] == "hooked"
    assert fetch("DELETE", f"{live_server.url}/api/user/urls/{made.json()['id']}",
                 headers={"Authorization": key}).status_code == 200
    deleted = receiver.wait(2, "/hook")[1]
    assert Webhook(secret).verify(deleted.body, deleted.headers)["type"] == "link.deleted"


def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_id(rt, user, make_key, receiver, live_server,
                                                                       worker):
    secret = _endpoint(rt, user, receiver.url + "/hook", "link.created")
    receiver.answers = [500, 502]
    assert fetch("POST", live_server.url + "/api/user/urls", headers={"Authorization": make_key(user)},
                 json={"destination": "https://example.com/"}).status_code == 200
    got = receiver.wait(3, "/hook")
    assert len({r.headers["webhook-id"] for r in got}) == 1
    for r in got:
        assert Webhook(secret).verify(r.body, r.headers)["type"] == "link.created"
    deadline = time.monotonic() + 10  # the third answer is recorded just after the receiver sent it
    while True:
        db.session.rollback()
        attempts = [d.attempt for d in webhooks.list_deliveries(user, webhooks.list_endpoints(user)[0].id)]
        if len(attempts) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sorted(attempts) == [1, 2, 3]


def test_visits_reach_the_receiver_in_batches(rt, user, make_link, receiver, live_server, worker):
    secret = _endpoint(rt, user, receiver.url + "/hook", "link.visited")
    make_link(user, vanity="batched")
    db.session.remove()
    webhooks.refresh_wanted_visits(rt)  # the worker does it every round too; do not wait for it
    for _ in range(30):
        assert fetch("GET", live_server.url + "/go/batched").status_code == 302
    deadline = time.monotonic() + 20
    total = 0
    while total < 30 and time.monotonic() < deadline:
        got = receiver.at("/hook")
        total = sum(Webhook(secret).verify(r.body, r.headers)["data"]["count"] for r in got)
        time.sleep(0.1)
    assert total == 30
    assert len(got) < 30 / 5  # never one request per visit: a handful of batches at most


# --- real `zipshort serve` processes -------------------------------------------------------------------------------

def _serve(instance, database_url: str, **env: str):
    extra = {**ENV, **env}
    if database_url:
        extra["ZIPSHORT_DATABASE_URL"] = database_url
    return start_server(instance, extra)


def test_killed_between_the_commit_and_the_delivery_it_still_delivers_after_a_restart(tmp_path, database_url, rt,
                                                                                      user, make_key, receiver):
    secret = _endpoint(rt, user, receiver.url + "/hook", "file.uploaded")
    key = make_key(user)
    proc, url = _serve(tmp_path, database_url, ZIPSHORT_FAULTS_CRASH_AT="files.after_commit")
    with pytest.raises(requests.ConnectionError):
        send_file(url, key, b"kept after the crash", name="crash.txt")
    assert proc.wait(timeout=10) == -signal.SIGKILL
    proc.stdout.close()
    db.session.rollback()
    [message] = db.session.scalars(sa.select(WebhookMessage)).all()  # committed with the file, never sent
    assert (message.state, message.attempts) == ("pending", 0) and receiver.received == []
    db.session.remove()
    proc, url = _serve(tmp_path, database_url)
    try:
        [got] = receiver.wait(1, "/hook")
        event = Webhook(secret).verify(got.body, got.headers)
        assert event["type"] == "file.uploaded" and event["data"]["filename"]
        assert got.headers["webhook-id"] == message.id
    finally:
        stop(proc)


def test_a_message_claimed_by_a_killed_process_is_sent_again_after_its_lease(tmp_path, database_url, rt, user,
                                                                            make_link, receiver):
    """At least once: a process that claimed a message and died before recording the answer leaves it to its
    lease; the restarted server sends it again with the same webhook-id."""
    secret = _endpoint(rt, user, receiver.url + "/hook", "link.created")
    make_link(user, vanity="leased")
    rt.webhooks.holder = "a-process-that-died"
    [claimed] = webhookdelivery.claim(rt)  # claimed, never settled
    db.session.execute(sa.update(WebhookMessage).values(next_attempt_at=sa.func.current_timestamp()))
    db.session.commit()  # (its lease ran out)
    db.session.remove()
    proc, _ = _serve(tmp_path, database_url)
    try:
        [got] = receiver.wait(1, "/hook")
        assert got.headers["webhook-id"] == claimed.id
        Webhook(secret).verify(got.body, got.headers)
    finally:
        stop(proc)
    db.session.rollback()
    assert db.session.scalar(sa.select(WebhookMessage.attempts)) == 2


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_two_processes_deliver_every_message_once(postgres_url, tmp_path, rt, user, make_key, receiver, database):
    if database == "postgresql":
        truncate_all(postgres_url)
        database_url = postgres_url
    else:
        database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    servers = [_serve(tmp_path / name, database_url, ZIPSHORT_ADMIN_USERNAME="admin",
                      ZIPSHORT_ADMIN_PASSWORD="cluster-pass") for name in ("a", "b")]
    try:
        login = fetch("POST", servers[0][1] + "/api/auth/login", json={"username": "admin",
                                                                         "password": "cluster-pass"})
        cookies = login.cookies.get_dict()
        made = fetch("POST", servers[0][1] + "/api/user/webhooks", cookies=cookies,
                     json={"url": receiver.url + "/hook", "events": ["link.created"]})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        token = fetch("GET", servers[0][1] + "/api/user/token", cookies=cookies).json()["token"]
        receiver.answers = [503] * 10  # some go round again, through either process
        for i in range(40):
            assert fetch("POST", servers[i % 2][1] + "/api/user/urls", headers={"Authorization": token},
                         json={"destination": f"https://example.com/{i}"}).status_code == 200
        got = receiver.wait(50, "/hook", timeout=60)
        ok = [r for r in got if Webhook(secret).verify(r.body, r.headers)]
        assert len({r.headers["webhook-id"] for r in ok}) == 40
    finally:
        outputs = [stop(proc) for proc, _ in servers]
    assert "Traceback" not in "".join(outputs), outputs
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            states = Counter(conn.execute(sa.text("SELECT state FROM webhook_messages")).scalars())
            delivered = conn.scalar(sa.text("SELECT count(*) FROM webhook_deliveries WHERE outcome = 'delivered'"))
    finally:
        engine.dispose()
    assert states == {"delivered": 40} and delivered == 40  # each delivered once: no message sent twice
    assert len(receiver.at("/hook")) == 50  # 40 deliveries and the 10 refused attempts, nothing more
