"""Dashboard: the overview, what needs attention now in the groups the viewer sees."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import failed_events as inbox_admin
from bot.web.core import Viewer, check_csrf, page, render, runtime_of
from bot.web.display import labeler, namer
from bot.web.queries import staff_by_id
from bot.web.queries_care import care_due
from bot.web.queries_overview import (
    breaches_between,
    open_clocks,
    open_incidents,
    overdue_clocks,
    payments_waiting,
)
from bot.web.words import words
from bot.zalo import quarantine
from storage.models import UndeliveredMessage


@page()
async def overview(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Cards and the most urgent open clocks, breaches, payments, incidents and care."""
    runtime = runtime_of(request)
    tz, now = runtime.settings.tz, runtime.clock.now()
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    async with runtime.read_sessions() as db:
        lists: dict[str, Any] = {
            "clocks": await open_clocks(db, viewer),
            "overdue": await overdue_clocks(db, viewer, now),
            "breaches": await breaches_between(db, viewer, start, end),
            "payments": await payments_waiting(db, viewer),
            "incidents": await open_incidents(db, viewer),
            "care": await care_due(db, viewer, today, runtime.settings.care_mode),
            "who": namer(await staff_by_id(db)),
            # events set aside as failed (bot/core/inbox.py): admins see them and can retry each
            "failed": await inbox_admin.failed_events(db) if viewer.is_admin else [],
            # events kept for a failed signature (bot/zalo/quarantine.py): admins can recheck them
            "held": await quarantine.status(db, now) if viewer.is_admin else None,
            # 1:1 messages Zalo refused for good, for that person and the heads, until opened
            "undelivered": await undelivered_for(db, viewer),
        }
    return render(
        request,
        "overview.html",
        title=words("overview_overview"),
        label=labeler(request),
        today=today,
        **lists,
    )


@page(roles=frozenset({"admin"}))
async def retry_event(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """An admin puts a failed event back in line (after the fix), then sees the overview."""
    check_csrf(request, await request.post())
    runtime = runtime_of(request)
    raw = request.match_info["inbox_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    async with runtime.sessions() as db:
        done = await inbox_admin.retry(
            db, inbox_id=int(raw), now=runtime.clock.now(), actor_id=viewer.user_id
        )
        await db.commit()
    if done:
        runtime.inbox.wake()
    return web.Response(status=303, headers={"Location": "/dashboard#failed-events"})


async def undelivered_for(db: AsyncSession, viewer: Viewer) -> list[UndeliveredMessage]:
    """Unopened undelivered 1:1 messages: the viewer's own, and everyone's for heads."""
    query = select(UndeliveredMessage).where(col(UndeliveredMessage.opened_at).is_(None))
    if not viewer.is_head:
        query = query.where(UndeliveredMessage.staff_id == viewer.user_id)
    rows = await db.exec(query.order_by(col(UndeliveredMessage.id).desc()).limit(50))
    return list(rows.all())


@page()
async def open_undelivered(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The person (or a head) has read an undelivered message: it leaves the overview."""
    check_csrf(request, await request.post())
    runtime = runtime_of(request)
    raw = request.match_info["message_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    async with runtime.sessions() as db:
        row = await db.get(UndeliveredMessage, int(raw))
        if row is None or not (viewer.is_head or row.staff_id == viewer.user_id):
            raise web.HTTPNotFound()
        if row.opened_at is None:
            row.opened_at, row.opened_by = runtime.clock.now(), viewer.user_id
            db.add(row)
            await db.commit()
    return web.Response(status=303, headers={"Location": "/dashboard#undelivered"})


@page(roles=frozenset({"admin"}))
async def recheck_quarantine(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """An admin has the kept events checked again with the current key (after fixing it)."""
    check_csrf(request, await request.post())
    await runtime_of(request).recheck_quarantine()
    return web.Response(status=303, headers={"Location": "/dashboard#quarantine"})


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    app.router.add_get("/dashboard", overview)
    app.router.add_post("/dashboard/quarantine/recheck", recheck_quarantine)
    app.router.add_post("/dashboard/undelivered/{message_id}/open", open_undelivered)
    app.router.add_post("/dashboard/events/{inbox_id}/retry", retry_event)
