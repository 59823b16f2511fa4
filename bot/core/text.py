"""Small text helpers shared by the router and the parsers."""

from __future__ import annotations

import functools
import unicodedata

_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


def fits(value: str, max_chars: int) -> bool:
    """Text a column can hold: at most `max_chars` characters and no NUL."""
    return len(value) <= max_chars and "\x00" not in value


@functools.lru_cache(maxsize=4096)  # every rule folds the event's text: computed once
def fold(text: str) -> str:
    """Lower-case `text` and strip Vietnamese diacritics: 'Ghi chú' -> 'ghi chu'."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).lower()
