"""The inbox's group commit: events stored together share one INSERT and one commit, each caller
learns whether its event is new only once the row is committed, and one bad row refuses only
its own event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlmodel import select

from bot.core.group_commit import GroupCommit, StoreError
from storage.db import SessionFactory
from storage.models import InboxEvent
from tests.conftest import START


def _row(key: str, **changes: Any) -> dict[str, Any]:
    values = {
        "dedupe_key": key,
        "event_name": "user_send_group_text",
        "body": "{}",
        "received_at": START,
        "status": "pending",
        "attempts": 0,
    }
    return values | changes


async def _keys(sessions: SessionFactory) -> set[str]:
    async with sessions() as db:
        return set((await db.exec(select(InboxEvent.dedupe_key))).all())


@pytest.fixture
async def make_writer(
    sessions: SessionFactory,
) -> AsyncIterator[Callable[[list[int]], GroupCommit]]:
    """GroupCommit(sessions) that counts its batches in the list given; closed at the end."""
    made: list[GroupCommit] = []

    def make(batches: list[int]) -> GroupCommit:
        made.append(GroupCommit(sessions, lambda: batches.append(1), contextlib.nullcontext()))
        return made[-1]

    yield make
    for writer in made:
        await writer.close()


async def test_events_stored_together_share_one_commit_and_each_is_committed_on_return(
    sessions: SessionFactory,
    make_writer: Callable[[list[int]], GroupCommit],
) -> None:
    batches: list[int] = []
    writer = make_writer(batches)

    async def store_and_look(key: str) -> tuple[bool, bool]:
        new = await writer.store(_row(key))
        return new, key in await _keys(sessions)

    answers = await asyncio.gather(*(store_and_look(f"msg:{i}") for i in range(100)))
    assert answers == [(True, True)] * 100
    assert len(batches) <= 2


async def test_a_key_seen_before_or_twice_in_one_batch_is_new_only_once(
    sessions: SessionFactory,
    make_writer: Callable[[list[int]], GroupCommit],
) -> None:
    writer = make_writer([])
    assert await writer.store(_row("msg:old")) is True
    answers = await asyncio.gather(
        *(writer.store(_row(key)) for key in ["msg:old", "msg:a", "msg:a", "msg:b"])
    )
    assert answers == [False, True, False, True]
    assert await _keys(sessions) == {"msg:old", "msg:a", "msg:b"}


async def test_one_bad_row_refuses_only_its_own_event(
    sessions: SessionFactory, make_writer: Callable[[list[int]], GroupCommit]
) -> None:
    writer = make_writer([])
    rows = [_row("msg:1"), _row("msg:bad", event_name=None), _row("msg:2")]
    answers = await asyncio.gather(*(writer.store(row) for row in rows), return_exceptions=True)
    assert answers[0] is True and answers[2] is True
    assert isinstance(answers[1], StoreError)
    assert await _keys(sessions) == {"msg:1", "msg:2"}


async def test_a_database_that_cannot_be_reached_refuses_the_whole_batch_at_once(
    sessions: SessionFactory,
    make_writer: Callable[[list[int]], GroupCommit],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.exc import OperationalError

    writer = make_writer([])
    calls: list[int] = []

    async def unreachable(rows: list[dict[str, Any]]) -> set[str]:
        calls.append(len(rows))
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(writer, "_insert", unreachable)
    answers = await asyncio.gather(
        *(writer.store(_row(f"msg:{i}")) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(answer, StoreError) for answer in answers)
    assert calls == [5]  # no row-by-row retry against a database that is down
