"""The SLA side: how late breach alerts are, and what one deadline sweep costs.

Alert lateness: the real service with SLA_FIRST_RESPONSE=10s around the clock; customer
questions in N groups, their timestamps spread evenly over a window, open N clocks whose
deadlines fall anywhere against the deadline sweep (every 0.25 s). For each clock:
`breached_at` (the sweep's time, the time written on the breach's sla_event and outbox row)
minus its deadline, and the moment the bench first saw the breach committed (polled every
50 ms, from before the first question) minus its deadline.

Sweep cost: one `Runtime.tick()` (every rule's sweep, as the scheduler runs it every 0.25 s)
and the SLA sweep alone, over 20 and over 20,000 open clocks none of which is due.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loadgen import run_wrk
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine
from targets import Target, serve
from traffic import customer_of

from bot.app.runtime import build_runtime
from bot.core.clock import SystemClock
from bot.features.sla import sweep as sla
from bot.zalo.payloads import group_message, signed
from config.settings import LOCAL_APP_ID, LOCAL_OA_SECRET_KEY, load_settings
from storage.db import sync_url, upgrade
from storage.models import SlaClock

# Around the clock, no public holidays: every deadline falls 10 s after its question.
ALERT_SETTINGS = {
    "SLA_FIRST_RESPONSE": "10s",
    "WORKING_HOURS": "mon-sun 00:00-24:00",
    "HOLIDAYS": "none",
}
SLA_SECONDS = 10.0
POLL_SECONDS = 0.05


@dataclass
class Lateness:
    """Per clock, seconds from its deadline to the breach: as written, and as seen committed."""

    written: list[float] = field(default_factory=list)
    seen: list[float] = field(default_factory=list)
    clocks: int = 0


def _alert_events(path: Path, count: int, start: datetime, spread: float) -> None:
    """One customer question per group, timestamps spread evenly from `start` over `spread` s."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            at = start + timedelta(seconds=spread * i / count)
            body = group_message(
                group_id=f"alert-{i:05d}",
                sender_id=customer_of(i),
                text=f"Shop ơi, đơn {i} của mình sao chưa thấy giao ạ?",
                at=at,
                app_id=LOCAL_APP_ID,
                msg_id=f"alert{start.timestamp():.0f}{i:06d}",
            )
            raw, headers = signed(body, app_id=LOCAL_APP_ID, secret=LOCAL_OA_SECRET_KEY)
            out.write(headers["X-ZEvent-Signature"] + "\t" + raw.decode("utf-8") + "\n")


def _watch_breaches(engine: Engine, until: float) -> dict[int, tuple[datetime, datetime, float]]:
    """Poll sla_clocks until `until` (monotonic): id -> (deadline, breached_at, first seen)."""
    seen: dict[int, tuple[datetime, datetime, float]] = {}
    query = select(SlaClock.id, SlaClock.deadline, SlaClock.breached_at).where(
        SlaClock.breached_at.is_not(None)  # type: ignore[union-attr]
    )
    while time.monotonic() < until:
        now = time.time()
        with engine.connect() as conn:
            for clock_id, deadline, breached_at in conn.execute(query):
                seen.setdefault(clock_id, (deadline, breached_at, now))
        time.sleep(POLL_SECONDS)
    return seen


def alert_lateness(database: str, tmp: Path, clocks: int, spread: float) -> Lateness:
    """Open `clocks` clocks over `spread` seconds on a fresh service; measure every breach."""
    target = Target(f"alerts-{database}", database, 1)
    with serve(target, tmp, extra=ALERT_SETTINGS) as (urls, database_url):
        assert database_url is not None
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        events = tmp / "alert-events.txt"
        _alert_events(events, clocks, start, spread)
        engine = create_engine(sync_url(database_url))
        left = (start - datetime.now(UTC)).total_seconds() + spread + SLA_SECONDS + 3
        # Watched from before the first question: the first deadlines (start + SLA_SECONDS)
        # pass while wrk is still sending the last questions (until start + spread + 0.5 s).
        with ThreadPoolExecutor(max_workers=1) as pool:
            watching = pool.submit(_watch_breaches, engine, time.monotonic() + left)
            try:
                time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
                run_wrk(urls, [events], rate=clocks / spread, seconds=spread + 0.5, connections=32)
                seen = watching.result()
                opened = _count(engine, "SELECT count(*) FROM sla_clocks")
            finally:
                engine.dispose()
    result = Lateness(clocks=opened)
    for deadline, breached_at, first_seen in seen.values():
        result.written.append((breached_at - deadline).total_seconds())
        result.seen.append(first_seen - deadline.timestamp())
    return result


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


@dataclass
class SweepCost:
    """Median seconds of one tick and of the SLA sweep alone, per number of open clocks."""

    tick: dict[int, float] = field(default_factory=dict)
    sla_sweep: dict[int, float] = field(default_factory=dict)
    plan: str = ""

    def ratio(self, small: int, big: int) -> float:
        return self.tick[big] / self.tick[small]


def _add_clocks(engine: Engine, first: int, count: int, now: datetime) -> None:
    """Open clocks, one per group, whose first step (the reminder) is a day away."""
    later = now + timedelta(days=1)
    rows = [
        {
            "group_id": f"sweep-{i:06d}",
            "customer_id": customer_of(i),
            "msg_id": f"sweep{i:06d}",
            "opened_at": now,
            "remind_at": later,
            "deadline": later + timedelta(hours=1),
            "escalate_at": later + timedelta(hours=2),
            "next_due_at": later,
        }
        for i in range(first, first + count)
    ]
    with engine.begin() as conn:
        conn.execute(insert(SlaClock), rows)
        conn.execute(text("ANALYZE"))


def _plan(engine: Engine, now: datetime) -> str:
    """The database's plan for the SLA sweep's query (it should use ix_sla_clocks_due)."""
    with engine.connect() as conn:
        compiled = sla.due_clocks(now).compile(conn, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        rows = conn.execute(text(explain + str(compiled))).all()
    return " | ".join(str(row[-1]) for row in rows)


async def _time_sweeps(database_url: str, repeats: int) -> tuple[float, float]:
    settings = load_settings({"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})
    runtime = build_runtime(settings, clock=SystemClock())
    try:
        await runtime.tick()  # warm: connections, compiled statements
        ticks, sweeps = [], []
        for _ in range(repeats):
            began = time.perf_counter()
            await runtime.tick()
            ticks.append(time.perf_counter() - began)
            async with runtime.sessions() as db:
                began = time.perf_counter()
                await sla.sweep(db, runtime.clock.now(), runtime.deps)
                sweeps.append(time.perf_counter() - began)
                await db.rollback()
        return statistics.median(ticks), statistics.median(sweeps)
    finally:
        await runtime.http.aclose()
        await runtime.engine.dispose()


def sweep_cost(database_url: str, sizes: tuple[int, int], repeats: int) -> SweepCost:
    """Time the sweep over sizes[0] open clocks, then over sizes[1] (none due)."""
    upgrade(database_url)
    engine = create_engine(sync_url(database_url))
    cost = SweepCost()
    now = datetime.now(UTC)
    try:
        have = 0
        for size in sizes:
            _add_clocks(engine, have, size - have, now)
            have = size
            cost.tick[size], cost.sla_sweep[size] = asyncio.run(_time_sweeps(database_url, repeats))
        cost.plan = _plan(engine, now)
    finally:
        engine.dispose()
    return cost
