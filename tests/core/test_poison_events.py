"""A poison event cannot block the pipeline (issue #15).

An event whose processing raises or runs over EVENT_TIME_BUDGET is retried MAX_ATTEMPTS
times, then set aside as failed with its error, reported once to the admins, and the events
behind it (its own group's included) go on. An event that kills the process every time it runs
is set aside after MAX_ATTEMPTS starts. An admin retries it after a fix, from the command line
or the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.core import failed_events, inbox
from bot.core.context import Context
from bot.tools import inbox as inbox_admin
from storage.models import AuditEntry, InboxEvent, Interaction
from tests.support import GROUP, Bot

OTHER_GROUP = "other-group-0001"


async def _rows(bot: Bot) -> list[InboxEvent]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(InboxEvent).order_by(col(InboxEvent.id)))).all())


async def _notes(bot: Bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Interaction.note).order_by(col(Interaction.id)))).all())


def _poisoned(bot: Bot, monkeypatch: pytest.MonkeyPatch, behaviour: Any) -> None:
    """Events whose text contains "POISON" get `behaviour` from the first rule."""
    rules = bot.runtime.inbox.deps.rules
    real = rules[0].on_event

    assert real is not None

    async def on_event(ctx: Context) -> Any:
        if "POISON" in (ctx.event.text or ""):
            await behaviour()
        return await real(ctx)

    patched = (replace(rules[0], on_event=on_event), *rules[1:])
    monkeypatch.setattr(bot.runtime.inbox, "deps", replace(bot.runtime.inbox.deps, rules=patched))


async def _raises() -> None:
    raise RuntimeError("a bug in a rule")


async def test_an_event_that_always_fails_is_set_aside_and_the_others_go_on(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    _poisoned(bot, monkeypatch, _raises)
    await bot.post(bot.message("/ghichu goi trước"), drain=False)
    await bot.post(bot.message("/ghichu goi POISON"), drain=False)
    await bot.post(bot.message("/ghichu goi sau, cùng nhóm"), drain=False)
    await bot.post(bot.message("/ghichu goi nhóm khác", group=OTHER_GROUP), drain=False)
    await bot.runtime.inbox.process_pending()

    rows = await _rows(bot)
    assert [row.status for row in rows] == ["done", "failed", "done", "done"]
    assert rows[1].attempts == inbox.MAX_ATTEMPTS
    assert "a bug in a rule" in (rows[1].error or "")
    assert await _notes(bot) == ["trước", "sau, cùng nhóm", "nhóm khác"]
    notices = [r for r in await bot.outbox() if f"#{rows[1].id}" in r.text]
    assert len(notices) == 1  # told once, 1:1 to the admin (no alert group is set)
    assert notices[0].target_kind == "user" and "python -m bot inbox retry" in notices[0].text


async def test_the_failure_notice_goes_to_the_alert_group_when_there_is_one(
    make_bot: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await make_bot(settings.replace(zalo_alert_group_id="alerts-1"))
    _poisoned(bot, monkeypatch, _raises)
    await bot.post(bot.message("/ghichu goi POISON"), drain=False)
    await bot.runtime.inbox.process_pending()
    notices = [r for r in await bot.outbox() if "python -m bot inbox retry" in r.text]
    assert [(r.target_kind, r.target_id) for r in notices] == [("group", "alerts-1")]


async def test_an_event_waiting_past_its_time_budget_is_given_up(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchdog: a step that waits (here for ever) is cancelled at the budget."""
    monkeypatch.setattr(bot.runtime.inbox, "_budget", 0.05)
    _poisoned(bot, monkeypatch, asyncio.Event().wait)
    await bot.post(bot.message("/ghichu goi POISON"), drain=False)
    await bot.post(bot.message("/ghichu goi sau"), drain=False)
    await bot.runtime.inbox.process_pending()
    rows = await _rows(bot)
    assert [row.status for row in rows] == ["failed", "done"]
    assert "EVENT_TIME_BUDGET" in (rows[0].error or "")


async def test_a_step_that_runs_past_the_budget_is_caught_between_steps(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.runtime.inbox, "_budget", 0.02)

    async def busy() -> None:
        until = time.monotonic() + 0.03
        while time.monotonic() < until:  # CPU work that never yields to the watchdog
            pass

    _poisoned(bot, monkeypatch, busy)
    await bot.post(bot.message("/ghichu goi POISON"), drain=False)
    await bot.runtime.inbox.process_pending()
    (row,) = await _rows(bot)
    assert row.status == "failed" and "EVENT_TIME_BUDGET" in (row.error or "")


