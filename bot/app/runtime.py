"""The running parts of one service process, built from Settings, and their lifecycle.

`create_app` (bot/app/factory.py) is the only composition root; it builds a Runtime and starts
it in a cleanup context. The Runtime holds the resources (engine, sessions, http client, inbox,
outbox, scheduler, tasks) and starts and stops them; the work the clock drives is in its parts
(bot/app/timers.py: Sweeper, JobRunner, Eraser), health and metrics in HealthCheck
(bot/app/health.py). Tests build the same thing with a FrozenClock and a respx-mocked httpx client.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.app import registry
from bot.app.health import HealthCheck
from bot.app.timers import Eraser, JobRunner, Sweeper
from bot.core import schedules
from bot.core.calendars import Calendars
from bot.core.clientip import parse_proxies
from bot.core.clock import Clock
from bot.core.dispatch import Deps
from bot.core.inbox import Inbox
from bot.core.metrics import Metrics
from bot.core.outbox import Outbox
from bot.core.render import Renderer
from bot.core.senders import LocalSender, Sender, ZaloSender
from bot.features.care.orders import import_products_file
from bot.zalo import quarantine
from bot.zalo.client import ZaloClient
from bot.zalo.errors import ZaloError
from bot.zalo.token_store import DbTokenStore
from bot.zalo.tokens import TokenManager, TokenPair
from config.settings import Settings
from storage import repo
from storage.db import SessionFactory, make_engine, make_read_sessions, make_sessions
from storage.models import (
    AppSecret,
)
from storage.staff_file import read_staff_file

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 2.0  # role all: the webhook in the same process wakes the inbox worker
WORKER_POLL_SECONDS = 0.05  # role worker: nothing wakes it; see inbox_poll_seconds

# How often the process looks for due deadlines. A sweep with nothing due is one indexed query
# per rule (a few ms) in a read-only session, so four a second cost little, never take SQLite's
# write lock (see sweep_due), and keep an alert within ~0.25 s of its deadline.
SWEEP_SECONDS = 0.25
# How often a worker looks for confirmed customer data erasures to run (features/privacy).
ERASE_POLL_SECONDS = 1.0


@dataclass
class Runtime:
    deps: Deps
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: SessionFactory
    renderer: Renderer
    http: httpx.AsyncClient
    tokens: TokenManager | None
    zalo: ZaloClient | None
    inbox: Inbox
    outbox: Outbox
    metrics: Metrics = field(default_factory=Metrics)
    scheduler: AsyncIOScheduler | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # Signs dashboard sessions when SESSION_SECRET is empty (bot/web/core.py); loaded at start.
    session_key: bytes | None = field(default=None, repr=False)
    _stopping: bool = False

    def __post_init__(self) -> None:
        """The parts, each with one job, sharing this runtime's resources."""
        wake, stopping = self.outbox.wake, lambda: self._stopping
        self.sweeper = Sweeper(self.deps, self.sessions, self.read_sessions, wake, stopping)
        self.jobs = JobRunner(self.deps, self.sessions, wake, stopping)
        self.eraser = Eraser(self.deps, self.sessions, self.read_sessions, wake, stopping)
        self.checks = HealthCheck(
            self.settings, self.sessions, self.clock, self.inbox, self.tokens, self.metrics
        )

    @functools.cached_property
    def read_sessions(self) -> SessionFactory:
        """Sessions for the dashboard's pages, which only read (see storage.db)."""
        return make_read_sessions(self.engine)

    @functools.cached_property
    def proxies(self) -> frozenset[str]:
        """TRUSTED_PROXIES as a set of addresses (see bot.core.clientip)."""
        return parse_proxies(self.settings.trusted_proxies)

    async def load(self) -> None:
        """The session key, the staff and product files, the Zalo tokens; events kept for a
        failed signature that now verify are let in."""
        await self.load_session_key()
        await self.load_staff_file()
        counts = await import_products_file(self.sessions, self.settings.products_file)
        log.info("products file %s: %s", self.settings.products_file, counts)
        if self.tokens:
            await self.tokens.load()
        await self.recheck_quarantine()
        log.info("process role: %s", self.settings.process_role)

    # Long on purpose: every worker and scheduled job of a process, read top to bottom.
    async def start_workers(self) -> None:
        """The inbox and outbox workers and the scheduler, unless PROCESS_ROLE is `webhook`: a
        webhook-only process stores events and leaves them to a worker process."""
        if not self.settings.runs_workers:
            return
        await self.outbox.take_back()
        self._spawn(self.inbox.run(inbox_poll_seconds(self.settings)), "inbox")
        self._spawn(self.outbox.run(), "outbox")
        self.scheduler = AsyncIOScheduler(timezone=self.settings.timezone)
        if self.tokens:
            self.scheduler.add_job(self._refresh_tokens, "interval", minutes=30, id="token-refresh")
        # The database owns the deadlines; this only wakes the process to look at them.
        self.scheduler.add_job(
            self.sweeper.tick_safely,
            "interval",
            seconds=SWEEP_SECONDS,
            id="deadlines",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self.eraser.run_safely,
            "interval",
            seconds=ERASE_POLL_SECONDS,
            id="erasures",
            max_instances=1,
            coalesce=True,
        )
        for job in schedules.JOBS.values():
            self.scheduler.add_job(
                self.jobs.run_safely,
                CronTrigger(**job.cron(self.settings), timezone=self.settings.tz),
                args=[job.name],
                id=f"job-{job.name}",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.start()
        self._spawn(self.jobs.catch_up(), "catch-up")

    async def stop_workers(self) -> None:
        """No new sweep or job; the workers stop after the event or delivery under way; an
        erasure stops after its current chunk."""
        self._stopping = True
        if self.scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        workers: dict[str, Inbox | Outbox] = {"inbox": self.inbox, "outbox": self.outbox}
        for task in [t for t in self.tasks if t.get_name() in workers]:
            await workers[task.get_name()].shutdown(task)
        with contextlib.suppress(TimeoutError):  # let a deadline sweep under way finish
            await asyncio.wait_for(self.sweeper.lock.acquire(), 10)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.eraser.lock.acquire(), 10)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def close_database(self) -> None:
        """The inbox's own connections, then the engine's pool."""
        await self.inbox.close()
        await self.engine.dispose()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self, rounds: int = 10) -> None:
        """Act on due deadlines, process pending events, deliver due messages (tests, shutdown)."""
        for _ in range(rounds):
            processed = await self.tick()
            processed += await self.inbox.process_pending()
            processed += await self.erase_pending()
            delivered = await self.outbox.deliver_due()
            if not processed and not delivered:
                return

    # The parts' entry points, as tests, pages and tools call them.
    async def tick(self) -> int:
        """Act on every rule deadline due now (SLA alerts, reminders); returns intents queued."""
        return await self.sweeper.tick()

    async def run_job(self, name: str) -> int:
        """Run scheduled job `name` for the current period, unless that period already ran."""
        return await self.jobs.run(name)

    async def erase_pending(self) -> int:
        """Run the confirmed customer data erasures; returns how many ended."""
        return await self.eraser.run_pending()

    async def health(self) -> dict[str, Any]:
        return await self.checks.health()

    async def render_metrics(self) -> str:
        return await self.checks.render_metrics()

    async def recheck_quarantine(self) -> quarantine.Rechecked:
        """Events kept for a failed signature that verify with the current key enter the inbox
        (at each start: a fixed key takes effect with the restart)."""
        done = await quarantine.recheck(self.sessions, self.settings, self.clock.now())
        if done.verified:
            log.warning("quarantine: %d events now verify and were let in", done.verified)
            self.inbox.wake()
        if done.still_failing:
            log.warning("quarantine: %d events still fail their signature", done.still_failing)
        return done

    async def load_session_key(self) -> None:
        """With SESSION_SECRET empty, sessions are signed with a key made once and kept in the
        database: every process signs and accepts the same cookies, and a restart signs nobody
        out. SESSION_SECRET, when set, is used instead."""
        if self.settings.session_secret:
            return
        self.session_key = await shared_secret(self.sessions, SESSION_KEY, now=self.clock.now())

    async def load_staff_file(self) -> dict[str, int]:
        rows = read_staff_file(self.settings.staff_file)
        async with self.sessions() as db:
            counts = await repo.sync_staff_file(db, rows=rows, now=self.clock.now())
            await db.commit()
        log.info("staff file %s: %s", self.settings.staff_file, counts)
        return counts

    async def _refresh_tokens(self) -> None:
        assert self.tokens is not None
        try:
            await self.tokens.refresh_if_expiring()
        except ZaloError as exc:
            log.error("token refresh failed: %s", exc)


