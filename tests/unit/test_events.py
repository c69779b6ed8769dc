"""The event dispatcher: delivery by type, isolation of failing subscribers, a bounded queue, request ids."""

from __future__ import annotations

import threading

from zipshort import events
from zipshort.events import Dispatcher, Event, FileDeleted, LinkCreated, LinkVisited


def link_created(code: str = "abc") -> LinkCreated:
    return LinkCreated(link_id="l1", code=code, owner_id="u2", destination="https://example.com/?token=t")


def test_subscribers_get_the_types_they_asked_for_and_subclasses_of_them():
    d = Dispatcher()
    seen_all, seen_links = [], []
    d.subscribe(seen_all.append)
    d.subscribe(seen_links.append, LinkCreated)
    d.publish(link_created())
    d.publish(FileDeleted(file_id="f3", filename="a.png", owner_id="u2"))
    assert d.drain(5)
    assert [e.name for e in seen_all] == ["link.created", "file.deleted"]
    assert [e.name for e in seen_links] == ["link.created"]
    assert d.stats()["delivered"] == 3


def test_nothing_is_queued_for_a_type_nobody_listens_to():
    d = Dispatcher()
    d.subscribe(lambda e: None, FileDeleted)
    assert not d.wants(LinkVisited) and d.wants(FileDeleted)
    d.publish(LinkVisited(link_id="l1", code="x"))
    assert d.stats()["published"] == 0


def test_a_failing_subscriber_is_counted_and_the_others_still_receive_the_event(caplog):
    d = Dispatcher()
    received = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    d.subscribe(broken)
    d.subscribe(received.append)
    d.publish(link_created())  # never raises in the publisher
    assert d.drain(5)
    assert len(received) == 1
    assert d.stats()["failed"] == 1
    assert "subscriber bug" in caplog.text


def test_a_full_queue_drops_and_counts_instead_of_blocking_the_publisher():
    d = Dispatcher(capacity=2)
    release = threading.Event()
    d.subscribe(lambda e: release.wait(5))
    for _ in range(10):
        d.publish(link_created())  # the first is being delivered, two wait, the rest are dropped
    stats = d.stats()
    release.set()
    assert d.drain(5)
    assert stats["dropped"] >= 7 and stats["published"] + stats["dropped"] == 10


def test_the_worker_thread_leaves_when_idle_and_comes_back():
    d = Dispatcher(idle_seconds=0.05)
    got = []
    d.subscribe(got.append)
    d.publish(link_created("one"))
    assert d.drain(5)
    thread = d._thread
    if thread is not None:
        thread.join(5)
    assert d._thread is None
    d.publish(link_created("two"))
    assert d.drain(5)
    assert [e.code for e in got] == ["one", "two"]


def test_close_delivers_what_is_queued_then_refuses():
    d = Dispatcher()
    got = []
    d.subscribe(got.append)
    d.publish(link_created())
    assert d.close(5)
    d.publish(link_created())
    assert len(got) == 1


def test_request_ids_are_scoped_and_made_on_demand():
    import contextvars

    assert events.request_id() is None

    def made_on_demand() -> None:
        events.begin_request()
        assert events.current_request_id() is None
        made = events.request_id()
        assert made and made == events.request_id() == events.current_request_id()
        assert link_created().request_id == made

    def given_by_a_proxy() -> None:
        events.begin_request("from-proxy-1")
        assert link_created().request_id == "from-proxy-1"

    contextvars.copy_context().run(made_on_demand)  # each request runs in a context of its own
    contextvars.copy_context().run(given_by_a_proxy)
    assert events.request_id() is None


def test_details_leave_quiet_fields_and_common_fields_out():
    event = link_created()
    assert event.details() == {"link_id": "l1", "code": "abc", "owner_id": "u2", "domain": None,
                               "has_password": False, "max_views": None, "expires_at": None}
    assert event.details(include_quiet=True)["destination"].startswith("https://example.com/")


def test_every_event_has_a_unique_dotted_name():
    names = [cls.name for cls in events.catalogue()]
    assert len(names) == len(set(names)) >= 19
    assert all("." in n for n in names)
