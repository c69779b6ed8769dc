"""Words for counts: '1 view', '2 views' (the pages and their messages say it one way)."""

from __future__ import annotations


def noun(count: int | None, singular: str, plural: str | None = None) -> str:
    """The word for ``count`` things: 'view' for 1, 'views' (or ``plural``) for any other count."""
    return singular if count == 1 else plural or singular + "s"


def counted(count: int | None, singular: str, plural: str | None = None) -> str:
    """A count with its word: '1 view', '0 views', '2 files'."""
    return f"{count or 0} {noun(count or 0, singular, plural)}"
