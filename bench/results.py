"""The bench's figures as Markdown: machine facts, the load table, the targets with PASS or MISS."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from clocks import Lateness, SweepCost
from loadgen import Load

THROUGHPUT_SHARE = 0.30  # of the bare app's flat-out answers per second
ACK_P99_MS, ACK_RATE = 25.0, 1000.0
LAG_P99_MS, LAG_RATE = 100.0, 500.0
ALERT_P99_S = 1.0
SWEEP_RATIO = 1.5  # "no more than over 20", with room for timer noise on a shared machine


@dataclass
class Run:
    """One target at one rate (0 = flat out)."""

    target: str
    rate: float
    load: Load
    lags_ms: list[float] = field(default_factory=list)  # inf for an event not processed
    stored: int | None = None  # inbox rows the load left (None for the bare app)
    drained_s: float | None = None
    processed_per_s: float | None = None

    def lag_ms(self, pct: float) -> float | None:
        return percentile(self.lags_ms, pct) if self.lags_ms else None


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]


def cpu_speed() -> float:
    """Seconds a plain Python loop of 10 million additions takes: shared virtual machines of
    the same kind differ (and drift) by 2x and more, so runs are compared with this beside them."""
    started, total = time.perf_counter(), 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def machine_facts(
    load_before: tuple[float, float, float],
    pg_version: str | None,
    speeds: tuple[float, float] | None = None,
) -> list[str]:
    """Lines describing where and when the figures were taken."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(encoding="utf-8").splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = models[0] if models else platform.processor()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores ({model}), {platform.platform()}",
        f"- load average before the run: {' / '.join(f'{x:.2f}' for x in load_before)} "
        f"(1 / 5 / 15 min); after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg_version or 'not measured'}",
        f"- load generator: {wrk.split('[')[0].strip() or 'wrk'} with bench/replay.lua",
    ] + (
        [
            f"- CPU speed: a Python loop of 10 million additions took {speeds[0]:.2f} s before "
            f"the run and {speeds[1]:.2f} s after (lower is faster; compare runs with it)"
        ]
        if speeds
        else []
    )


def _ms(value: float | None, limit: float | None = None) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return f"> {limit:.0f} s" if limit else "not processed"
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def rate_label(rate: float) -> str:
    return "flat out" if rate <= 0 else f"{rate:g}/s"


