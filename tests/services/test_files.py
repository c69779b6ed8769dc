"""Files: rows for stored blobs, all or none under the quota; listings, edits and deletes of the owner's
files only; deletes lower the counters once and take the blobs and thumbnails with them."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import count, fresh
from tests.e2e.uploads import assert_exact
from zipshort.errors import Conflict, NotFound, ValidationError
from zipshort.models import File, User, utcnow
from zipshort.services import accounts, files, quotas, tags


def new(rt, data: bytes, name: str) -> files.NewFile:
    return files.NewFile(blob=rt.storage.write([data]), make_name=lambda: name, retry_name=False,
                         original_name=name, type="text/plain")


def test_store_files_records_blobs_and_charges_the_owner(rt, user):
    rows = files.store_files(rt, user, [new(rt, b"one", "a.txt"), new(rt, b"three", "b.txt")])
    assert [r.name for r in rows] == ["a.txt", "b.txt"] and {r.storage_key for r in rows} == set(rt.storage.keys())
    owner = fresh(User, user.id)
    assert (owner.used_bytes, owner.file_count) == (8, 2)


def test_over_the_quota_nothing_is_stored_and_the_blobs_go(rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(files_type="BY_FILES", max_files=1)))
    with pytest.raises(quotas.FileQuotaExceeded):
        files.store_files(rt, user, [new(rt, b"one", "a.txt"), new(rt, b"two", "b.txt")])
    assert count(File) == 0 and list(rt.storage.keys()) == [] and assert_exact(user.id)["file_count"] == 0


def test_a_taken_fixed_name_refuses_the_upload_and_removes_its_blob(rt, user, make_file):
    make_file(user, b"first", name="same.txt")
    with pytest.raises(Conflict):
        files.store_files(rt, user, [new(rt, b"second", "same.txt")])
    assert count(File) == 1 and len(list(rt.storage.keys())) == 1 and assert_exact(user.id)["file_count"] == 1


def test_a_retried_name_finds_a_free_one(rt, user, make_file):
    make_file(user, name="taken.txt")
    names = iter(["taken.txt", "free.txt"])
    item = files.NewFile(blob=rt.storage.write([b"x"]), make_name=lambda: next(names), retry_name=True,
                         original_name=None, type="text/plain")
    assert files.store_files(rt, user, [item])[0].name == "free.txt"


def test_listing_pages_sorts_searches_and_filters(user, make_user, make_file):
    make_file(make_user("bob"), name="bobs.txt")
    for name, ctype in (("a.png", "image/png"), ("b.txt", "text/plain"), ("c.bin", "application/zip")):
        make_file(user, name=name, type=ctype)
    page, total = files.list_files(user, files.FileQuery(per_page=2, sort_by="name", order="asc"))
    assert [r.name for r in page] == ["a.png", "b.txt"] and total == 3
    page, _ = files.list_files(user, files.FileQuery(page=2, per_page=2, sort_by="name", order="asc"))
    assert [r.name for r in page] == ["c.bin"]
    assert [r.name for r in files.list_files(user, files.FileQuery(filter="dashboard", sort_by="name",
                                                                   order="asc"))[0]] == ["a.png", "b.txt"]
    found, total = files.list_files(user, files.FileQuery(search_field="name", search_query="B."))
    assert [r.name for r in found] == ["b.txt"] and total == 1
    assert files.list_files(user, files.FileQuery(search_field="any", search_query="%"))[1] == 0  # a literal %


def test_listing_by_tag_and_favourite(user, make_file):
    a, b = make_file(user, name="a.txt"), make_file(user, name="b.txt")
    tag = tags.create_tag(user, "red", "red")
    tags.tag_files(user, [a.id], tag.id)
    files.set_favorite(user, [b.id], True)
    assert [r.id for r in files.list_files(user, files.FileQuery(tag_id=tag.id))[0]] == [a.id]
    assert [r.id for r in files.list_files(user, files.FileQuery(search_field="tags", search_query=tag.id))[0]] == \
        [a.id]
    assert [r.id for r in files.list_files(user, files.FileQuery(favorite=True))[0]] == [b.id]


@pytest.mark.parametrize("query", [files.FileQuery(sort_by="password"), files.FileQuery(order="up"),
                                   files.FileQuery(per_page=0), files.FileQuery(page=0),
                                   files.FileQuery(filter="secret"), files.FileQuery(search_field="storage_key"),
                                   files.FileQuery(search_field="name", search_query="a\x00")])
def test_bad_listing_queries_are_refused(user, query):
    with pytest.raises(ValidationError):
        files.list_files(user, query)


def test_someone_elses_file_is_not_found(rt, user, make_user, make_file):
    theirs = make_file(make_user("bob"), name="bobs.txt")
    for action in (lambda: files.get_owned_file(user, theirs.id), lambda: files.get_owned_file(user, "bobs.txt"),
                   lambda: files.update_file(rt, user, theirs.id, files.FileChanges(favorite=True)),
                   lambda: files.delete_files(rt, user, [theirs.id])):
        with pytest.raises(NotFound):
            action()
    assert count(File) == 1 and rt.storage.exists(theirs.storage_key)


def test_update_renames_and_refuses_a_taken_name(rt, user, make_file):
    item = make_file(user, name="a.txt")
    make_file(user, name="b.txt")
    files.update_file(rt, user, item.id, files.FileChanges(name="c.txt", max_views=3))
    row = fresh(File, item.id)
    assert (row.name, row.max_views) == ("c.txt", 3)
    with pytest.raises(Conflict):
        files.update_file(rt, user, item.id, files.FileChanges(name="b.txt"))
    assert fresh(File, item.id).name == "c.txt"


def test_delete_takes_rows_counters_blobs_and_thumbnails(rt, user, make_file):
    keep, gone = make_file(user, b"keep"), make_file(user, b"gone!")
    thumb = rt.storage.write([b"jpeg"])
    fresh(File, gone.id).thumbnail_key = thumb.key
    from zipshort.extensions import db

    db.session.commit()
    assert [r.id for r in files.delete_files(rt, user, [gone.id])] == [gone.id]
    assert set(rt.storage.keys()) == {keep.storage_key}
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["file_count"]) == (4, 1)


def test_a_delete_of_several_is_all_or_nothing(rt, user, make_file):
    item = make_file(user)
    with pytest.raises(NotFound):
        files.delete_files(rt, user, [item.id, "no-such-file"])
    assert count(File) == 1 and rt.storage.exists(item.storage_key)


def test_only_an_owned_image_may_be_a_preview_image(user, make_user, make_file):
    image = make_file(user, name="a.png", type="image/png")
    text = make_file(user, name="a.txt")
    assert files.owned_image_id(user, image.id, "image") == image.id
    assert files.owned_image_id(user, None, "image") is None
    with pytest.raises(ValidationError):
        files.owned_image_id(user, text.id, "image")
    with pytest.raises(NotFound):
        files.owned_image_id(make_user("bob"), image.id, "image")


def test_stats_and_activity_count_the_owners_things(user, make_user, make_file, make_link):
    make_file(user, b"1234", name="a.txt")
    make_file(user, b"12", name="b.png", type="image/png")
    make_file(make_user("bob"), b"not mine")
    make_link(user)
    stats = files.user_stats(user)
    assert (stats["filesUploaded"], stats["storageUsed"], stats["avgStorageUsed"], stats["urlsCreated"]) == \
        (2, 6, 3, 1)
    assert stats["sortTypeCount"] == {"text/plain": 1, "image/png": 1}
    now = utcnow()
    days = files.activity(user, days=3, now=now)
    assert [d for d, _, _ in days] == [(now - dt.timedelta(days=i)).date() for i in (2, 1, 0)]
    assert days[-1][1:] == (2, 1) and days[0][1:] == (0, 0)
