"""Jobs that run at set times of day (care reminders, report digests).

A job is registered with `@job(name, cron=...)`; `cron` is a function of the settings giving
APScheduler cron fields (so the times are settings). When it fires, the runtime claims a
ScheduledRun row for the job's period (by default the local date): only one process runs a
period, and a restart never runs it twice. A job that should have run while the service was
down runs at start (`catch_up`). Jobs return intents like rules do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings

if TYPE_CHECKING:
    from bot.core.dispatch import Deps
    from bot.core.intents import Intent

Run = Callable[[AsyncSession, datetime, "Deps"], Awaitable[list["Intent"]]]
Cron = Callable[[Settings], dict[str, Any]]
Period = Callable[[datetime, ZoneInfo], str]


def daily(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).date().isoformat()


@dataclass(frozen=True)
class Job:
    name: str
    cron: Cron
    run: Run
    period: Period = daily

    def fires_at(self, settings: Settings) -> time | None:
        """The local time of day the job fires (for catch-up at start), if it is daily."""
        fields = self.cron(settings)
        if set(fields) - {"hour", "minute", "day_of_week"}:
            return None
        return time(int(fields.get("hour", 0)), int(fields.get("minute", 0)))


JOBS: dict[str, Job] = {}


def job(name: str, *, cron: Cron, period: Period = daily) -> Callable[[Run], Run]:
    """Register the decorated coroutine as a scheduled job."""

    def register(run: Run) -> Run:
        if name in JOBS:
            raise ValueError(f"job {name} registered twice")
        JOBS[name] = Job(name, cron, run, period)
        return run

    return register


def at_time(setting: str) -> Cron:
    """Cron fields for every day at the HH:MM held in `setting`."""

    def fields(settings: Settings) -> dict[str, Any]:
        hour, minute = str(getattr(settings, setting)).split(":")
        return {"hour": int(hour), "minute": int(minute)}

    return fields
