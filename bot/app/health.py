"""How the process is: /healthz (database, backlogs, the webhook's signatures, the token) and
/metrics (process counters plus gauges read from the database). Never a token, secret, id or
message text."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, text
from sqlmodel import col, select

from bot.core.clock import Clock
from bot.core.inbox import Inbox
from bot.core.metrics import Metrics
from bot.zalo import quarantine
from bot.zalo.tokens import TokenManager
from config.settings import Settings
from storage.db import SessionFactory
from storage.models import CommandRun, InboxEvent, OutboxMessage, SlaClock

log = logging.getLogger("bot.app.runtime")  # the name these lines always had

HEALTH_SECONDS = 2.0  # /healthz waits this long for the database's answer


@dataclass
class HealthCheck:
    settings: Settings
    sessions: SessionFactory
    clock: Clock
    inbox: Inbox
    tokens: TokenManager | None
    metrics: Metrics
    probe: asyncio.Task[dict[str, Any]] | None = None  # the health check's round trips

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
        if self.probe is None or self.probe.done():
            self.probe = asyncio.create_task(self.database_report(), name="health-probe")
        try:
            async with asyncio.timeout(HEALTH_SECONDS):
                report |= await asyncio.shield(self.probe)
        except TimeoutError:
            report["database"] = "error: no answer within 2 s"
        except Exception as exc:  # reported, not raised: this is the health check
            report["database"] = f"error: {type(exc).__name__}"
        if report["database"] == "ok" and not self.inbox.storing:
            report["database"] = "degraded"
        report["webhook_store"] = "ok" if self.inbox.storing else "failing"
        report["zalo"] = self.tokens.state() if self.tokens else {"token": "local mode"}
        return report

    async def database_report(self) -> dict[str, Any]:
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
                gauges, commands = await self._database_gauges(db)
            gauges.append(("zalo_bot_database_up", "1 when the database answered.", 1))
        except Exception:  # reported as a value: this is the monitoring endpoint
            log.exception("metrics: database query failed")
            gauges.append(("zalo_bot_database_up", "1 when the database answered.", 0))
        gauges.append(
            (
                "zalo_bot_zalo_token_expires_in_seconds",
                "Seconds until the Zalo access token expires (absent when unknown).",
                self.token_seconds_left(),
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

    async def _database_gauges(
        self, db: Any
    ) -> tuple[list[tuple[str, str, float | None]], dict[str, float]]:
        """The gauges read from the database, and the commands run by outcome."""
        gauges: list[tuple[str, str, float | None]] = []
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
        by_outcome = select(CommandRun.outcome, func.count()).group_by(col(CommandRun.outcome))
        commands = {str(k): float(v) for k, v in (await db.exec(by_outcome)).all()}
        return gauges, commands

    def token_seconds_left(self) -> float | None:
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


async def _scalar(db: Any, query: Any) -> int:
    return int((await db.exec(query)).one())


async def _count(db: Any, model: Any, column: Any, value: str) -> int:
    result = await db.exec(select(func.count()).select_from(model).where(col(column) == value))
    return int(result.one())
