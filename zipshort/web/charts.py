"""The dashboard's daily chart as ready values: bar geometry for a small SVG, a y-axis scale with round
steps, per-day labels and values (shown under the bars and in a table for screen readers).

Hand-rolled on purpose: two series of 14 bars need no library, and every number is server-rendered
(no inline styles or scripts under the strict CSP; the SVG only stretches rectangles, the text is HTML).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from zipshort.web.words import counted

SLOT = 20  # SVG units per day (viewBox width = SLOT * days); the height is 100 units
BAR = 7  # width of each of the day's two bars
MAX_TICKS = 4  # intervals on the y axis at most


@dataclass(frozen=True)
class Bar:
    """One rectangle of the SVG (its height is the count relative to the top of the scale)."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Day:
    """One day of the chart: its labels, its two counts and their bars."""

    iso: str
    label: str  # "Nov 18"
    short: str  # "18", under the bars
    files: int
    links: int
    bars: tuple[Bar, Bar]


@dataclass(frozen=True)
class DailyChart:
    """The chart: days oldest first, the y-axis ticks from top to 0, the SVG's width, a caption."""

    days: list[Day]
    ticks: list[int]
    gridlines: list[float]
    width: int
    caption: str


def scale(peak: int) -> tuple[int, int]:
    """The top of the y axis and its step: round numbers (1, 2 or 5 times a power of ten), at most 4 steps."""
    if peak <= MAX_TICKS:
        return max(peak, 1), 1
    raw = peak / MAX_TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(peak / step), step


def _bar(x: float, count: int, top: int, title: str) -> Bar:
    height = round(count / top * 100, 2)
    return Bar(x=x, y=round(100 - height, 2), width=BAR, height=height, title=title)


def daily_chart(days: list[tuple[dt.date, int, int]]) -> DailyChart:
    """The chart of (day, files, links) counts, oldest first."""
    top, step = scale(max([max(f, n) for _, f, n in days] + [0]))
    out = []
    for i, (day, n_files, n_links) in enumerate(days):
        label = f"{day:%b} {day.day}"
        bars = (_bar(i * SLOT + 2.5, n_files, top, f"{label}: {counted(n_files, 'file')}"),
                _bar(i * SLOT + 2.5 + BAR + 1, n_links, top, f"{label}: {counted(n_links, 'link')}"))
        out.append(Day(iso=day.isoformat(), label=label, short=str(day.day), files=n_files, links=n_links, bars=bars))
    ticks = list(range(top, -1, -step))
    span = f"{out[0].label} – {out[-1].label}" if out else ""
    return DailyChart(days=out, ticks=ticks, gridlines=[round(100 - t / top * 100, 2) for t in ticks],
                      width=SLOT * max(len(out), 1), caption=f"Files and links you created per day (UTC), {span}")
