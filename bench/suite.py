"""`make bench`: the webhook under rising load, on SQLite and PostgreSQL, against a bare baseline.

For each target (the bare aiohttp app; the service with 1 and 2 processes on SQLite and on
PostgreSQL, and on PostgreSQL a webhook-role process next to a worker-role one) and each rate,
a fresh process and a fresh database: warm-up, then wrk replays pre-signed events at the rate
for --seconds, then the inbox gets --drain seconds to empty.
Then the SLA alert lateness and the deadline sweep cost. Prints the Markdown and writes
bench/RESULTS.md and README's table (--quick: a smoke run of about 1.5 minutes, written to the
temporary directory instead).
Every option has an environment twin (BENCH_RATES, BENCH_SECONDS, …; BENCH_QUICK=1).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import clocks
import readme
import results
from loadgen import Load, connections_for, run_wrk
from sqlalchemy import create_engine, func, select
from targets import ALL_TARGETS, ROOT, Target, fresh_database, postgres_available, serve
from targets import wait_drained as drained_within
from traffic import GROUPS, write_events

from storage.db import sync_url
from storage.models import InboxEvent

FULL = {
    "rates": "250,500,1000,2000,max",
    "seconds": "6",
    "drain": "6",
    "alert_clocks": "300",
    "alert_spread": "10",
    "sweep_repeats": "20",
}
QUICK = {
    "targets": "bare,sqlite-1,pg-1",
    "rates": "1000,max",
    "seconds": "2",
    "drain": "2",
    "alert_clocks": "30",
    "alert_spread": "1",
    "sweep_repeats": "5",
}
FLAT_CONNECTIONS = 32
FLAT_EVENTS_PER_SECOND = 9000  # events written for a flat-out run; more are sent as repeats
WARM_UP_RATE = 250.0  # events/s of the warm-up: one message in each of the GROUPS groups


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags, defaulting to BENCH_* environment variables, then to the full (or quick) run."""
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    quick = quick or "--quick" in (argv if argv is not None else sys.argv[1:])
    base = QUICK if quick else FULL

    def default(name: str) -> str:
        return os.environ.get(f"BENCH_{name.upper()}", base.get(name, ""))

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--targets", default=default("targets") or ",".join(ALL_TARGETS))
    parser.add_argument("--rates", default=default("rates"), help="events/s, 'max' = flat out")
    parser.add_argument("--seconds", type=float, default=float(default("seconds")))
    parser.add_argument("--drain", type=float, default=float(default("drain")))
    parser.add_argument("--alert-clocks", type=int, default=int(default("alert_clocks")))
    parser.add_argument("--alert-spread", type=float, default=float(default("alert_spread")))
    parser.add_argument("--sweep-repeats", type=int, default=int(default("sweep_repeats")))
    parser.add_argument("--no-clocks", action="store_true", help="skip alerts and sweep cost")
    parser.add_argument("--out", default=default("out"), help="where the Markdown goes")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    args.quick = quick
    args.rate_list = [0.0 if r.strip() == "max" else float(r) for r in args.rates.split(",")]
    unknown = set(args.targets.split(",")) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {', '.join(ALL_TARGETS)}")
    return args


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def inbox_rows(database_url: str, after_id: int = 0) -> list[tuple[datetime, datetime | None]]:
    """(received_at, processed_at) of every inbox row after `after_id`."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            query = select(InboxEvent.received_at, InboxEvent.processed_at)
            return [tuple(row) for row in conn.execute(query.where(InboxEvent.id > after_id))]
    finally:
        engine.dispose()


def last_inbox_id(database_url: str) -> int:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.max(InboxEvent.id))).scalar() or 0)
    finally:
        engine.dispose()


def event_files(
    tmp: Path, stem: str, count: int, processes: int, *, first: int = 0, run: str | None = None
) -> list[Path]:
    paths = [tmp / f"{stem}-{n}.txt" for n in range(processes)]
    write_events(paths, count, first=first, run=run)
    return paths


def measure(target: Target, rate: float, args: argparse.Namespace, tmp: Path) -> results.Run:
    """One target at one rate, on a fresh process (or two) and a fresh database."""
    per_second = rate or FLAT_EVENTS_PER_SECOND
    count = int(per_second * args.seconds * 1.1) + 100
    with serve(target, tmp) as (urls, database_url):
        # The warm-up opens every group with its first message, as in a company whose groups
        # exist already; the load is then ordinary traffic in those groups.
        run_id = uuid.uuid4().hex[:8]
        warm = event_files(tmp, "warm", GROUPS, len(urls), run=run_id)
        run_wrk(urls, warm, rate=WARM_UP_RATE, seconds=GROUPS / WARM_UP_RATE, connections=32)
        after = 0
        if database_url:
            drained_within(urls[0], 30, outbox=True)  # its replies sent too: a quiet start
            after = last_inbox_id(database_url)
        files = event_files(tmp, "load", count, len(urls), first=GROUPS, run=run_id)
        connections = connections_for(rate, FLAT_CONNECTIONS)
        load = run_wrk(
            urls,
            files,
            rate=rate,
            seconds=args.seconds,
            connections=connections,
            wrap=target.is_bare,
        )
        run = results.Run(target.name, rate, load)
        if database_url:
            run.drained_s = drained_within(urls[0], args.drain)
            rows = inbox_rows(database_url, after)
            run.stored = len(rows)
            run.lags_ms = [
                (done - got).total_seconds() * 1000 if done else float("inf") for got, done in rows
            ]
            run.processed_per_s = processing_rate(rows)
    return run


def processing_rate(rows: list[tuple[datetime, datetime | None]]) -> float | None:
    """Events processed per second, from the first arrival to the last one processed."""
    finished = [done for _, done in rows if done]
    if not finished:
        return None
    seconds = (max(finished) - min(got for got, _ in rows)).total_seconds()
    return len(finished) / seconds if seconds > 0 else None


def summary_line(run: results.Run) -> str:
    load: Load = run.load
    return (
        f"{run.target} {results.rate_label(run.rate)}: sent {load.sent_per_second:.0f}/s, "
        f"acked {load.acked_per_second:.0f}/s, p99 {load.latency_ms(99):.1f} ms, "
        f"lag p99 {run.lag_ms(99) or 0:.0f} ms"
    )


def run_clocks(args: argparse.Namespace, databases: list[str], tmp: Path) -> tuple[dict, dict]:
    alerts, sweeps = {}, {}
    for database in databases:
        say(f"alert lateness on {database}: {args.alert_clocks} clocks, SLA 10 s")
        alerts[database] = clocks.alert_lateness(
            database, tmp, args.alert_clocks, args.alert_spread
        )
        say(f"sweep cost on {database}: 20 then 20,000 open clocks")
        with fresh_database(database, tmp) as url:
            sweeps[database] = clocks.sweep_cost(url, (20, 20_000), args.sweep_repeats)
    return alerts, sweeps


def pg_version() -> str | None:
    import psycopg
    from targets import PG_ADMIN_URL

    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else None


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the Markdown, write RESULTS.md (and README's table)."""
    args = parse_args(argv)
    load_before = os.getloadavg()
    speed_before = results.cpu_speed()
    started = time.monotonic()
    targets = [ALL_TARGETS[name] for name in args.targets.split(",")]
    notes: list[str] = []
    pg_problem = postgres_available()
    if pg_problem and any(t.database == "postgresql" for t in targets):
        notes.append(f"PostgreSQL skipped: no server at the bench's URL ({pg_problem}).")
        targets = [t for t in targets if t.database != "postgresql"]
    databases = sorted({t.database for t in targets if t.database}, reverse=True)
    runs: list[results.Run] = []
    with tempfile.TemporaryDirectory(prefix="zalo-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for target in targets:
            for rate in args.rate_list:
                say(f"{target.name} at {results.rate_label(rate)} …")
                runs.append(measure(target, rate, args, tmp))
                say(summary_line(runs[-1]))
        alerts, sweeps = ({}, {}) if args.no_clocks else run_clocks(args, databases, tmp)
    version = pg_version() if "postgresql" in databases else None
    facts = results.machine_facts(load_before, version, (speed_before, results.cpu_speed()))
    facts.append(
        f"- run: rates {args.rates} events/s, {args.seconds:g} s each on a fresh process and "
        f"database, inbox drain up to {args.drain:g} s; {time.monotonic() - started:.0f} s in all"
    )
    report = results.Report(runs, alerts, sweeps, facts, notes, args.drain, args.quick)
    return publish(report, args)


BY_HAND = "## Measurements behind the design"


def kept_by_hand(out: Path) -> str:
    """The section of the results file written by hand (the figures behind design choices the
    code's comments refer to), kept when a run rewrites the rest."""
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    return "\n" + old[old.index(BY_HAND) :] if BY_HAND in old else ""


def publish(report: results.Report, args: argparse.Namespace) -> int:
    """Print the results, write them to --out; a full run also refreshes README's table."""
    text = report.markdown()
    print(text)
    default = Path(tempfile.gettempdir()) / "zalo-bench-RESULTS-quick.md"
    out = Path(args.out) if args.out else (default if args.quick else ROOT / "bench/RESULTS.md")
    out.write_text(text + kept_by_hand(out), encoding="utf-8")
    say(f"written to {out}")
    if not args.quick and not args.no_readme:
        if readme.update(ROOT / "README.md", report):
            say("README.md: the table in ## Speed refreshed")
        else:
            say(f"README.md: markers not found ({readme.START}), table not written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
