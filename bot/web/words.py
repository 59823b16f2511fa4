"""The dashboard's and the simulator's words as (vi, en) pairs, from
templates/<locale>/dashboard.toml: pages show them with t(vi, en) in the viewer's language."""

from __future__ import annotations

from bot.core.render import labels

Words = tuple[str, str]


def words(name: str, /, **values: object) -> Words:
    """The (Vietnamese, English) pair `name` of the [dashboard] table, its {placeholders}
    filled from `values`."""
    vi, en = labels("vi")["dashboard"][name], labels("en")["dashboard"][name]
    return (vi.format(**values), en.format(**values)) if values else (vi, en)