def load_table(runs: list[Run], drain_limit: float) -> list[str]:
    """One row per target and rate."""
    lines = [
        "| target | asked | sent/s | acked/s | failed | ack p50 | ack p99 | lag p50 | lag p99 "
        "| processed/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        load = run.load
        failed = str(load.failures + load.socket_errors)
        if load.reused:
            failed += f" ({load.reused} repeats)"
        lines.append(
            f"| {run.target} | {rate_label(run.rate)} | {load.sent_per_second:.0f} | "
            f"{load.acked_per_second:.0f} | {failed} | {_ms(load.latency_ms(50))} | "
            f"{_ms(load.latency_ms(99))} | {_ms(run.lag_ms(50), drain_limit)} | "
            f"{_ms(run.lag_ms(99), drain_limit)} | "
            f"{'–' if run.processed_per_s is None else f'{run.processed_per_s:.0f}'} |"
        )
    return lines


def _find(runs: list[Run], target: str, rate: float) -> Run | None:
    return next((r for r in runs if r.target == target and r.rate == rate), None)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("PASS" if ok else "**MISS**")


def load_targets(runs: list[Run], services: list[str]) -> list[str]:
    """Throughput share, ack p99 at 1,000/s and lag p99 at 500/s, per service target."""
    bare = _find(runs, "bare", 0)
    lines = []
    for name in services:
        flat, at_ack, at_lag = (_find(runs, name, r) for r in (0, ACK_RATE, LAG_RATE))
        if bare and flat:
            share = flat.load.acked_per_second / bare.load.acked_per_second
            ok = share >= THROUGHPUT_SHARE
            lines.append(
                f"| {name} | acked/s flat out ≥ 30 % of bare | {share:.1%} "
                f"({flat.load.acked_per_second:.0f} of {bare.load.acked_per_second:.0f}/s) | "
                f"{_verdict(ok)} |"
            )
        if at_ack:
            p99 = at_ack.load.latency_ms(99)
            kept = at_ack.load.acked_per_second >= 0.95 * ACK_RATE
            note = "" if kept else f", rate not kept: {at_ack.load.acked_per_second:.0f}/s"
            lines.append(
                f"| {name} | ack p99 < 25 ms at 1,000/s | {_ms(p99)}{note} | "
                f"{_verdict(p99 < ACK_P99_MS and kept)} |"
            )
        if at_lag:
            lag = at_lag.lag_ms(99)
            ok = lag is not None and lag < LAG_P99_MS
            lines.append(
                f"| {name} | processing lag p99 < 100 ms at 500/s | {_ms(lag)} | {_verdict(ok)} |"
            )
    return lines


def clock_targets(alerts: dict[str, Lateness], sweeps: dict[str, SweepCost]) -> list[str]:
    """Alert lateness p99 < 1 s, and the sweep over 20,000 clocks costing what it does over 20."""
    lines = []
    for database, late in alerts.items():
        seen = percentile(late.seen, 99)
        complete = len(late.seen) == late.clocks > 0
        note = "" if complete else f", only {len(late.seen)} of {late.clocks} clocks breached"
        lines.append(
            f"| alerts-{database} | breach alert p99 < 1 s after the deadline | "
            f"{seen:.2f} s committed (sweep's time {percentile(late.written, 99):.2f} s; "
            f"p50 {percentile(late.seen, 50):.2f} s){note} | "
            f"{_verdict(seen < ALERT_P99_S and complete)} |"
        )
    for database, cost in sweeps.items():
        small, big = sorted(cost.tick)
        ratio = cost.ratio(small, big)
        lines.append(
            f"| sweep-{database} | one tick over {big:,} open clocks ≈ over {small} | "
            f"{cost.tick[small] * 1000:.2f} ms → {cost.tick[big] * 1000:.2f} ms (×{ratio:.2f}; "
            f"SLA sweep alone {cost.sla_sweep[small] * 1000:.2f} → "
            f"{cost.sla_sweep[big] * 1000:.2f} ms) | {_verdict(ratio <= SWEEP_RATIO)} |"
        )
    return lines


def targets_table(rows: list[str]) -> list[str]:
    return ["| target | goal | measured | verdict |", "|---|---|---|---|", *rows]


@dataclass
class Report:
    """Everything one `make bench` measured, and where."""

    runs: list[Run]
    alerts: dict[str, Lateness]
    sweeps: dict[str, SweepCost]
    facts: list[str]  # machine_facts() and the run's settings
    notes: list[str]
    drain_limit: float
    quick: bool = False

    def find(self, target: str, rate: float) -> Run | None:
        return _find(self.runs, target, rate)

    @property
    def services(self) -> list[str]:
        return list(dict.fromkeys(r.target for r in self.runs if r.target != "bare"))

    def markdown(self) -> str:
        """The whole of bench/RESULTS.md."""
        title = "# Webhook benchmark results" + (" (QUICK run: indicative only)" * self.quick)
        verdicts = load_targets(self.runs, self.services)
        verdicts += clock_targets(self.alerts, self.sweeps)
        lines = [
            title,
            "",
            "Written by `make bench` (bench/suite.py); bench/README.md says what each figure "
            "means and how the load is made.",
            "",
            *self.facts,
            *(f"- note: {note}" for note in self.notes),
            "",
            "## Targets",
            "",
            *targets_table(verdicts),
            "",
            "## Load",
            "",
            *load_table(self.runs, self.drain_limit),
            "",
        ]
        plans = [f"- {db}: `{cost.plan}`" for db, cost in self.sweeps.items() if cost.plan]
        if plans:
            lines += ["## The SLA sweep's query plan (20,000 open clocks)", "", *plans, ""]
        return "\n".join(lines)
