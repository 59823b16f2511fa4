"""Scheduled management digests: the report_digest of the day, week and month to the heads.

Policy:
* digest_daily: at REPORT_TIME on working days of the company calendar (a day with any working
  period); period key the local date.
* digest_weekly: Saturday at REPORT_TIME, covering the ISO week (Monday-Sunday); period key
  like 2026-W48. digest_monthly: the last day of the month at REPORT_TIME; key like 2026-11.
  Both fire from their cron only: the runtime's start-up catch-up is for daily jobs, and a
  weekly digest caught up on a Monday would claim the week before its Saturday.
* To the heads (sales_head and admin): into ZALO_ALERT_GROUP_ID when set, else 1:1 to each.
  Never into a customer's group. The runtime claims each period, so one digest per period.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import alert_heads, ids_with_role
from bot.core.intents import Intent
from bot.core.schedules import at_time, job
from bot.features.care.rule import is_working_day
from bot.features.reports import queries as reports

if TYPE_CHECKING:
    from bot.core.dispatch import Deps
    from config.settings import Settings

HEAD_ROLES = ("sales_head", "admin")


def iso_week(now: datetime, tz: ZoneInfo) -> str:
    year, week, _ = now.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def month(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).strftime("%Y-%m")


def _cron(**fixed: Any) -> Any:
    daily = at_time("report_time")

    def fields(settings: Settings) -> dict[str, Any]:
        # second=0 keeps weekly and monthly jobs out of the start-up catch-up (see above)
        return {**daily(settings), "second": 0, **fixed}

    return fields


async def _digest(db: AsyncSession, kind: str, now: datetime, deps: Deps) -> list[Intent]:
    heads = list(dict.fromkeys(await ids_with_role(db, *HEAD_ROLES)))
    if not heads and not deps.settings.zalo_alert_group_id:
        return []
    context = await reports.digest_context(db, kind, now, deps.settings.tz)
    return alert_heads(deps.settings, heads, "report_digest", context)


@job("digest_daily", cron=at_time("report_time"))
async def digest_daily(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Today's digest, on working days."""
    today = now.astimezone(deps.settings.tz).date()
    if not is_working_day(deps.calendars.for_group(None), today):
        return []
    return await _digest(db, "day", now, deps)


@job("digest_weekly", cron=_cron(day_of_week="sat"), period=iso_week)
async def digest_weekly(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """This ISO week's digest (Saturday)."""
    return await _digest(db, "week", now, deps)


@job("digest_monthly", cron=_cron(day="last"), period=month)
async def digest_monthly(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """This month's digest (its last day)."""
    return await _digest(db, "month", now, deps)