async def _left_pending(bot: Bot, text: str, *, attempts: int) -> int:
    """An event stored before this process started, as a process killed mid-event leaves it."""
    async with bot.runtime.sessions() as db:
        body = bot.message(text)
        row = InboxEvent(
            dedupe_key=f"left-{text}",
            conversation=GROUP,
            event_name=body["event_name"],
            body=json.dumps(body),
            received_at=bot.clock.now() - timedelta(minutes=1),
            status="pending",
            attempts=attempts,
        )
        db.add(row)
        await db.commit()
        assert row.id is not None
        return row.id


async def test_after_a_start_an_event_that_killed_the_process_each_time_is_set_aside(
    bot: Bot,
) -> None:
    killer = await _left_pending(bot, "/ghichu goi killed it three times", attempts=3)
    fine = await _left_pending(bot, "/ghichu goi under way at the kill", attempts=0)
    await bot.runtime.inbox.process_pending()
    rows = {row.id: row for row in await _rows(bot)}
    assert rows[killer].status == "failed" and rows[killer].attempts == 3
    assert rows[fine].status == "done" and rows[fine].attempts == 1  # counted before it ran
    assert await _notes(bot) == ["under way at the kill"]


async def test_an_admin_retries_a_failed_event_after_the_fix(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    _poisoned(bot, monkeypatch, _raises)
    await bot.post(bot.message("/ghichu goi POISON sửa rồi"), drain=False)
    await bot.runtime.inbox.process_pending()
    (row,) = await _rows(bot)
    assert row.status == "failed"
    monkeypatch.undo()  # the fix

    async with bot.runtime.sessions() as db:
        assert [r.id for r in await failed_events.failed_events(db)] == [row.id]
        assert await failed_events.retry(db, inbox_id=row.id, now=bot.clock.now(), actor_id="t")
        assert not await failed_events.retry(db, inbox_id=row.id, now=bot.clock.now(), actor_id="t")
        await db.commit()
    await bot.runtime.inbox.process_pending()
    (row,) = await _rows(bot)
    assert row.status == "done"
    assert await _notes(bot) == ["POISON sửa rồi"]
    async with bot.runtime.sessions() as db:
        actions = (await db.exec(select(AuditEntry.action))).all()
    assert "inbox.failed" in actions and "inbox.retried" in actions


async def test_the_command_line_lists_and_retries(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _poisoned(bot, monkeypatch, _raises)
    await bot.post(bot.message("/ghichu goi POISON"), drain=False)
    await bot.runtime.inbox.process_pending()
    (row,) = await _rows(bot)
    monkeypatch.setenv("DATABASE_URL", bot.settings.database_url)

    assert await asyncio.to_thread(inbox_admin.main, ["list"]) == 0
    assert f"{row.id}\t" in capsys.readouterr().out
    assert await asyncio.to_thread(inbox_admin.main, ["retry", str(row.id)]) == 0
    assert "back in line" in capsys.readouterr().out
    assert await asyncio.to_thread(inbox_admin.main, ["retry", str(row.id)]) == 1
    (row,) = await _rows(bot)
    assert row.status == "pending" and row.attempts == 0


async def test_the_dashboard_shows_failed_events_to_admins_with_a_retry_button(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.web import sign_in
    from tests.support import ADMIN, HEAD

    _poisoned(bot, monkeypatch, _raises)
    await bot.post(bot.message("/ghichu goi POISON"), drain=False)
    await bot.runtime.inbox.process_pending()
    (row,) = await _rows(bot)
    monkeypatch.undo()

    sign_in(bot, HEAD)
    assert 'id="failed-events"' not in await (await bot.client.get("/dashboard")).text()
    sign_in(bot, ADMIN)
    html = await (await bot.client.get("/dashboard")).text()
    assert f'data-inbox="{row.id}"' in html and "a bug in a rule" in html
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None
    path = f"/dashboard/events/{row.id}/retry"
    refused = await bot.client.post(path, data={"csrf": "forged"}, allow_redirects=False)
    assert refused.status == 403
    answer = await bot.client.post(path, data={"csrf": token[1]}, allow_redirects=False)
    assert answer.status == 303
    await bot.runtime.inbox.process_pending()
    (row,) = await _rows(bot)
    assert row.status == "done"
