"""PROCESS_ROLE: `webhook` processes store events, `worker` processes process them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlmodel import select

from bot.app.runtime import WORKER_POLL_SECONDS, inbox_poll_seconds
from config.settings import Settings, SettingsError, load_settings
from storage.models import InboxEvent
from tests.conftest import ON_POSTGRESQL
from tests.support import Bot

MakeBot = Callable[..., Awaitable[Bot]]


async def _statuses(bot: Bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        return [row.status for row in (await db.exec(select(InboxEvent))).all()]


async def _webhook_bot(make_bot: MakeBot, settings: Settings) -> Bot:
    """A webhook-role app asked to start its workers, as `python webhook.py` does."""
    return await make_bot(settings.replace(process_role="webhook"), workers=True)


async def test_a_webhook_process_stores_events_and_processes_none(
    make_bot: MakeBot, settings: Settings
) -> None:
    front = await _webhook_bot(make_bot, settings)
    assert front.runtime.tasks == set() and front.runtime.scheduler is None
    response = await front.post(front.message("/whoami"), drain=False)
    assert response.status == 200 and (await response.json())["ok"]
    await asyncio.sleep(0.2)  # a worker, if one had started, would have woken at once
    assert await _statuses(front) == ["pending"]
    assert await front.outbox() == []


async def test_a_worker_process_processes_what_a_webhook_process_stored(
    make_bot: MakeBot, settings: Settings
) -> None:
    front = await _webhook_bot(make_bot, settings)
    for text in ("/whoami", "/help"):
        assert (await front.post(front.message(text), drain=False)).status == 200
    back = await make_bot(settings.replace(process_role="worker"), workers=True)
    assert {task.get_name() for task in back.runtime.tasks} >= {"inbox", "outbox"}
    assert back.runtime.scheduler is not None and back.runtime.scheduler.running
    for _ in range(500):  # bounded: up to ~5 s, usually a few polls
        if await _statuses(back) == ["done", "done"] and _all_sent(await back.outbox()):
            break
        await asyncio.sleep(0.01)
    assert await _statuses(front) == ["done", "done"]
    # /whoami's answer and /help's list (which may take two messages), every one sent
    assert _all_sent(await back.outbox())


async def test_healthz_reports_the_role(make_bot: MakeBot, settings: Settings) -> None:
    for role in ("all", "webhook", "worker"):
        bot = await make_bot(settings.replace(process_role=role))
        body = await (await bot.client.get("/healthz")).json()
        assert body["role"] == role and body["database"] == "ok"


def test_the_role_defaults_to_all_and_a_worker_polls_often() -> None:
    assert load_settings({}).process_role == "all"
    assert load_settings({"PROCESS_ROLE": " Worker "}).process_role == "worker"
    assert inbox_poll_seconds(load_settings({"PROCESS_ROLE": "worker"})) == WORKER_POLL_SECONDS
    assert inbox_poll_seconds(load_settings({})) > WORKER_POLL_SECONDS


@pytest.mark.parametrize("value", ["both", "web", "workers"])
def test_a_bad_role_names_the_setting_in_one_line(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"PROCESS_ROLE": value})
    message = str(raised.value)
    assert message.startswith("Setting PROCESS_ROLE:") and "\n" not in message
    assert "all, webhook or worker" in message


@pytest.mark.skipif(not ON_POSTGRESQL, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_on_postgresql_a_worker_is_woken_by_the_store_not_by_its_poll(
    make_bot: MakeBot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.app.runtime.WORKER_POLL_SECONDS", 3600.0)  # a poll would come too late
    back = await make_bot(settings.replace(process_role="worker"), workers=True)
    front = await _webhook_bot(make_bot, settings)
    await asyncio.sleep(0.5)  # the worker's first pass is over; it now sleeps until woken
    assert (await front.post(front.message("/whoami"), drain=False)).status == 200
    for _ in range(500):  # bounded: up to ~5 s, usually a few ms
        if await _statuses(back) == ["done"]:
            break
        await asyncio.sleep(0.01)
    assert await _statuses(back) == ["done"]


def _all_sent(rows: list[Any]) -> bool:
    return len(rows) >= 2 and all(row.status == "sent" for row in rows)
