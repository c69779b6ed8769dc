"""Bulk links (hoko): the whole request is validated first, then every link is created or none, against
the owner's collections, external ids and link quota."""

from __future__ import annotations

import pytest

from tests.conftest import count, fresh
from zipshort.errors import QuotaExceeded, ValidationError
from zipshort.models import Link, User
from zipshort.services import accounts, bulk, folders


@pytest.fixture
def collection(user):
    return folders.create_folder(user, "Campaign")


def item(collection, **fields):
    return {"url": "https://example.com/p", "collectionId": collection.id, **fields}


def test_every_item_is_created_in_its_collection_with_its_fields(rt, user, collection):
    checked = bulk.validate(rt, [item(collection, title="One", externalId="e1", utm={"source": "mail"}),
                                 item(collection, url="https://example.org/")])
    created = bulk.create(rt, user, checked)
    assert [c.destination for c in created] == ["https://example.com/p", "https://example.org/"]
    assert len({c.slug for c in created}) == 2 and all(c.folder_id == collection.id for c in created)
    first = fresh(Link, created[0].id)
    assert (first.title, first.external_id, first.utm, first.smart) == ("One", "e1", {"source": "mail"}, True)
    assert not fresh(Link, created[1].id).smart
    assert fresh(User, user.id).url_count == 2


@pytest.mark.parametrize("items,index", [
    ("not a list", None), ([], None),
    (["not an object"], 0),
    ([{"url": "https://ok.example/"}], 0),  # no collection
    ([{"url": "ftp://x.example/", "collectionId": "0" * 36}], 0),
    ([{"url": "https://ok.example/", "collectionId": "0" * 36, "partnerId": "nope"}], 0),
    ([{"url": "https://ok.example/", "collectionId": "0" * 36, "externalId": "x"},
      {"url": "https://ok.example/", "collectionId": "0" * 36, "externalId": "x"}], 1),  # repeated externalId
])
def test_a_bad_request_names_the_first_bad_item(rt, items, index):
    with pytest.raises(ValidationError) as refused:
        bulk.validate(rt, items)
    assert getattr(refused.value, "index", None) == index


@pytest.mark.parametrize("overrides", [{"urls": {"bulk_max_per_request": 2}}])
def test_the_per_request_limit_holds(rt):
    with pytest.raises(ValidationError, match="At most 2"):
        bulk.validate(rt, [{"url": "https://a.example/", "collectionId": "0" * 36}] * 3)


def test_a_link_to_this_server_is_refused(rt, collection):
    with pytest.raises(bulk.ItemError) as refused:
        bulk.validate(rt, [item(collection), item(collection, url="https://sho.rt/go/x")], host="sho.rt")
    assert refused.value.index == 1


def test_someone_elses_collection_creates_nothing(rt, user, make_user, collection):
    theirs = folders.create_folder(make_user("bob"), "Theirs")
    checked = bulk.validate(rt, [item(collection), item(theirs)])
    with pytest.raises(bulk.ItemError) as refused:
        bulk.create(rt, user, checked)
    assert refused.value.index == 1 and count(Link) == 0 and fresh(User, user.id).url_count == 0


def test_a_used_external_id_creates_nothing(rt, user, collection):
    bulk.create(rt, user, bulk.validate(rt, [item(collection, externalId="taken")]))
    with pytest.raises(bulk.ItemError, match="already used"):
        bulk.create(rt, user, bulk.validate(rt, [item(collection, externalId="new"),
                                                 item(collection, externalId="taken")]))
    assert count(Link) == 1


def test_the_link_quota_takes_all_or_nothing(rt, user, collection):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=3)))
    bulk.create(rt, user, bulk.validate(rt, [item(collection)] * 2))
    with pytest.raises(QuotaExceeded):
        bulk.create(rt, user, bulk.validate(rt, [item(collection)] * 2))
    assert count(Link) == 2 and fresh(User, user.id).url_count == 2
    bulk.create(rt, user, bulk.validate(rt, [item(collection)]))
    assert fresh(User, user.id).url_count == 3


@pytest.mark.parametrize("overrides", [{"urls": {"bulk_max_links": 2}}])
def test_the_plans_total_holds(rt, user, collection):
    with pytest.raises(QuotaExceeded):
        bulk.create(rt, user, bulk.validate(rt, [item(collection)] * 3))
    assert count(Link) == 0
