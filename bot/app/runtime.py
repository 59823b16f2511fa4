"""The running parts of one service process, built from Settings, and their lifecycle.

`create_app` (webhook.py) is the only composition root; it builds a Runtime and starts it in
a cleanup context. Tests build the same thing with a FrozenClock and a respx-mocked httpx client.
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
from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.app import registry
from bot.core import schedules
from bot.core.calendars import Calendars
from bot.core.clientip import parse_proxies
from bot.core.clock import Clock
from bot.core.dispatch import Deps
from bot.core.inbox import Inbox
from bot.core.metrics import Metrics
from bot.core.outbox import LocalSender, Outbox, Sender, ZaloSender, enqueue
from bot.core.render import Renderer
from bot.core.rules import sweep_all
from bot.features.care.orders import import_products_file
from bot.features.privacy import erasure as privacy
from bot.zalo import quarantine
from bot.zalo.client import ZaloClient, ZaloError
from bot.zalo.token_store import DbTokenStore
from bot.zalo.tokens import TokenManager, TokenPair
from config.settings import Settings
from storage import repo
from storage.db import SessionFactory, make_engine, make_read_sessions, make_sessions
from storage.models import (
    AppSecret,
    CommandRun,
    InboxEvent,
    OutboxMessage,
    ScheduledRun,
    SlaClock,
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
HEALTH_SECONDS = 2.0  # /healthz waits this long for the database's answer


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
    _tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _probe: asyncio.Task[dict[str, Any]] | None = None  # the health check's round trips
    _erase_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Signs dashboard sessions when SESSION_SECRET is empty (bot/web/core.py); loaded at start.
    session_key: bytes | None = field(default=None, repr=False)
    _stopping: bool = False

    @functools.cached_property
    def read_sessions(self) -> SessionFactory:
        """Sessions for the dashboard's pages, which only read (see storage.db)."""
        return make_read_sessions(self.engine)

    @functools.cached_property
    def proxies(self) -> frozenset[str]:
        """TRUSTED_PROXIES as a set of addresses (see bot.core.clientip)."""
        return parse_proxies(self.settings.trusted_proxies)

    async def start(self, *, workers: bool = True) -> None:
        """Load the staff file and tokens, then start the workers and the scheduler.

        They start only when `workers` is True (tests turn them off) and PROCESS_ROLE is not
        `webhook`: a webhook-only process stores events and leaves them to a worker process.
        """
        await self.load_session_key()
        await self.load_staff_file()
        counts = await import_products_file(self.sessions, self.settings.products_file)
        log.info("products file %s: %s", self.settings.products_file, counts)
        if self.tokens:
            await self.tokens.load()
        await self.recheck_quarantine()
        log.info("process role: %s", self.settings.process_role)
        if workers and self.settings.runs_workers:
            await self.outbox.take_back()
            self._spawn(self.inbox.run(inbox_poll_seconds(self.settings)), "inbox")
            self._spawn(self.outbox.run(), "outbox")
            self.scheduler = AsyncIOScheduler(timezone=self.settings.timezone)
            if self.tokens:
                self.scheduler.add_job(
                    self._refresh_tokens, "interval", minutes=30, id="token-refresh"
                )
            # The database owns the deadlines; this only wakes the process to look at them.
            self.scheduler.add_job(
                self._tick_safely,
                "interval",
                seconds=SWEEP_SECONDS,
                id="deadlines",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
            self.scheduler.add_job(
                self._erase_safely,
                "interval",
                seconds=ERASE_POLL_SECONDS,
                id="erasures",
                max_instances=1,
                coalesce=True,
            )
            for job in schedules.JOBS.values():
                self.scheduler.add_job(
                    self._run_job_safely,
                    CronTrigger(**job.cron(self.settings), timezone=self.settings.tz),
                    args=[job.name],
                    id=f"job-{job.name}",
                    max_instances=1,
                    coalesce=True,
                )
            self.scheduler.start()
            self._spawn(self.catch_up(), "catch-up")

    async def stop(self) -> None:
        self._stopping = True  # no new sweep or job; an erasure stops after its current chunk
        if self.scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        workers: dict[str, Inbox | Outbox] = {"inbox": self.inbox, "outbox": self.outbox}
        for task in [t for t in self.tasks if t.get_name() in workers]:
            await workers[task.get_name()].shutdown(task)
        with contextlib.suppress(TimeoutError):  # let a deadline sweep under way finish
            await asyncio.wait_for(self._tick_lock.acquire(), 10)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._erase_lock.acquire(), 10)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.http.aclose()
        await self.inbox.close()
        await self.engine.dispose()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tick(self) -> int:
        """Act on every rule deadline due now (SLA alerts, reminders); returns intents queued.

        The sweep opens a writing transaction (on SQLite: BEGIN IMMEDIATE, the one write lock
        the webhook's inserts want) only when a read-only probe finds something due.
        """
        now = self.clock.now()
        async with self._tick_lock:
            if not await self.sweep_due(now):
                return 0
            async with self.sessions() as db:
                intents = await sweep_all(self.deps.rules, db, now, self.deps)
                await enqueue(
                    db, intents, renderer=self.renderer, locale=self.settings.locale, now=now
                )
                await db.commit()
        if intents:
            self.outbox.wake()
        return len(intents)

    async def sweep_due(self, now: datetime) -> bool:
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

    async def erase_pending(self) -> int:
        """Run the confirmed customer data erasures (features/privacy); returns how many ended.

        Each is many short transactions, so the webhook's inserts get through between them;
        one cut short (a crash, a shutdown) resumes here from where it was.
        """
        async with self._erase_lock:
            async with self.read_sessions() as db:  # nothing to do: no write lock taken
                pending = await privacy.unfinished_erasures(db)
            finished = 0
            for erasure_id in pending:
                if self._stopping:
                    break
                finished += await privacy.run_erasure(
                    self.sessions,
                    erasure_id,
                    clock=self.clock,
                    renderer=self.renderer,
                    locale=self.settings.locale,
                    keep_going=lambda: not self._stopping,
                )
        if finished:
            self.outbox.wake()
        return finished

    async def _erase_safely(self) -> None:
        try:
            await self.erase_pending()
        except Exception:
            log.exception("customer data erasure failed; it resumes on the next run")

    async def run_job(self, name: str) -> int:
        """Run scheduled job `name` for the current period, unless that period already ran."""
        job = schedules.JOBS[name]
        now = self.clock.now()
        period = job.period(now, self.settings.tz)
        async with self.sessions() as db:
            if not await _claim_run(db, job.name, period, now):
                return 0
            intents = await job.run(db, now, self.deps)
            await enqueue(db, intents, renderer=self.renderer, locale=self.settings.locale, now=now)
            await db.commit()
        log.info("job %s for %s: %d messages", name, period, len(intents))
        self.outbox.wake()
        return len(intents)

    async def catch_up(self) -> None:
        """At start, run today's daily jobs whose time has passed (the service was down)."""
        local = self.clock.now().astimezone(self.settings.tz)
        for job in schedules.JOBS.values():
            fires = job.fires_at(self.settings)
            if fires is not None and local.time() >= fires:
                await self._run_job_safely(job.name)

    async def _run_job_safely(self, name: str) -> None:
        if self._stopping:
            return
        try:
            await self.run_job(name)
        except asyncio.CancelledError:  # a stop: the job's claim is found again at the next start
            log.debug("scheduled job %s stopped with the service", name)
        except Exception:
            log.exception("scheduled job %s failed", name)

    async def _tick_safely(self) -> None:
        """The scheduler's sweep. A stop cancels one waiting for the sweep lock (stop holds
        it): that is no error (the deadlines are rows, found again at the next start)."""
        if self._stopping:
            return
        try:
            await self.tick()
        except asyncio.CancelledError:
            log.debug("deadline sweep stopped with the service")
        except Exception:
            log.exception("deadline sweep failed")

    async def drain(self, rounds: int = 10) -> None:
        """Act on due deadlines, process pending events, deliver due messages (tests, shutdown)."""
        for _ in range(rounds):
            processed = await self.tick()
            processed += await self.inbox.process_pending()
            processed += await self.erase_pending()
            delivered = await self.outbox.deliver_due()
            if not processed and not delivered:
                return

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

    async def health(self) -> dict[str, Any]:
        """Database reachability, backlog sizes and the Zalo token state (never the token).

        `database`: "ok"; "degraded" when the webhook cannot store events (its connection is
        failing or hangs) though the database answers; "error: …" when it does not answer
        within HEALTH_SECONDS. The round trips run in a probe of their own that /healthz
        waits for at most HEALTH_SECONDS: a hung connection never hangs the health check.
        """
        report: dict[str, Any] = {
            "mode": "local" if self.settings.local_mode else "live",
            "role": self.settings.process_role,
        }
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._database_report(), name="health-probe")
        try:
            async with asyncio.timeout(HEALTH_SECONDS):
                report |= await asyncio.shield(self._probe)
        except TimeoutError:
            report["database"] = "error: no answer within 2 s"
        except Exception as exc:  # reported, not raised: this is the health check
            report["database"] = f"error: {type(exc).__name__}"
        if report["database"] == "ok" and not self.inbox.storing:
            report["database"] = "degraded"
        report["webhook_store"] = "ok" if self.inbox.storing else "failing"
        report["zalo"] = self.tokens.state() if self.tokens else {"token": "local mode"}
        return report

    async def _database_report(self) -> dict[str, Any]:
        report: dict[str, Any] = {}
        try:
            async with self.sessions() as db:
                await db.exec(text("SELECT 1"))  # type: ignore[call-overload]
                last = await quarantine.last_valid_event_at(db)
                report["webhook"] = {
                    "last_valid_event_at": last.isoformat() if last else None,
                    **await quarantine.status(db, self.clock.now()),
                }
                report["inbox_pending"] = await _count(db, InboxEvent, InboxEvent.status, "pending")
                report["outbox_pending"] = sum(  # "sending": claimed, maybe stuck after a crash
                    [
                        await _count(db, OutboxMessage, OutboxMessage.status, state)
                        for state in ("pending", "sending")
                    ]
                )
                report["outbox_failed"] = await _count(
                    db, OutboxMessage, OutboxMessage.status, "failed"
                )
            report["database"] = "ok"
        except Exception as exc:  # reported, not raised: this is the health check
            report["database"] = f"error: {type(exc).__name__}"
        return report

    async def render_metrics(self) -> str:
        """`GET /metrics`: process counters plus gauges read from the database now.

        Only counts and the token's expiry time: never a token, secret, id or message text.
        """
        gauges: list[tuple[str, str, float | None]] = []
        commands: dict[str, float] = {}
        try:
            async with self.sessions() as db:
                clocks = select(func.count()).select_from(SlaClock)
                open_clocks = clocks.where(col(SlaClock.closed_at).is_(None))
                breached = open_clocks.where(col(SlaClock.breached_at).is_not(None))
                backlog = select(func.count()).select_from(OutboxMessage)
                backlog = backlog.where(col(OutboxMessage.status).in_(("pending", "sending")))
                gauges += [
                    (
                        "zalo_bot_sla_clocks_open",
                        "SLA clocks open now.",
                        await _scalar(db, open_clocks),
                    ),
                    (
                        "zalo_bot_sla_clocks_breached",
                        "SLA clocks open now and already past their deadline.",
                        await _scalar(db, breached),
                    ),
                    (
                        "zalo_bot_outbox_backlog",
                        "Outbox messages pending or being sent.",
                        await _scalar(db, backlog),
                    ),
                    (
                        "zalo_bot_outbox_failed",
                        "Outbox messages that failed for good.",
                        await _count(db, OutboxMessage, OutboxMessage.status, "failed"),
                    ),
                    (
                        "zalo_bot_inbox_pending",
                        "Webhook events stored and not processed yet.",
                        await _count(db, InboxEvent, InboxEvent.status, "pending"),
                    ),
                ]
                held = await quarantine.status(db, self.clock.now())
                last = await quarantine.last_valid_event_at(db)
                gauges += [
                    (
                        "zalo_bot_webhook_quarantined",
                        "Events kept because their signature failed.",
                        held["quarantined"],
                    ),
                    (
                        "zalo_bot_webhook_rejected_signature_24h",
                        "Events whose signature failed in the last 24 hours.",
                        held["rejected_signature_24h"],
                    ),
                    (
                        "zalo_bot_webhook_last_valid_event_timestamp_seconds",
                        "When the newest correctly signed event arrived (Unix time).",
                        last.timestamp() if last else None,
                    ),
                    (
                        "zalo_bot_webhook_signature_hint",
                        "1 when failed signatures match a known setting mistake (see /healthz).",
                        1 if held["signature_hint"] else 0,
                    ),
                ]
                by_outcome = select(CommandRun.outcome, func.count()).group_by(
                    col(CommandRun.outcome)
                )
                commands = {str(k): float(v) for k, v in (await db.exec(by_outcome)).all()}
            gauges.append(("zalo_bot_database_up", "1 when the database answered.", 1))
        except Exception:  # reported as a value: this is the monitoring endpoint
            log.exception("metrics: database query failed")
            gauges.append(("zalo_bot_database_up", "1 when the database answered.", 0))
        gauges.append(
            (
                "zalo_bot_zalo_token_expires_in_seconds",
                "Seconds until the Zalo access token expires (absent when unknown).",
                self._token_seconds_left(),
            )
        )
        extra = [
            (
                "zalo_bot_commands_total",
                "Slash-commands run, by outcome (all processes: read from command_runs).",
                "outcome",
                commands,
            )
        ]
        return self.metrics.render(gauges, extra)

    def _token_seconds_left(self) -> float | None:
        if not self.tokens:
            return None
        expires_at = self.tokens.state().get("expires_at")
        if not expires_at:
            return None
        try:
            moment = datetime.fromisoformat(str(expires_at))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return round((moment - self.clock.now()).total_seconds())


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


async def _scalar(db: Any, query: Any) -> int:
    return int((await db.exec(query)).one())


async def _count(db: Any, model: Any, column: Any, value: str) -> int:
    result = await db.exec(select(func.count()).select_from(model).where(col(column) == value))
    return int(result.one())


def build_runtime(
    settings: Settings, *, clock: Clock, http: httpx.AsyncClient | None = None
) -> Runtime:
    """Wire every part from settings; nothing starts until Runtime.start()."""
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


async def _claim_run(db: Any, job: str, period: str, now: datetime) -> bool:
    """Insert the (job, period) row; False when another process or an earlier run has it."""
    return await repo.insert_once(
        db, ScheduledRun, unique=["job", "period"], job=job, period=period, claimed_at=now
    )
