"""Quota counters: charges, reservations of chunked uploads, and their conversion or release, each one
conditional UPDATE that either fits under the limit or changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import fresh
from zipshort.database import write_transaction
from zipshort.extensions import db
from zipshort.models import User
from zipshort.services import accounts, quotas


def limit(rt, user, **quota) -> None:
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(**quota)))


def counters(user) -> tuple[int, int, int, int]:
    row = fresh(User, user.id)
    return row.used_bytes, row.file_count, row.reserved_bytes, row.reserved_files


def run(fn, *args) -> None:
    with write_transaction(db.session):
        fn(*args)


def test_charge_without_a_quota_always_fits(user):
    run(quotas.charge, user.id, 10**12, 3)
    assert counters(user) == (10**12, 3, 0, 0)


def test_charge_up_to_the_byte_quota_fits_and_one_byte_more_is_refused(rt, user):
    limit(rt, user, files_type="BY_BYTES", max_bytes=100, max_bytes_text="100b")
    run(quotas.charge, user.id, 100, 1)
    with pytest.raises(quotas.FileQuotaExceeded) as refused:
        run(quotas.charge, user.id, 1, 1)
    assert refused.value.status == 413 and "storage quota of 100 bytes" in refused.value.message
    assert counters(user) == (100, 1, 0, 0)


def test_the_file_count_quota_counts_files(rt, user):
    limit(rt, user, files_type="BY_FILES", max_files=2)
    run(quotas.charge, user.id, 10**9, 2)
    with pytest.raises(quotas.FileQuotaExceeded, match="file count quota of 2 files"):
        run(quotas.charge, user.id, 1, 1)
    assert counters(user) == (10**9, 2, 0, 0)


def test_a_reservation_counts_against_later_charges(rt, user):
    limit(rt, user, files_type="BY_BYTES", max_bytes=100, max_bytes_text="100b")
    run(quotas.reserve, user.id, 60, 5)
    with pytest.raises(quotas.FileQuotaExceeded):
        run(quotas.charge, user.id, 41, 1)
    run(quotas.charge, user.id, 40, 1)
    assert counters(user) == (40, 1, 60, 1)


def test_reservations_stop_at_the_number_of_open_uploads(user):
    for _ in range(2):
        run(quotas.reserve, user.id, 10, 2)
    with pytest.raises(quotas.TooManyPartialUploads) as refused:
        run(quotas.reserve, user.id, 10, 2)
    assert refused.value.status == 429
    assert counters(user) == (0, 0, 20, 2)


def test_convert_turns_the_reservation_into_usage(user):
    run(quotas.reserve, user.id, 100, 5)
    run(quotas.convert, user.id, 100, 90)  # the finished file is smaller than declared
    assert counters(user) == (90, 1, 0, 0)


def test_release_gives_the_reservation_back(rt, user):
    limit(rt, user, files_type="BY_BYTES", max_bytes=100, max_bytes_text="100b")
    run(quotas.reserve, user.id, 100, 5)
    run(quotas.release, user.id, 100)
    assert counters(user) == (0, 0, 0, 0)
    run(quotas.charge, user.id, 100, 1)  # the room is free again
