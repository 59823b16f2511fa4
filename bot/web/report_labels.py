"""Headings of the reports on the dashboard: report titles and column names as (vi, en) pairs,
from templates/<locale>/report_words.toml."""

from __future__ import annotations

from bot.core.render import labels

Words = tuple[str, str]


def _pairs(section: str) -> dict[str, Words]:
    """`section` of templates/<locale>/report_words.toml as (vi, en) pairs, in the vi order."""
    vi, en = labels("vi")[section], labels("en")[section]
    return {key: (vi[key], en[key]) for key in vi}


TITLES: dict[str, Words] = _pairs("report_titles")
COLUMNS: dict[str, Words] = _pairs("report_columns")

# Cells shown with a display word from labels.toml: column -> labels section.
VALUE_LABELS = {
    "kind": "payment_kinds",
    "type": "incident_types",
    "gender": "genders",
    "customer_group": "customer_groups",
}
MONEY = frozenset({"requested_amount", "approved_amount", "rejected_amount", "amount"})
PERCENT = frozenset({"compliance_pct", "percent"})