SESSION_KEY = "dashboard_session_key"  # app_secrets.name


async def shared_secret(sessions: SessionFactory, name: str, *, now: datetime) -> bytes:
    """32 random bytes stored under `name`: the first process to ask inserts them (INSERT … ON
    CONFLICT DO NOTHING), every process gets the stored ones. The value is never logged."""
    async with sessions() as db:
        made = await repo.insert_once(
            db,
            AppSecret,
            unique=["name"],
            name=name,
            value=secrets.token_hex(32),
            created_at=now,
        )
        stored = (await db.exec(select(AppSecret.value).where(AppSecret.name == name))).one()
        await db.commit()
    log.info("secret %s: %s", name, "made and stored" if made else "read from the database")
    return bytes.fromhex(stored)


def inbox_poll_seconds(settings: Settings) -> float:
    """How often the inbox worker looks for pending events when nothing wakes it.

    In role `all` the webhook in the same process wakes it, so the 2 s poll only picks up
    other processes' events. A `worker` process is never woken by a webhook (the events arrive
    in `webhook` processes), so it polls every 50 ms: an empty poll is one query on the
    `ix_inbox_events_status` index, about 20 a second, and an event waits 25 ms on average.
    """
    return WORKER_POLL_SECONDS if settings.process_role == "worker" else IDLE_POLL_SECONDS


