"""Headings of the reports on the dashboard: report titles and column names as (vi, en) pairs,
from templates/<locale>/report_words.toml."""

from __future__ import annotations

from bot.web.words import Words, pairs

TITLES: dict[str, Words] = pairs("report_titles")
COLUMNS: dict[str, Words] = pairs("report_columns")

# Cells shown with a display word from labels.toml: column -> labels section.
VALUE_LABELS = {
    "kind": "payment_kinds",
    "type": "incident_types",
    "gender": "genders",
    "customer_group": "customer_groups",
}
MONEY = frozenset({"requested_amount", "approved_amount", "rejected_amount", "amount"})
PERCENT = frozenset({"compliance_pct", "percent"})
