"""Byte ranges of chunked uploads: which bytes arrived, which are missing ([start, end) pairs)."""

from __future__ import annotations


def merge_range(ranges: list[list[int]], start: int, end: int) -> list[list[int]]:
    """``ranges`` (sorted, disjoint [start, end) pairs) with [start, end) added, merged."""
    merged: list[list[int]] = []
    for begin, stop in sorted([*([list(r) for r in ranges]), [start, end]]):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([begin, stop])
    return merged


def covers(ranges: list[list[int]], start: int, end: int) -> bool:
    """Whether ``ranges`` (merged) hold every byte of [start, end)."""
    return start >= end or any(begin <= start and end <= stop for begin, stop in ranges)


def missing_ranges(ranges: list[list[int]], total: int) -> list[tuple[int, int]]:
    """The [start, end) pieces of [0, total) that ``ranges`` (merged) do not cover."""
    gaps: list[tuple[int, int]] = []
    position = 0
    for begin, stop in ranges:
        if begin > position:
            gaps.append((position, begin))
        position = max(position, stop)
    if position < total:
        gaps.append((position, total))
    return gaps


def describe(gaps: list[tuple[int, int]], shown: int = 3) -> str:
    """The first ``shown`` gaps with inclusive ends, as Content-Range writes them: ``40-59, 80-99, …``."""
    text = ", ".join(f"{start}-{end - 1}" for start, end in gaps[:shown])
    return text + (", …" if len(gaps) > shown else "")
