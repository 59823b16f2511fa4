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


def pairs(section: str) -> dict[str, Words]:
    """A whole table of the templates' words as (vi, en) pairs, in the Vietnamese file's order
    (report_words.toml's report titles and columns)."""
    vi, en = labels("vi")[section], labels("en")[section]
    return {key: (vi[key], en[key]) for key in vi}
