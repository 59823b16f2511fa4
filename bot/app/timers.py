"""What the clock drives in a worker process, each part with one job: the deadline sweep (the
rules' deadlines), the scheduled jobs (once per period) and the customer data erasures.

The database owns the timers: APScheduler only wakes these parts, each looks at the rows, and
what was due while the service was down is found again at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import schedules
from bot.core.dispatch import Deps
from bot.core.enqueue import enqueue
from bot.core.rules import sweep_all
from bot.features.privacy import erasure as privacy
from storage import repo
from storage.db import SessionFactory
from storage.models import ScheduledRun

log = logging.getLogger("bot.app.runtime")  # the name these lines always had

Stopping = Callable[[], bool]


async def guarded(stopping: Stopping, what: str, work: Callable[[], Awaitable[object]]) -> None:
    """How the scheduler runs a part's work: not once the service is stopping; a stop that
    cancels it is no error (the database owns the timers: the work is found again at the next
    start); any other failure is logged and the next run tries again."""
    if stopping():
        return
    try:
        await work()
    except asyncio.CancelledError:
        log.debug("%s stopped with the service", what)
    except Exception:
        log.exception("%s failed", what)


@dataclass
class Sweeper:
    """Acts on every rule deadline due now (SLA alerts, reminders)."""

    deps: Deps
    sessions: SessionFactory
    read_sessions: SessionFactory
    wake_outbox: Callable[[], None]
    stopping: Stopping
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def tick(self) -> int:
        """Act on every rule deadline due now; returns the intents queued.

        The sweep opens a writing transaction (on SQLite: BEGIN IMMEDIATE, the one write lock
        the webhook's inserts want) only when a read-only probe finds something due.
        """
        now = self.deps.clock.now()
        async with self.lock:
            if not await self.due(now):
                return 0
            async with self.sessions() as db:
                intents = await sweep_all(self.deps.rules, db, now, self.deps)
                locale = self.deps.settings.locale
                await enqueue(db, intents, renderer=self.deps.renderer, locale=locale, now=now)
                await db.commit()
        if intents:
            self.wake_outbox()
        return len(intents)

    async def due(self, now: datetime) -> bool:
        """Whether any rule's sweep has something to do at `now`, read without the write lock.

        Each rule answers through its own `due(db, now, deps)`, beside its sweep and on the
        same conditions; a rule with a sweep and no `due` is always swept (safe, only slower).
        """
        async with self.read_sessions() as db:
            for rule in self.deps.rules:
                if rule.sweep is None:
                    continue
                if rule.due is None or await rule.due(db, now, self.deps):
                    return True
        return False

    async def tick_safely(self) -> None:
        """The scheduler's sweep (a stop cancels one waiting for the sweep lock it holds)."""
        await guarded(self.stopping, "deadline sweep", self.tick)


@dataclass
class JobRunner:
    """Runs the scheduled jobs (bot/core/schedules.py), each once per period across processes."""

    deps: Deps
    sessions: SessionFactory
    wake_outbox: Callable[[], None]
    stopping: Stopping

    async def run(self, name: str) -> int:
        """Run scheduled job `name` for the current period, unless that period already ran."""
        job = schedules.JOBS[name]
        settings = self.deps.settings
        now = self.deps.clock.now()
        period = job.period(now, settings.tz)
        async with self.sessions() as db:
            if not await claim_run(db, job.name, period, now):
                return 0
            intents = await job.run(db, now, self.deps)
            locale = settings.locale
            await enqueue(db, intents, renderer=self.deps.renderer, locale=locale, now=now)
            await db.commit()
        log.info("job %s for %s: %d messages", name, period, len(intents))
        self.wake_outbox()
        return len(intents)

    async def catch_up(self) -> None:
        """At start, run today's daily jobs whose time has passed (the service was down)."""
        settings = self.deps.settings
        local = self.deps.clock.now().astimezone(settings.tz)
        for job in schedules.JOBS.values():
            fires = job.fires_at(settings)
            if fires is not None and local.time() >= fires:
                await self.run_safely(job.name)

    async def run_safely(self, name: str) -> None:
        """The scheduler's run of job `name` (a stopped one's claim is found at the next start)."""
        await guarded(self.stopping, f"scheduled job {name}", lambda: self.run(name))


async def claim_run(db: AsyncSession, job: str, period: str, now: datetime) -> bool:
    """Insert the (job, period) row; False when another process or an earlier run has it."""
    return await repo.insert_once(
        db, ScheduledRun, unique=["job", "period"], job=job, period=period, claimed_at=now
    )


@dataclass
class Eraser:
    """Runs the confirmed customer data erasures (features/privacy) in short transactions."""

    deps: Deps
    sessions: SessionFactory
    read_sessions: SessionFactory
    wake_outbox: Callable[[], None]
    stopping: Stopping
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run_pending(self) -> int:
        """Run the confirmed erasures; returns how many ended.

        Each is many short transactions, so the webhook's inserts get through between them;
        one cut short (a crash, a shutdown) resumes here from where it was.
        """
        async with self.lock:
            async with self.read_sessions() as db:  # nothing to do: no write lock taken
                pending = await privacy.unfinished_erasures(db)
            finished = 0
            for erasure_id in pending:
                if self.stopping():
                    break
                finished += await privacy.run_erasure(
                    self.sessions,
                    erasure_id,
                    clock=self.deps.clock,
                    renderer=self.deps.renderer,
                    locale=self.deps.settings.locale,
                    keep_going=lambda: not self.stopping(),
                )
        if finished:
            self.wake_outbox()
        return finished

    async def run_safely(self) -> None:
        """The scheduler's run (a stopped erasure resumes from its step at the next start)."""
        await guarded(self.stopping, "customer data erasure", self.run_pending)
