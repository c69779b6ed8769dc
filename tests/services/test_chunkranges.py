"""Byte-range arithmetic of chunked uploads: merged coverage and the gaps left."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zipshort.services.chunkranges import describe, merge_range, missing_ranges


def test_overlapping_touching_and_repeated_ranges_merge():
    ranges: list[list[int]] = []
    for start, end in [(60, 100), (0, 40), (60, 100), (40, 50), (45, 55)]:
        ranges = merge_range(ranges, start, end)
    assert ranges == [[0, 55], [60, 100]]
    assert missing_ranges(ranges, 100) == [(55, 60)]
    assert describe(missing_ranges(ranges, 120)) == "55-59, 100-119"


def test_only_the_first_gaps_are_described():
    assert describe([(0, 1), (2, 3), (4, 5), (6, 7)]) == "0-0, 2-2, 4-4, …"


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 50)), max_size=30))
def test_coverage_and_gaps_partition_the_file(pieces):
    total = 250
    ranges: list[list[int]] = []
    covered: set[int] = set()
    for start, length in pieces:
        end = min(start + length, total)
        ranges = merge_range(ranges, start, end)
        covered.update(range(start, end))
    gaps = missing_ranges(ranges, total)
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # sorted, disjoint, not touching
    assert sum(e - s for s, e in ranges) == len(covered)
    assert {i for s, e in gaps for i in range(s, e)} == set(range(total)) - covered
