"""Dashboard: staff figures. Heads and admins see every sales; everybody else only themselves.

The table covers the last 30 days; a person's page charts the last 7, 30 or 90 (?days=).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.web import charts, series
from bot.web.core import Viewer, forbidden, page, render, runtime_of
from bot.web.display import labeler, not_found
from bot.web.queries import group_names, plain_id, staff_by_id
from bot.web.queries_staff import (
    clocks_of,
    feedback_of,
    ratings_of,
    staff_rows,
    violations_of,
)
from bot.web.words import words
from storage import repo

TABLE_DAYS = 30
CHART_DAYS = (7, 30, 90)
LISTED_ROLES = ("sales", "sales_head")


def window(now: datetime, tz: ZoneInfo, days: int) -> tuple[date, datetime, datetime]:
    """The last `days` local days up to today: (first day, UTC start, UTC end)."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return first, start, end


@page()
async def staff_list(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """SLA compliance, median first response, breaches, violations and satisfaction."""
    runtime = runtime_of(request)
    tz = runtime.settings.tz
    first, start, end = window(runtime.clock.now(), tz, TABLE_DAYS)
    async with runtime.read_sessions() as db:
        staff = await staff_by_id(db)
        if viewer.is_head:
            people = [s for s in await repo.list_staff(db) if s.role in LISTED_ROLES]
        else:
            people = [staff[viewer.user_id]]
        rows = await staff_rows(db, people, start, end, tz)
    return render(
        request, "staff_list.html", title=words("staff_staff"), rows=rows, days=TABLE_DAYS
    )


@page()
async def staff_detail(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """One person's charts, breaches and violations, and satisfaction."""
    runtime = runtime_of(request)
    staff_id = request.match_info["zalo_id"]
    if not viewer.is_head and staff_id != viewer.user_id:
        return forbidden(request)
    raw = request.query.get("days", "")
    days = next((n for n in CHART_DAYS if str(n) == raw), TABLE_DAYS)
    tz = runtime.settings.tz
    first, start, end = window(runtime.clock.now(), tz, days)
    async with runtime.read_sessions() as db:
        person = await repo.get_staff(db, user_id=staff_id) if plain_id(staff_id) else None
        if person is None:
            return not_found(request)
        clocks = await clocks_of(db, staff_id, start, end)
        violations = await violations_of(db, staff_id, start, end)
        ratings = await ratings_of(db, staff_id, start, end)
        feedback = await feedback_of(db, staff_id)
        groups = await group_names(db, {v.group_id for v in violations if v.group_id})
    return render(
        request,
        "staff_detail.html",
        title=(person.name, person.name),
        person=person,
        days=days,
        choices=CHART_DAYS,
        compliance=series.compliance_by_day(clocks, first, days, tz),
        response=series.median_response_by_day(clocks, first, days, tz),
        breaches=series.breaches_by_week(clocks, first, days, tz),
        clocks=clocks,
        violations=violations,
        ratings=ratings,
        feedback=feedback,
        groups=groups,
        line_chart=charts.line_chart,
        bar_chart=charts.bar_chart,
        label=labeler(request),
    )


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    app.router.add_get("/dashboard/staff", staff_list)
    app.router.add_get("/dashboard/staff/{zalo_id}", staff_detail)
