"""Batched view counts for unlimited links, and the plain-link cache in front of the redirect."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.conftest import only_link
from zipshort.errors import Gone, NotFound
from zipshort.extensions import db
from zipshort.models import Link
from zipshort.services import accounts, links, redirects
from zipshort.services.visits import ViewFlusher, flush_views


class TestBuffered:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"view_flush_seconds": 1.0}}

    def test_unlimited_views_wait_in_memory_until_flushed(self, rt, user, make_link):
        link = make_link(user, vanity="buffered")
        for _ in range(5):
            redirects.follow(rt, "buffered", "h")
        # the first visit read the link (a cache miss writes nothing); all five wait in memory
        assert only_link().views == 0 and rt.views.pending(link.id) == 5
        assert flush_views(db.engine, rt.views) == 5
        assert only_link().views == 5 and rt.views.pending(link.id) == 0

    def test_limited_views_are_never_buffered(self, rt, user, make_link):
        make_link(user, vanity="limited", max_views=3)
        redirects.follow(rt, "limited", "h")
        assert only_link().views == 1

    def test_flusher_writes_on_stop(self, rt, user, make_link):
        make_link(user, vanity="stopflush")
        flusher = ViewFlusher(db.engine, rt.views, interval=60).start()
        redirects.follow(rt, "stopflush", "h")
        redirects.follow(rt, "stopflush", "h")
        flusher.stop()
        assert only_link().views == 2

    def test_flusher_writes_periodically(self, rt, user, make_link):
        make_link(user, vanity="periodic")
        flusher = ViewFlusher(db.engine, rt.views, interval=0.05).start()
        try:
            redirects.follow(rt, "periodic", "h")
            redirects.follow(rt, "periodic", "h")
            deadline = time.monotonic() + 5
            while only_link().views < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert only_link().views == 2
        finally:
            flusher.stop()

    def test_failed_flush_keeps_the_counts(self, rt, user, make_link):
        link = make_link(user, vanity="keep")
        redirects.follow(rt, "keep", "h")
        redirects.follow(rt, "keep", "h")
        broken = sa.create_engine("sqlite:////nonexistent/dir/db.sqlite")
        with pytest.raises(sa.exc.OperationalError):
            flush_views(broken, rt.views)
        assert rt.views.pending(link.id) == 2


def test_cached_link_reflects_an_edit_through_this_process_at_once(rt, user, make_link):
    link = make_link(user, destination="https://old.example/", vanity="edited")
    assert redirects.follow(rt, "edited", "h").destination == "https://old.example/"
    links.update_link(rt, user, link.id, links.LinkChanges(destination="https://new.example/"))
    assert redirects.follow(rt, "edited", "h").destination == "https://new.example/"


def test_cached_link_disappears_on_delete(rt, user, make_link):
    link = make_link(user, vanity="gone-soon")
    redirects.follow(rt, "gone-soon", "h")
    links.delete_link(rt, user, link.id)
    with pytest.raises(NotFound):
        redirects.follow(rt, "gone-soon", "h")


def test_cached_link_stops_when_the_owner_is_disabled(rt, user, make_link):
    make_link(user, vanity="owner")
    redirects.follow(rt, "owner", "h")
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    with pytest.raises(Gone):
        redirects.follow(rt, "owner", "h")


def test_cached_link_respects_its_expiry(rt, user, make_link):
    import datetime as dt

    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    make_link(user, vanity="expiring", expires_at=expires)
    redirects.follow(rt, "expiring", "h")
    with pytest.raises(Gone):
        redirects.follow(rt, "expiring", "h", now=expires + dt.timedelta(seconds=1))


class TestShortCache:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"cache_seconds": 0.2}}

    def test_change_by_another_process_is_seen_after_the_ttl(self, rt, user, make_link, clock):
        make_link(user, destination="https://old.example/", vanity="elsewhere")
        redirects.follow(rt, "elsewhere", "h")
        db.session.execute(sa.update(Link).values(destination="https://other.example/"))  # "another process"
        db.session.commit()
        clock.advance(0.2)  # at the end of the TTL the cached answer still holds
        assert redirects.follow(rt, "elsewhere", "h").destination == "https://old.example/"
        clock.advance(0.01)
        assert redirects.follow(rt, "elsewhere", "h").destination == "https://other.example/"
