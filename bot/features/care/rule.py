"""Care reminders: every working day at CARE_REMINDER_TIME, each carer gets their lists 1:1.

Policy:
* Only on working days of the company calendar (WORKING_HOURS + public holidays): a day with
  any working period counts, so Saturday morning does and Sunday or 24 Nov (VN) do not. Orders
  that fall due on a day off show up as overdue on the next working day.
* Each staff member with orders due (care_due) gets ONE message: due today and overdue, never
  cared vs cared before, grouped by product group and region. Who cares follows CARE_MODE
  (bot.features.care.policy).
* Gift plans (care_gift), one message per staff member: customers' birthdays and founding
  anniversaries `GIFT_DAYS_AHEAD` days ahead go to the customer's carer; a public holiday run
  (Tết, 2/9 ...) that starts `GIFT_DAYS_AHEAD` days ahead goes to every carer, listing their own
  customers. So a reminder never falls on a day off, a working day also covers the targets of
  the days off that follow it (a Saturday covers Saturday's and Sunday's): it comes early, not late.
* Nothing is ever sent into a customer's group. The runtime claims the day, so one run per day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import holidays as holidays_lib
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.intents import Intent, SendUser
from bot.core.schedules import at_time, job
from bot.core.worktime import Calendar
from bot.features.care import policy as care

if TYPE_CHECKING:
    from bot.core.dispatch import Deps
    from config.settings import Settings

HOLIDAY_LANGUAGE = {"vi": "vi", "en": "en_US"}
LOOKAHEAD_DAYS = 14


def is_working_day(calendar: Calendar, day: date) -> bool:
    """Whether `day` has any working time in the calendar."""
    start = datetime.combine(day, time(0), tzinfo=calendar.tz)
    return calendar.next_opening(start).astimezone(calendar.tz).date() == day


def days_covered(calendar: Calendar, day: date) -> int:
    """`day` and the days off right after it: the span of gift targets a run covers."""
    span = 1
    while span < LOOKAHEAD_DAYS and not is_working_day(calendar, day + timedelta(days=span)):
        span += 1
    return span


def public_holidays(settings: Settings) -> Any:
    """The company's public holidays, named in the bot's language (empty when 'none')."""
    country = settings.holidays.strip().upper()
    if country == "NONE":
        return {}
    language = HOLIDAY_LANGUAGE.get(settings.locale, "en_US")
    try:
        return holidays_lib.country_holidays(country, language=language)
    except NotImplementedError:
        return holidays_lib.country_holidays(country)


def gift_messages(
    plans: list[care.GiftPlan], customers: list[care.CustomerCarers], today: date, days_ahead: int
) -> list[Intent]:
    """One care_gift message per staff member with a gift plan."""
    carers = {c.customer_id: c.carers for c in customers}
    per_staff: dict[str, list[dict[str, Any]]] = {}
    for plan in plans:
        if plan.customer_id is not None:
            for staff in carers.get(plan.customer_id, ()):
                per_staff.setdefault(staff, []).append(_plan(plan, []))
            continue
        mine: dict[str, list[str]] = {}
        for customer in customers:
            for staff in customer.carers:
                mine.setdefault(staff, []).append(customer.name)
        for staff, names in mine.items():
            per_staff.setdefault(staff, []).append(_plan(plan, names))
    return [
        SendUser(staff, "care_gift", {"today": today, "days_ahead": days_ahead, "plans": rows})
        for staff, rows in sorted(per_staff.items())
    ]


def _plan(plan: care.GiftPlan, customers: list[str]) -> dict[str, Any]:
    return {
        "kind": plan.kind,
        "on": plan.on,
        "name": plan.name,
        "years": plan.years,
        "until": plan.until,
        "customers": customers,
    }


@job("care_reminders", cron=at_time("care_reminder_time"))
async def care_reminders(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """The daily care and gift reminders, 1:1 to each carer."""
    settings = deps.settings
    calendar = deps.calendars.for_group(None)
    today = now.astimezone(settings.tz).date()
    if not is_working_day(calendar, today):
        return []
    mode = settings.care_mode
    due = await care.due_by_staff(db, today, mode)
    intents: list[Intent] = [
        SendUser(staff, "care_due", due_list.context()) for staff, due_list in sorted(due.items())
    ]
    plans = await care.gifts_due(
        db,
        today,
        settings.gift_days_ahead,
        public_holidays(settings),
        span=days_covered(calendar, today),
    )
    if plans:
        customers = await care.carers_of_customers(db, mode)
        intents += gift_messages(plans, customers, today, settings.gift_days_ahead)
    return intents
