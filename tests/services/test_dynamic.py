"""Dynamic links: a signed destination resolves; any wrong part is the same 404."""

from __future__ import annotations

import pytest

from zipshort.errors import NotFound
from zipshort.services import accounts, dynamic

DEST = "https://example.com/path?q=1"


def test_a_signed_destination_resolves(user):
    secret = dynamic.secret_of(user)
    assert dynamic.resolve(user.id, dynamic.sign(secret, DEST), DEST) == DEST


def test_the_secret_is_made_once_and_kept(user):
    assert dynamic.secret_of(user) == dynamic.secret_of(user)


def test_rotating_the_secret_breaks_old_links(rt, user):
    old = dynamic.sign(dynamic.secret_of(user), DEST)
    new_secret = dynamic.rotate_secret(rt, user)
    with pytest.raises(NotFound):
        dynamic.resolve(user.id, old, DEST)
    assert dynamic.resolve(user.id, dynamic.sign(new_secret, DEST), DEST) == DEST


@pytest.mark.parametrize("change", ["signature", "destination", "user", "scheme", "missing"])
def test_any_wrong_part_is_not_found(user, change):
    secret = dynamic.secret_of(user)
    user_id, destination = user.id, DEST
    signature = dynamic.sign(secret, destination)
    if change == "signature":
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    elif change == "destination":
        destination = DEST + "&more"
    elif change == "user":
        user_id = "0" * len(user.id)
    elif change == "scheme":  # correctly signed, but only https:// destinations are served
        destination = "http://example.com/"
        signature = dynamic.sign(secret, destination)
    else:
        destination = None
    with pytest.raises(NotFound):
        dynamic.resolve(user_id, signature, destination)


def test_a_disabled_users_links_stop(rt, user):
    signature = dynamic.sign(dynamic.secret_of(user), DEST)
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    with pytest.raises(NotFound):
        dynamic.resolve(user.id, signature, DEST)


def test_a_user_without_a_secret_has_no_dynamic_links(user):
    with pytest.raises(NotFound):
        dynamic.resolve(user.id, dynamic.sign("", DEST), DEST)
