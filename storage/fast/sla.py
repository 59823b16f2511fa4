"""The SLA clock's hand-written statements (bot/features/sla/rule.py runs them): opening a clock
with its start event and closing it with its stop event, each one statement on PostgreSQL."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, insert, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from storage.models import SlaClock, SlaEvent
from storage.types import UTCDateTime


@functools.cache
def insert_clock(dialect_name: str) -> Any:
    """INSERT a clock unless the group has an open one (the partial unique index
    ux_sla_clocks_open_group), RETURNING its id: one statement instead of a SELECT and an
    INSERT, and two processes cannot both open one."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = SlaClock.__table__  # type: ignore[attr-defined]
    open_only = table.c.closed_at.is_(None)
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["group_id"], index_where=open_only)
        .returning(table.c.id)
    )


INSERT_EVENT = insert(SlaEvent.__table__)  # type: ignore[attr-defined]


CLOCK_COLUMNS = (
    "group_id",
    "customer_id",
    "msg_id",
    "owner_id",
    "opened_at",
    "remind_at",
    "deadline",
    "escalate_at",
    "next_due_at",
)


@functools.cache
def open_clock_pg() -> Any:
    """PostgreSQL: insert_clock and the clock's "start" SlaEvent in one statement (a
    data-modifying CTE); neither is written when the group's clock is open already."""
    clocks, events = SlaClock.__table__, SlaEvent.__table__  # type: ignore[attr-defined]
    opened = (
        insert_clock("postgresql")  # a CTE's INSERT names its values; it RETURNs the id too
        .values({key: bindparam(key, type_=clocks.c[key].type) for key in CLOCK_COLUMNS})
        .returning(clocks.c.group_id, clocks.c.owner_id)
        .cte("opened")
    )
    row = {
        "clock_id": opened.c.id,
        "group_id": opened.c.group_id,
        "kind": literal("start", events.c.kind.type),
        "staff_id": opened.c.owner_id,
        "at": bindparam("at", type_=events.c.at.type),
        "detail": bindparam("detail", type_=events.c.detail.type),
    }
    # RETURNING: an empty result says the group's clock was running already
    return (
        postgresql.insert(events)
        .from_select(list(row), select(*row.values()))
        .returning(events.c.id)
    )


CLOSE_CLOCK = (
    update(SlaClock.__table__)  # type: ignore[attr-defined]
    .where(SlaClock.__table__.c.id == bindparam("clock_id"))  # type: ignore[attr-defined]
    .values(
        closed_at=bindparam("closed_at", type_=UTCDateTime()),
        closed_by=bindparam("closed_by"),
        response_seconds=bindparam("response_seconds"),
        next_due_at=None,
    )
)


@functools.cache
def close_clock_pg() -> Any:
    """PostgreSQL: CLOSE_CLOCK and the clock's "stop" SlaEvent in one statement."""
    events = SlaEvent.__table__  # type: ignore[attr-defined]
    clocks = SlaClock.__table__  # type: ignore[attr-defined]
    closed = CLOSE_CLOCK.returning(clocks.c.id, clocks.c.group_id, clocks.c.closed_at).cte("closed")
    row = {
        "clock_id": closed.c.id,
        "group_id": closed.c.group_id,
        "kind": literal("stop", events.c.kind.type),
        "staff_id": bindparam("closed_by"),
        "at": closed.c.closed_at,
        "detail": bindparam("detail", type_=events.c.detail.type),
    }
    return postgresql.insert(events).from_select(list(row), select(*row.values()))
