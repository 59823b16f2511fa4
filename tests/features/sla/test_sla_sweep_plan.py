"""The deadline sweep runs every second over every open clock: the database must find the due
ones through ix_sla_clocks_due, not by reading each open clock (bench/suite.py times it)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bot.features.sla.sweep import due_clocks
from storage.db import SessionFactory
from storage.models import SlaClock
from tests.conftest import START
from tests.support import insert_analyzed

OPEN_CLOCKS = 5000  # enough that PostgreSQL's planner prefers the index to a full scan


async def _open_clocks_not_due(sessions: SessionFactory) -> None:
    later = START + timedelta(days=1)
    rows = [
        {
            "group_id": f"g{i}",
            "customer_id": f"c{i}",
            "msg_id": f"m{i}",
            "opened_at": START,
            "remind_at": later,
            "deadline": later,
            "escalate_at": later,
            "next_due_at": later,
        }
        for i in range(OPEN_CLOCKS)
    ]
    await insert_analyzed(sessions, SlaClock, rows)


async def test_the_sweep_finds_due_clocks_through_the_next_due_index(
    sessions: SessionFactory,
) -> None:
    await _open_clocks_not_due(sessions)
    async with sessions() as db:
        connection = await db.connection()
        sqlite = connection.dialect.name == "sqlite"
        query = due_clocks(START).compile(connection, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        rows = await connection.execute(text(explain + str(query)))
        plan = " ".join(str(row[-1]) for row in rows)
    assert "ix_sla_clocks_due" in plan
    assert "SCAN sla_clocks" not in plan and "Seq Scan" not in plan


async def test_a_sweep_over_clocks_none_of_which_is_due_returns_none(
    sessions: SessionFactory,
) -> None:
    await _open_clocks_not_due(sessions)
    async with sessions() as db:
        assert (await db.exec(due_clocks(START))).all() == []
