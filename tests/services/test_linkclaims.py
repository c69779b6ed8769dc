"""What a link claims inside the door's transaction: a code free on its domain, a verified domain of the
owner's, one unit of URL quota, the owner's folder and tags."""

from __future__ import annotations

import pytest

from tests.conftest import count, fresh
from zipshort.database import write_transaction
from zipshort.errors import NotFound, QuotaExceeded, ValidationError, VanityTaken
from zipshort.extensions import db
from zipshort.models import Tag, User
from zipshort.services import accounts, folders, linkclaims


def test_a_vanity_is_free_until_used_on_its_domain_or_everywhere(rt, user, make_link, own_domain):
    own_domain(user, "mine.example")
    make_link(user, vanity="Taken")
    make_link(user, vanity="local", domain="mine.example")
    with write_transaction(db.session):
        with pytest.raises(VanityTaken):
            linkclaims.claim_slug(rt, "", "TAKEN")
    with write_transaction(db.session):  # a domain-less code conflicts with every domain
        with pytest.raises(VanityTaken):
            linkclaims.claim_slug(rt, "mine.example", "taken")
    with write_transaction(db.session):  # a code on a custom domain blocks a domain-less one too
        with pytest.raises(VanityTaken):
            linkclaims.claim_slug(rt, "", "local")
    with write_transaction(db.session):
        assert linkclaims.claim_slug(rt, "", "free")[0] == "free"


def test_a_random_code_has_the_configured_length(rt):
    with write_transaction(db.session):
        slug, code = linkclaims.claim_slug(rt, "", None)
    assert slug == code and len(code) == rt.settings.urls.length


def test_only_a_verified_domain_of_the_owners_is_accepted(rt, user, make_user, own_domain):
    own_domain(user, "mine.example")
    from zipshort.services import domains

    domains.add_custom(rt, user, "unproven.example")
    own_domain(make_user("bob"), "bobs.example")
    with write_transaction(db.session):
        linkclaims.check_domain(rt, user, "mine.example")
    for hostname in ("unproven.example", "bobs.example", "nowhere.example"):
        with write_transaction(db.session):
            with pytest.raises(ValidationError):
                linkclaims.check_domain(rt, user, hostname)


def test_the_url_quota_is_reserved_and_released(rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=1)))
    with write_transaction(db.session):
        linkclaims.reserve_url_quota(user.id)
    with write_transaction(db.session):
        with pytest.raises(QuotaExceeded, match="quota of 1 URLs"):
            linkclaims.reserve_url_quota(user.id)
    with write_transaction(db.session):
        linkclaims.release_url_quota(user.id)
        linkclaims.release_url_quota(user.id)  # never below zero
    assert fresh(User, user.id).url_count == 0


def test_a_folder_must_be_the_owners(user, make_user):
    mine, theirs = folders.create_folder(user, "Mine"), folders.create_folder(make_user("bob"), "Theirs")
    linkclaims.folder_owned(user, mine.id)
    for folder_id in (theirs.id, "no-such-folder", 5):
        assert not linkclaims.folder_is_owned(user, folder_id)
    with pytest.raises(NotFound):
        linkclaims.folder_owned(user, theirs.id)


def test_tags_are_found_by_name_or_made_once(user, make_user):
    from zipshort.services import tags

    existing = tags.create_tag(user, "Red", "red")
    tags.create_tag(make_user("bob"), "blue", "blue")
    with write_transaction(db.session):
        got = linkclaims.tags_by_name(user, ["red", " Blue "])
    assert got[0].id == existing.id and got[1].name == "Blue" and got[1].user_id == user.id
    assert count(Tag) == 3
