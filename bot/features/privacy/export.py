"""Per-customer data export: one JSON document of everything the bot holds about a group and its
customer, streamed page by page from short sessions (the policy: the package's docstring)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import repo
from storage.db import SessionFactory
from storage.models import (
    AuditEntry,
    CareLog,
    CommandRun,
    Group,
    Incident,
    Interaction,
    Message,
    Order,
    OrderItem,
    OutboxMessage,
    Payment,
    Rating,
    SlaClock,
    Staff,
)

PAGE = 500


def export_path(group_id: str) -> str:
    """Where the dashboard serves a group's export."""
    return f"/dashboard/exports/{group_id}.json"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _row(row: SQLModel) -> dict[str, Any]:
    return row.model_dump(mode="json")


def about_customer(model: Any, group_id: str, customer_id: int | None) -> ColumnElement[bool]:
    """Rows of `model` in the group, or about its customer."""
    where = [model.group_id == group_id]
    if customer_id is not None:
        where.append(model.customer_id == customer_id)
    return or_(*where)


def _sections(group_id: str, customer_id: int | None) -> list[tuple[str, Any, list[Any]]]:
    """(name, model, conditions) of every paged part of the document, in order."""
    return [
        ("messages", Message, [Message.group_id == group_id]),
        ("bot_outbox", OutboxMessage, [OutboxMessage.target_id == group_id]),
        ("commands", CommandRun, [CommandRun.group_id == group_id]),
        ("interactions", Interaction, [about_customer(Interaction, group_id, customer_id)]),
        ("orders", Order, [about_customer(Order, group_id, customer_id)]),
        ("payments", Payment, [Payment.group_id == group_id]),
        ("incidents", Incident, [Incident.group_id == group_id]),
        ("care_logs", CareLog, [about_customer(CareLog, group_id, customer_id)]),
        ("ratings", Rating, [Rating.group_id == group_id]),
        ("sla_clocks", SlaClock, [SlaClock.group_id == group_id]),
        ("audit", AuditEntry, [AuditEntry.group_id == group_id]),
    ]


async def _pages(
    sessions: SessionFactory, model: Any, where: list[Any]
) -> AsyncIterator[list[Any]]:
    """Rows of `model` by id, one short session per page."""
    last = 0
    while True:
        async with sessions() as db:
            query = select(model).where(*where, model.id > last).order_by(model.id).limit(PAGE)
            rows = list((await db.exec(query)).all())
        if not rows:
            return
        yield rows
        last = rows[-1].id


async def _with_items(sessions: SessionFactory, orders: list[Order]) -> list[dict[str, Any]]:
    async with sessions() as db:
        query = select(OrderItem).where(col(OrderItem.order_id).in_([o.id for o in orders]))
        items = list((await db.exec(query.order_by(col(OrderItem.id)))).all())
    return [{**_row(o), "items": [_row(i) for i in items if i.order_id == o.id]} for o in orders]


async def _head(db: AsyncSession, group: Group, now: datetime, by: str) -> dict[str, Any]:
    customer = await repo.get_customer(db, customer_id=group.customer_id)
    staff = {s.zalo_user_id: s for s in (await db.exec(select(Staff))).all()}
    members = await repo.group_members(db, group_id=group.group_id)
    return {
        "export": {"group_id": group.group_id, "generated_at": now.isoformat(), "by": by},
        "customer": _row(customer) if customer else None,
        "group": _row(group),
        "members": [
            {
                **_row(m),
                "role": staff[m.user_id].role if m.user_id in staff else "customer",
                "name": staff[m.user_id].name if m.user_id in staff else None,
            }
            for m in members
        ],
    }


async def export_document(
    sessions: SessionFactory, group: Group, *, now: datetime, by: str
) -> AsyncIterator[str]:
    """The group's export as JSON text, in chunks of at most one page of rows."""
    async with sessions() as db:
        head = await _head(db, group, now, by)
    yield "{" + ",\n".join(f"{_dumps(k)}: {_dumps(v)}" for k, v in head.items())
    for name, model, where in _sections(group.group_id, group.customer_id):
        yield f",\n{_dumps(name)}: ["
        first = True
        async for rows in _pages(sessions, model, where):
            dicts = await _with_items(sessions, rows) if model is Order else map(_row, rows)
            yield ("" if first else ",") + ",".join(_dumps(d) for d in dicts)
            first = False
        yield "]"
    yield "}\n"


async def export_counts(db: AsyncSession, group: Group) -> dict[str, int]:
    """How many rows the main parts of the export hold (for the message with the link)."""
    return await rows_per_table(db, group.group_id, Message, Order, Payment, Incident)


async def rows_per_table(db: AsyncSession, group_id: str, *models: Any) -> dict[str, int]:
    """{table name: rows of the group} for each model (each has a group_id column)."""
    return {m.__tablename__: await count_rows(db, m, m.group_id == group_id) for m in models}


async def count_rows(db: AsyncSession, model: Any, *where: Any) -> int:
    result = await db.exec(select(func.count()).select_from(model).where(*where))
    return int(result.one())