# Long on purpose: the whole wiring of a process in one place, read top to bottom.
def build_runtime(
    settings: Settings, *, clock: Clock, http: httpx.AsyncClient | None = None
) -> Runtime:
    """Wire every part from settings; nothing starts until create_app's cleanup contexts run
    (Runtime.load, start_workers)."""
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    renderer = Renderer(settings.tz, settings.locale)
    http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    tokens: TokenManager | None = None
    zalo: ZaloClient | None = None
    sender: Sender = LocalSender()
    if not settings.local_mode:
        initial = TokenPair(settings.zalo_access_token, settings.zalo_refresh_token, None)
        tokens = TokenManager(
            http,
            settings.zalo_oauth_base,
            settings.zalo_app_id,
            settings.zalo_app_secret,
            DbTokenStore(sessions, clock=clock),
            clock,
            initial,
        )
        zalo = ZaloClient(http, settings.zalo_api_base, tokens)
        sender = ZaloSender(zalo)
    metrics = Metrics()
    outbox = Outbox(
        sessions,
        sender,
        clock,
        renderer,
        settings.locale,
        metrics=metrics,
        read_sessions=make_read_sessions(engine),
        holder=f"{socket.gethostname()}:{settings.port}"[:100],
        settings=settings,
    )
    deps = Deps(settings, clock, renderer, Calendars(settings), rules=registry.RULES)
    inbox = Inbox(sessions, deps, on_processed=outbox.wake, metrics=metrics)
    return Runtime(
        deps=deps,
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        renderer=renderer,
        http=http,
        tokens=tokens,
        zalo=zalo,
        inbox=inbox,
        outbox=outbox,
        metrics=metrics,
    )
