"""storage/fast/hot.py: statements sent to the driver directly store and return what the same
statements through SQLAlchemy would, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert
from sqlmodel import select

from storage.db import SessionFactory, make_read_sessions
from storage.fast import hot, sla
from storage.models import SlaClock, SlaEvent
from tests.conftest import START


async def test_values_are_stored_as_the_orm_reads_them(sessions: SessionFactory) -> None:
    at = START + timedelta(microseconds=1)  # SQLite keeps datetimes as text: format matters
    detail = {"deadline": at.isoformat(), "nested": [1, "hai"]}
    async with sessions() as db:
        event = {"clock_id": 7, "group_id": "g", "kind": "start", "staff_id": None}
        await hot.execute(db, sla.INSERT_EVENT, {**event, "at": at, "detail": detail})
        await db.commit()
    async with sessions() as db:
        [row] = (await db.exec(select(SlaEvent).where(SlaEvent.at == at))).all()
        assert (row.clock_id, row.kind, row.at, row.detail) == (7, "start", at, detail)


async def test_returning_rows_come_back_as_tuples(sessions: SessionFactory) -> None:
    clock = {
        "group_id": "g",
        "customer_id": "c",
        "msg_id": "m",
        "owner_id": None,
        "opened_at": START,
        "remind_at": START,
        "deadline": START,
        "escalate_at": START,
        "next_due_at": START,
    }
    async with sessions() as db:
        dialect = db.bind.dialect.name
        [(clock_id,)] = await hot.execute(db, sla.insert_clock(dialect), clock)
        assert await hot.execute(db, sla.insert_clock(dialect), clock) == []  # one open clock
        await db.commit()
    async with sessions() as db:
        stored = await db.get(SlaClock, clock_id)
        assert stored is not None and stored.deadline == START


async def test_outside_a_write_transaction_it_goes_through_the_session(
    sessions: SessionFactory,
) -> None:
    """SQLite: a read-only session holds no write lock, so a statement there could wait for
    it; it takes SQLAlchemy's path (to aiosqlite's thread) and still works."""
    readers = make_read_sessions(sessions.kw["bind"])
    async with readers() as db:
        query = select(SlaClock.id).where(SlaClock.group_id == "nobody")
        assert await hot.execute(db, query, {}) == []


def test_a_statement_with_python_side_defaults_is_refused() -> None:
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer, default=1)
    )
    with pytest.raises(ValueError, match="defaults"):
        hot._Compiled(insert(table), hot._SQLITE, ("id",))
