"""The short table `make bench` keeps in README.md's "## Speed", between two markers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import results
from results import Report

START = "<!-- bench:webhook:start (written by make bench) -->"
END = "<!-- bench:webhook:end -->"
COLUMNS = {
    "bare": "bare aiohttp",
    "sqlite-1": "SQLite, 1 process",
    "sqlite-2": "SQLite, 2 processes",
    "pg-1": "PostgreSQL, 1 process",
    "pg-2": "PostgreSQL, 2 processes",
    "pg-split": "PostgreSQL, webhook + worker",
}


def _ms(value: float | None, drain: float) -> str:
    if value is None:
        return "–"
    if value == float("inf"):
        return f"> {drain:g} s"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _row(report: Report, label: str, cell: Callable[[Report, str], str], goal: str) -> str:
    cells = [cell(report, name) for name in COLUMNS]
    return f"| {label} | " + " | ".join(cells) + f" | {goal} |"


def _flat(report: Report, name: str) -> str:
    run, bare = report.find(name, 0), report.find("bare", 0)
    if run is None:
        return "–"
    acked = run.load.acked_per_second
    if name == "bare" or bare is None:
        return f"{acked:,.0f}"
    return f"{acked:,.0f} ({acked / bare.load.acked_per_second:.0%})"


def _ack(report: Report, name: str) -> str:
    run = report.find(name, results.ACK_RATE)
    if run is None:
        return "–"
    return f"{run.load.latency_ms(50):.1f} / {run.load.latency_ms(99):.1f} ms"


def _lag(report: Report, name: str) -> str:
    run = report.find(name, results.LAG_RATE)
    return "–" if run is None else _ms(run.lag_ms(99), report.drain_limit)


def _processed(report: Report, name: str) -> str:
    run = report.find(name, results.LAG_RATE)
    if run is None or run.processed_per_s is None:
        return "–"
    return f"{run.processed_per_s:,.0f}"


def _clock_lines(report: Report) -> list[str]:
    lines = []
    alerts = [
        f"{db}: {results.percentile(late.seen, 50):.2f} / {results.percentile(late.seen, 99):.2f} s"
        for db, late in report.alerts.items()
    ]
    if alerts:
        lines.append(
            "- SLA breach alert, from the deadline to the alert committed, p50 / p99 ("
            + "; ".join(alerts)
            + "); target p99 < 1 s"
        )
    sweeps = [
        f"{db}: {cost.tick[min(cost.tick)] * 1000:.1f} ms over {min(cost.tick)}, "
        f"{cost.tick[max(cost.tick)] * 1000:.1f} ms over {max(cost.tick):,}"
        for db, cost in report.sweeps.items()
    ]
    if sweeps:
        lines.append(
            "- one deadline sweep (every rule's, as run every 0.25 s) with open clocks none of "
            "which is due (" + "; ".join(sweeps) + "); target: no dearer over 20,000 than over 20"
        )
    return lines


def _verdicts(report: Report) -> str:
    rows = results.load_targets(report.runs, report.services)
    rows += results.clock_targets(report.alerts, report.sweeps)
    met = sum(row.endswith("| PASS |") for row in rows)
    return f"- targets met: {met} of {len(rows)} (each one in bench/RESULTS.md)"


def block(report: Report) -> str:
    """The Markdown between the markers."""
    header = "| | " + " | ".join(COLUMNS.values()) + " | target |"
    return "\n".join(
        [
            START,
            *[f for f in report.facts if not f.startswith(("- load generator", "- run:"))],
            "",
            header,
            "|---" * (len(COLUMNS) + 2) + "|",
            _row(report, "acked events/s, flat out (share of bare)", _flat, "≥ 30 % of bare"),
            _row(report, "ack latency p50 / p99 at 1,000 events/s", _ack, "p99 < 25 ms"),
            _row(report, "processing lag p99 at 500 events/s", _lag, "< 100 ms"),
            _row(report, "events processed/s in that run", _processed, "–"),
            "",
            *_clock_lines(report),
            _verdicts(report),
            END,
        ]
    )


def update(readme: Path, report: Report) -> bool:
    """Replace the block between the markers; False when the markers are not there."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[:start] + block(report) + text[end + len(END) :], encoding="utf-8")
    return True
