"""Downloads: which file is live, which request spends a view, the view limit under its one UPDATE,
passwords, grants for seeking, previews and thumbnails."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import fresh
from zipshort.errors import Forbidden, Gone, NotFound, PasswordRequired, RateLimited
from zipshort.models import File
from zipshort.services import accounts, downloads


def test_a_live_file_is_found_and_each_view_counted(rt, user, make_file):
    row = make_file(user, b"data", name="a.txt")
    serving = downloads.find_file(rt, "a.txt")
    assert (serving.size, serving.type, serving.limited, serving.protected) == (4, "text/plain", False, False)
    assert fresh(File, row.id).views == 0  # finding is not viewing
    downloads.count_view(rt, "a.txt")
    downloads.count_view(rt, "a.txt")
    assert fresh(File, row.id).views == 2


@pytest.mark.parametrize("name", ["missing.txt", "", "a\x00b", "x" * 256])
def test_unknown_or_impossible_names_are_not_found(rt, name):
    with pytest.raises(NotFound):
        downloads.find_file(rt, name)


def test_the_last_view_of_a_limited_file_is_the_last(rt, user, make_file):
    make_file(user, name="once.txt", max_views=1)
    assert downloads.count_view(rt, "once.txt").limited
    with pytest.raises(Gone):
        downloads.count_view(rt, "once.txt")
    with pytest.raises(Gone):
        downloads.find_file(rt, "once.txt")


def test_an_expired_file_is_gone(rt, user, make_file, clock):
    make_file(user, name="soon.txt", expires_at=clock.now() + dt.timedelta(hours=1))
    clock.advance(3599)
    downloads.find_file(rt, "soon.txt", now=clock.now())
    clock.advance(1)
    with pytest.raises(Gone):
        downloads.count_view(rt, "soon.txt", now=clock.now())


def test_a_disabled_owners_files_are_gone(rt, user, make_file):
    make_file(user, name="a.txt")
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    with pytest.raises(Gone):
        downloads.find_file(rt, "a.txt")


@pytest.mark.parametrize("method,first_byte,limited,granted,counts", [
    ("GET", 0, False, False, True), ("HEAD", 0, False, False, False), ("GET", None, False, False, False),
    ("GET", 10, False, False, False), ("GET", 10, True, False, True), ("GET", 0, True, True, False)])
def test_which_requests_spend_a_view(rt, user, make_file, method, first_byte, limited, granted, counts):
    make_file(user, name="a.txt", max_views=5 if limited else None)
    serving = downloads.find_file(rt, "a.txt")
    assert downloads.is_view(method, first_byte, serving, granted) is counts


def test_a_protected_file_needs_its_password(rt, user, make_file):
    row = make_file(user, name="secret.txt", password_hash=rt.passwords.hash("pw-12345"))
    with pytest.raises(PasswordRequired):
        downloads.find_file(rt, "secret.txt")
    with pytest.raises(Forbidden):
        downloads.unlock_file(rt, "secret.txt", "wrong", "203.0.113.5")
    assert fresh(File, row.id).views == 0
    assert downloads.unlock_file(rt, "secret.txt", "pw-12345", "203.0.113.5").protected
    assert fresh(File, row.id).views == 1
    with pytest.raises(Gone):  # the unprotected path never serves it
        downloads.count_view(rt, "secret.txt")


@pytest.mark.parametrize("overrides", [{"ratelimit": {"link_password": "2/minute"}}])
def test_password_attempts_are_rate_limited(rt, user, make_file):
    make_file(user, name="secret.txt", password_hash=rt.passwords.hash("pw-12345"))
    for _ in range(2):
        with pytest.raises(Forbidden):
            downloads.unlock_file(rt, "secret.txt", "wrong", "203.0.113.5")
    with pytest.raises(RateLimited):
        downloads.unlock_file(rt, "secret.txt", "pw-12345", "203.0.113.5")


def test_a_grant_lets_its_viewer_seek_a_used_up_file_until_it_ends(rt, user, make_file, clock):
    make_file(user, name="video.mp4", max_views=1)
    serving = downloads.count_view(rt, "video.mp4")
    name, value, max_age = downloads.view_grant(rt, serving, now=clock.now().timestamp())
    assert max_age == downloads.VIEW_GRANT_SECONDS
    assert downloads.find_for_grant(rt, "video.mp4", {name: value}).storage_key == serving.storage_key
    with pytest.raises(Gone):
        downloads.find_for_grant(rt, "video.mp4", {name: value + "x"})
    with pytest.raises(Gone):
        downloads.find_for_grant(rt, "video.mp4", {})
    clock.advance(downloads.VIEW_GRANT_SECONDS)  # its last second
    assert downloads.holds_grant(rt, serving, {name: value}, now=clock.now().timestamp())
    clock.advance(1)
    assert not downloads.holds_grant(rt, serving, {name: value}, now=clock.now().timestamp())


def test_a_grant_is_for_its_own_file_only(rt, user, make_file):
    make_file(user, name="a.mp4", max_views=1)
    make_file(user, name="b.mp4", max_views=1)
    name, value, _ = downloads.view_grant(rt, downloads.count_view(rt, "a.mp4"))
    downloads.count_view(rt, "b.mp4")
    with pytest.raises(Gone):
        downloads.find_for_grant(rt, "b.mp4", {name: value})


def test_the_preview_shows_metadata_and_the_owners_embed_without_counting(rt, user, make_file):
    accounts.update_user(rt, user, accounts.UserChanges(view={"embed": True, "embedTitle": "Mine"}))
    row = make_file(user, b"hello", name="a.txt")
    shown = downloads.preview("a.txt")
    assert (shown.size, shown.type, shown.embed) == (5, "text/plain", {"embedTitle": "Mine"})
    assert fresh(File, row.id).views == 0
    with pytest.raises(NotFound):
        downloads.preview("missing.txt")


def test_a_thumbnail_is_served_only_for_a_live_unprotected_file(rt, user, make_file):
    plain = make_file(user, name="a.png", type="image/png")
    with pytest.raises(NotFound):  # none made yet
        downloads.thumbnail(rt, plain.id)
    locked = make_file(user, name="b.png", type="image/png", password_hash=rt.passwords.hash("pw-12345"))
    from zipshort.extensions import db

    thumb = rt.storage.write([b"thumbnail bytes"])
    for row in (plain, locked):
        fresh(File, row.id).thumbnail_key = thumb.key
        db.session.commit()
    served = downloads.thumbnail(rt, plain.id)
    assert served.path is not None and served.path.read_bytes() == b"thumbnail bytes"
    with pytest.raises(NotFound):
        downloads.thumbnail(rt, locked.id)
