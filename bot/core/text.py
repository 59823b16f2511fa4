"""Small text helpers shared by the router and the parsers."""

from __future__ import annotations

from config.formats import fold as fold  # the folding the formats read through


def fits(value: str, max_chars: int) -> bool:
    """Text a column can hold: at most `max_chars` characters and no NUL."""
    return len(value) <= max_chars and "\x00" not in value
