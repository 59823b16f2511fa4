"""The transcript, commands run, the audit log, interactions, customers, the bot's own messages,
and insert_once (INSERT … ON CONFLICT DO NOTHING) for every table."""

from __future__ import annotations

import functools
import unicodedata
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    func,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast import hot
from storage.fast.hot import dialect_of
from storage.models import (
    AuditEntry,
    CommandRun,
    Customer,
    Interaction,
    Message,
    OutboxMessage,
)

MESSAGE_COLUMNS = tuple(c.key for c in Message.__table__.columns if c.key != "id")  # type: ignore[attr-defined]


@functools.cache
def _insert_message(dialect_name: str) -> Any:
    """INSERT … ON CONFLICT (msg_id) DO NOTHING RETURNING id, built once (values come as
    parameters, so its compiled form is cached too)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = Message.__table__  # type: ignore[attr-defined]
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["msg_id"])
        .returning(table.c.id)
    )


async def record_message(db: AsyncSession, *, message: Message) -> bool:
    """Store a transcript line; False if that msg_id is already stored."""
    return await insert_message(db, **{key: getattr(message, key) for key in MESSAGE_COLUMNS})


async def insert_message(db: AsyncSession, **values: Any) -> bool:
    """`record_message` from column values: one INSERT … ON CONFLICT DO NOTHING (msg_id is
    unique), no ORM object. Pending ORM changes are flushed first, as a query would."""
    values.setdefault("attachments", [])
    await db.flush()
    return bool(await hot.execute(db, _insert_message(dialect_of(db)), values))


async def record_command(db: AsyncSession, *, run: CommandRun) -> None:
    db.add(run)


async def audit(
    db: AsyncSession,
    *,
    at: datetime,
    actor_id: str,
    action: str,
    group_id: str | None = None,
    **detail: Any,
) -> None:
    """Append one line to the audit log."""
    db.add(AuditEntry(at=at, actor_id=actor_id, action=action, group_id=group_id, detail=detail))


async def add_interaction(db: AsyncSession, *, interaction: Interaction) -> Interaction:
    db.add(interaction)
    await db.flush()
    return interaction


async def recent_history(db: AsyncSession, *, group_id: str, limit: int) -> list[dict[str, Any]]:
    """The last interactions, commands and decisions in a group, newest first."""
    interactions = await db.exec(
        select(Interaction)
        .where(Interaction.group_id == group_id)
        .order_by(col(Interaction.at).desc())
        .limit(limit)
    )
    commands = await db.exec(
        select(CommandRun)
        .where(CommandRun.group_id == group_id)
        .order_by(col(CommandRun.at).desc())
        .limit(limit)
    )
    decisions = await db.exec(
        select(AuditEntry)
        .where(AuditEntry.group_id == group_id)
        .order_by(col(AuditEntry.at).desc())
        .limit(limit)
    )
    items = [{"kind": "interaction", "at": i.at, "item": i} for i in interactions.all()]
    items += [{"kind": "command", "at": c.at, "item": c} for c in commands.all()]
    items += [{"kind": "decision", "at": a.at, "item": a} for a in decisions.all()]
    return sorted(items, key=lambda entry: cast(datetime, entry["at"]), reverse=True)[:limit]


async def count_messages(db: AsyncSession, *, group_id: str) -> int:
    result = await db.exec(
        select(func.count()).select_from(Message).where(Message.group_id == group_id)
    )
    return int(result.one())


async def get_customer(db: AsyncSession, *, customer_id: int | None) -> Customer | None:
    return await db.get(Customer, customer_id) if customer_id is not None else None


async def save_customer(db: AsyncSession, *, customer: Customer) -> Customer:
    db.add(customer)
    await db.flush()
    return customer


ECHO_WINDOW = timedelta(minutes=10)  # how far an echo's time may be from its send's


async def find_bot_message(db: AsyncSession, *, zalo_message_id: str) -> OutboxMessage | None:
    """The bot's own sent message a reply quotes (to recognise replies to it).

    Which id a group quote carries is not public: the `message_id` the send call returned, or
    the `msg_id` of the `oa_send_group_*` echo of that message. Both are accepted: an echo in
    the transcript is linked to its outbox row by group, text and time (the nearest send of
    the same text to the same group within ECHO_WINDOW)."""
    query = select(OutboxMessage).where(OutboxMessage.zalo_message_id == zalo_message_id)
    if (sent := (await db.exec(query)).first()) is not None:
        return sent
    echo = await find_message(db, msg_id=zalo_message_id)
    if echo is None or echo.sender_kind != "oa" or not echo.text or echo.sent_at is None:
        return None
    target = echo.group_id
    candidates = select(OutboxMessage).where(
        OutboxMessage.target_kind == ("group" if target else "user"),
        OutboxMessage.status == "sent",
        col(OutboxMessage.sent_at) >= echo.sent_at - ECHO_WINDOW,
        col(OutboxMessage.sent_at) <= echo.sent_at + ECHO_WINDOW,
        *([OutboxMessage.target_id == target] if target else []),
    )
    wanted = " ".join(unicodedata.normalize("NFC", echo.text).split())
    same = [
        row
        for row in (await db.exec(candidates)).all()
        if " ".join(unicodedata.normalize("NFC", row.text).split()) == wanted
    ]
    return min(same, key=lambda row: abs(row.sent_at - echo.sent_at), default=None)  # type: ignore[operator]


async def find_message(db: AsyncSession, *, msg_id: str) -> Message | None:
    """The transcript line with this msg_id."""
    return (await db.exec(select(Message).where(Message.msg_id == msg_id))).first()


async def insert_once(
    db: AsyncSession, model: type[SQLModel], *, unique: list[str], **values: Any
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when this call inserted the row.

    Used to claim things across processes (an event, a job's period). The RETURNING clause is
    what tells: PostgreSQL reports no usable rowcount for an ORM insert.
    """
    dialect = postgresql if dialect_of(db) == "postgresql" else sqlite
    table = model.__table__  # type: ignore[attr-defined]
    statement = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(*table.primary_key)
    )
    connection = await db.connection()
    return (await connection.execute(statement)).first() is not None
