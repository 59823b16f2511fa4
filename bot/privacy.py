"""Per-customer data export and erasure (data protection: regulation seed 000, section 3.5).

Export: one JSON document of everything the bot holds about a group and its customer: the
customer profile, the group, its members, every message in and out (and the bot's own outbox),
the commands typed there, interactions, orders with their items, payments, incidents, care
logs, ratings, SLA clocks and the group's audit entries. Staff discipline records (violations,
SLA events) and timers are internal to the company and are not part of it. The document is
streamed page by page from short sessions, so a group of 100k messages needs one page in memory
and never holds the database (on SQLite a transaction is the write lock).

Erasure, policy. Erased or anonymised (never to be recovered; the database keeps no copy):
* the customer row: name becomes "Khách hàng đã xoá #<id>", every other profile field is cleared
  except the customer group (VIP / wholesale / retail), which reports count;
* the text and attachments of every message the customer side wrote in the group, in the
  transcript and in the stored raw webhook events;
* interaction notes and care-log contents about the customer, incident descriptions, photos and
  resolution notes, payment notes: replaced by the erased marker; so are the staff alerts that
  quote the customer's words (SLA reminders and alerts, detected incidents, low ratings);
* where the kept text still holds them, the customer's name, phone number, birthday and founding
  day (exact matches of four characters or more) and the erased notes are masked: in staff and
  bot messages, the bot's outbox (1:1 alerts included), the commands typed in the group (so
  `/ghichu goi <note>` keeps only `/ghichu goi [đã xoá]`), payment rejection reasons, the raw
  webhook events of staff messages, and the JSON details of the group's audit entries,
  violations, SLA events and reminders; the personal fields of those audit entries (notes,
  texts, and the profile values of customer.*) are replaced by the marker.
Kept, because accounting and the regulation's own records need them: payments (amount, kind,
method, status, who decided and when), orders and their items, SLA clocks, ratings (the score;
the customer's answer is a message and is erased with them), care and interaction dates and
feedback codes, incident types and times, group membership (Zalo ids), staff messages (masked
as above), and the audit log itself. The erasure is audited as "customer_erased" with counts
only, never the erased content. It covers the group it is run for; a customer bound to several
groups needs it in each. Backups keep what they held until they expire. Messages the customer
writes after the erasure are recorded again as usual.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import repo
from storage.db import SessionFactory
from storage.models import (
    AuditEntry,
    CareLog,
    CommandRun,
    Customer,
    Group,
    InboxEvent,
    Incident,
    Interaction,
    Message,
    Order,
    OrderItem,
    OutboxMessage,
    Payment,
    Rating,
    Reminder,
    SlaClock,
    SlaEvent,
    Staff,
    Violation,
)

ERASED = "[đã xoá theo yêu cầu khách hàng]"
MASK = "[đã xoá]"
CONFIRM_WINDOW = timedelta(minutes=10)
PAGE = 500
MIN_IDENTIFIER = 4
PROFILE_FIELDS = ("phone", "region", "birthday", "gender", "channel", "contact_channel")
PERSONAL_KEYS = frozenset({"note", "text", "description", "content", "resolution_note"})
NO_UPDATE_SYNC = {"synchronize_session": False}
# Alerts to staff that quote what the customer wrote.
QUOTING = ("sla_reminder", "sla_breach", "sla_escalation", "incident_detected", "rating_low")


def erased_name(customer_id: int | None) -> str:
    return f"Khách hàng đã xoá #{customer_id}"


def export_path(group_id: str) -> str:
    """Where the dashboard serves a group's export."""
    return f"/dashboard/exports/{group_id}.json"


# --- export ----------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _row(row: SQLModel) -> dict[str, Any]:
    return row.model_dump(mode="json")


def _mine(model: Any, group_id: str, customer_id: int | None) -> ColumnElement[bool]:
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
        ("interactions", Interaction, [_mine(Interaction, group_id, customer_id)]),
        ("orders", Order, [_mine(Order, group_id, customer_id)]),
        ("payments", Payment, [Payment.group_id == group_id]),
        ("incidents", Incident, [Incident.group_id == group_id]),
        ("care_logs", CareLog, [_mine(CareLog, group_id, customer_id)]),
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
    return await _rows_per_table(db, group.group_id, Message, Order, Payment, Incident)


async def _rows_per_table(db: AsyncSession, group_id: str, *models: Any) -> dict[str, int]:
    """{table name: rows of the group} for each model (each has a group_id column)."""
    return {m.__tablename__: await _count(db, m, m.group_id == group_id) for m in models}


async def _count(db: AsyncSession, model: Any, *where: Any) -> int:
    result = await db.exec(select(func.count()).select_from(model).where(*where))
    return int(result.one())


# --- erasure ---------------------------------------------------------------------------------


def is_erased(customer: Customer) -> bool:
    """True once the profile holds nothing personal any more."""
    return customer.name == erased_name(customer.id) and not any(
        getattr(customer, f) for f in (*PROFILE_FIELDS, "founded_on")
    )


def identifiers(customer: Customer | None) -> list[str]:
    """The customer's strings to mask in kept text, longest first."""
    if customer is None or is_erased(customer):
        return []
    values = [customer.name, customer.phone or ""]
    for day in (customer.birthday, customer.founded_on):
        if day is not None:
            values += [day.strftime("%d/%m/%Y"), day.isoformat()]
    kept = {v.strip() for v in values if len(v.strip()) >= MIN_IDENTIFIER}
    return sorted(kept - {erased_name(customer.id)}, key=len, reverse=True)


def _notes(group_id: str, customer_id: int | None) -> list[tuple[Any, Any, list[Any]]]:
    """(model, column, conditions) of the free-text notes about the customer."""
    return [
        (Interaction, Interaction.note, [_mine(Interaction, group_id, customer_id)]),
        (CareLog, CareLog.content, [_mine(CareLog, group_id, customer_id)]),
        (Incident, Incident.description, [Incident.group_id == group_id]),
        (Payment, Payment.note, [Payment.group_id == group_id, col(Payment.note).is_not(None)]),
    ]


def _customer_texts(group_id: str) -> list[Any]:
    unerased = or_(col(Message.text).is_(None), col(Message.text) != ERASED)
    return [Message.group_id == group_id, Message.sender_kind == "customer", unerased]


async def erase_plan(db: AsyncSession, group: Group) -> dict[str, int]:
    """What an erasure of the group would erase now; all zero when there is nothing left."""
    customer = await repo.get_customer(db, customer_id=group.customer_id)
    plan = {
        "profile": int(customer is not None and not is_erased(customer)),
        "messages": await _count(db, Message, *_customer_texts(group.group_id)),
    }
    for model, column, where in _notes(group.group_id, group.customer_id):
        plan[model.__tablename__] = await _count(db, model, *where, col(column) != ERASED)
    return plan


async def kept_counts(db: AsyncSession, group: Group) -> dict[str, int]:
    """The business records an erasure keeps, for the messages that announce it."""
    return await _rows_per_table(db, group.group_id, Payment, Order, SlaClock, Rating)


async def erase(db: AsyncSession, group: Group, *, now: datetime) -> dict[str, int]:
    """Erase the customer's personal data of `group` (see the module docstring); the counts."""
    g = group.group_id
    customer = await repo.get_customer(db, customer_id=group.customer_id)
    idents = identifiers(customer)
    notes = await _note_texts(db, group)  # read before they are erased
    everything = _longest_first(idents + notes)
    counts = {"profile": _anonymise(db, customer, group, now)}
    counts["messages"] = await _update(db, Message, _customer_texts(g), text=ERASED, attachments=[])
    counts.update(await _erase_notes(db, group))
    counts["alerts"] = await _erase_alerts(db, g, idents)  # before the names are masked
    counts["raw_events"] = await _erase_raw_events(db, g, everything)
    counts["masked"] = await _mask_texts(db, g, idents, everything)
    counts["masked"] += await _mask_details(db, g, everything)
    return counts


def _longest_first(values: Iterable[str]) -> list[str]:
    return sorted(set(values), key=len, reverse=True)


async def _note_texts(db: AsyncSession, group: Group) -> list[str]:
    """The notes about to be erased: their copies in commands and replies are masked too."""
    found: set[str] = set()
    columns = [*_notes(group.group_id, group.customer_id)]
    columns.append((Incident, Incident.resolution_note, [Incident.group_id == group.group_id]))
    for _, column, where in columns:
        query = select(column).where(*where, col(column) != ERASED).distinct()
        found |= {str(v).strip() for v in (await db.exec(query)).all() if v}
    return [v for v in found if len(v) >= MIN_IDENTIFIER]


async def _erase_notes(db: AsyncSession, group: Group) -> dict[str, int]:
    counts = {}
    for model, column, where in _notes(group.group_id, group.customer_id):
        counts[model.__tablename__] = await _update(
            db, model, [*where, col(column) != ERASED], **{column.key: ERASED}
        )
    mine = Incident.group_id == group.group_id
    await _update(db, Incident, [mine], attachments=[])
    solved = col(Incident.resolution_note).is_not(None)
    await _update(db, Incident, [mine, solved], resolution_note=ERASED)
    return counts


async def _erase_alerts(db: AsyncSession, group_id: str, idents: list[str]) -> int:
    """Staff alerts that quote the customer's words (sent 1:1 or to the alert group)."""
    text = col(OutboxMessage.text)
    about = or_(*(text.contains(v, autoescape=True) for v in [group_id, *idents]))
    where = [col(OutboxMessage.purpose).in_(QUOTING), about, text != ERASED]
    sent = select(OutboxMessage.zalo_message_id).where(
        *where, col(OutboxMessage.zalo_message_id).is_not(None)
    )
    await _update(db, Message, [col(Message.msg_id).in_(sent)], text=ERASED)
    return await _update(db, OutboxMessage, where, text=ERASED)


def _anonymise(db: AsyncSession, customer: Customer | None, group: Group, now: datetime) -> int:
    if customer is None or is_erased(customer):
        return 0
    customer.name = erased_name(customer.id)
    for field in (*PROFILE_FIELDS, "founded_on"):
        setattr(customer, field, None)
    customer.updated_at = now
    if group.name:
        group.name = customer.name
    db.add_all([customer, group])
    return 1


async def _update(db: AsyncSession, model: Any, where: Iterable[Any], **values: Any) -> int:
    statement = update(model).where(*where).values(**values)
    result = await db.exec(statement.execution_options(**NO_UPDATE_SYNC))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


def _outbox_about(group_id: str) -> ColumnElement[bool]:
    """Outbox rows to the group, or caused by one of its events (1:1 notices, alerts)."""
    keys = select(literal("msg:") + col(Message.msg_id)).where(Message.group_id == group_id)
    events = select(InboxEvent.id).where(col(InboxEvent.dedupe_key).in_(keys))
    return or_(OutboxMessage.target_id == group_id, col(OutboxMessage.source_event_id).in_(events))


def _scopes(group_id: str) -> tuple[list[Any], list[Any]]:
    """(column, conditions) to mask: customer identifiers (wide), note texts (the group's)."""
    about = _outbox_about(group_id)
    sent_about = select(OutboxMessage.zalo_message_id).where(about)
    commands = (CommandRun.text, [CommandRun.group_id == group_id])
    wide = [
        (Message.text, [or_(Message.group_id == group_id, col(Message.group_id).is_(None))]),
        (OutboxMessage.text, []),  # 1:1 alerts about the group carry no group id
        commands,
        (Payment.reject_reason, [Payment.group_id == group_id]),
    ]
    narrow = [
        (Message.text, [or_(Message.group_id == group_id, col(Message.msg_id).in_(sent_about))]),
        (OutboxMessage.text, [about]),
        commands,
    ]
    return wide, narrow


async def _mask_texts(
    db: AsyncSession, group_id: str, idents: list[str], everything: list[str]
) -> int:
    """Replace the identifiers and note texts in the kept text columns, in SQL."""
    wide, narrow = _scopes(group_id)
    masked = 0
    for value in everything:  # longest first: a note that holds the name goes whole
        for column, where in wide if value in idents else narrow:
            found = [*where, col(column).contains(value, autoescape=True)]
            masked += await _update(
                db, column.class_, found, **{column.key: func.replace(column, value, MASK)}
            )
    return masked


def scrub(value: Any, idents: list[str], blank: frozenset[str] = frozenset()) -> Any:
    """`value` (JSON) with the identifiers masked and the `blank` keys' values erased."""
    if isinstance(value, str):
        for ident in idents:
            value = value.replace(ident, MASK)
        return value
    if isinstance(value, list):
        return [scrub(v, idents, blank) for v in value]
    if isinstance(value, dict):
        return {
            k: ERASED if k in blank and v else scrub(v, idents, blank) for k, v in value.items()
        }
    return value


def _blank_keys(model: Any, row: Any) -> frozenset[str]:
    if model is not AuditEntry:
        return frozenset()
    if str(row.action).startswith("customer."):
        return PERSONAL_KEYS | {"name", "fields"}
    return PERSONAL_KEYS


async def _mask_details(db: AsyncSession, group_id: str, idents: list[str]) -> int:
    """Scrub the JSON details of the group's audit entries, violations, SLA events, reminders."""
    masked = 0
    for model, field in (
        (AuditEntry, "detail"),
        (Violation, "detail"),
        (SlaEvent, "detail"),
        (Reminder, "context"),
    ):
        column = getattr(model, field)
        query = select(model.id, column, *([AuditEntry.action] if model is AuditEntry else []))
        async for rows in _core_pages(db, query.where(model.group_id == group_id), model.id):
            cleaned = (
                (row[0], row[1], scrub(row[1], idents, _blank_keys(model, row))) for row in rows
            )
            changed = [(i, new) for i, old, new in cleaned if new != old]
            masked += await _update_many(db, model, field, changed)
    return masked


async def _update_many(
    db: AsyncSession, model: Any, field: str, rows: list[tuple[int, Any]]
) -> int:
    """Set `field` of each (id, value) in one executemany."""
    if not rows:
        return 0
    table = model.__table__
    statement = (
        update(table).where(table.c.id == bindparam("row_id")).values({field: bindparam("value")})
    )
    connection = await db.connection()
    await connection.execute(statement, [{"row_id": i, "value": v} for i, v in rows])
    return len(rows)


async def _core_pages(db: AsyncSession, query: Any, key: Any) -> AsyncIterator[list[Any]]:
    """Pages of a column query by `key`, inside the caller's transaction."""
    last = 0
    while True:
        rows = list((await db.exec(query.where(key > last).order_by(key).limit(PAGE))).all())
        if not rows:
            return
        yield rows
        last = rows[-1][0]


async def _erase_raw_events(db: AsyncSession, group_id: str, idents: list[str]) -> int:
    """Rewrite the stored webhook bodies of the group's messages: no customer text left."""
    erased = 0
    messages = select(Message.id, Message.msg_id, Message.sender_kind).where(
        Message.group_id == group_id
    )
    async for rows in _core_pages(db, messages, Message.id):
        kinds = {f"msg:{msg_id}": kind for _, msg_id, kind in rows}
        query = select(InboxEvent.id, InboxEvent.dedupe_key, InboxEvent.body).where(
            col(InboxEvent.dedupe_key).in_(list(kinds))
        )
        found = (await db.exec(query)).all()
        cleaned = [
            (i, body, _clean_body(body, kinds[key] == "customer", idents)) for i, key, body in found
        ]
        erased += await _update_many(
            db, InboxEvent, "body", [(i, new) for i, old, new in cleaned if new != old]
        )
    return erased


def _clean_body(body: str, customer: bool, idents: list[str]) -> str:
    """A stored webhook body with the customer's text gone (customer side) or masked."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    cleaned = scrub(_without_text(data) if customer else data, idents)
    return body if cleaned == data else json.dumps(cleaned, ensure_ascii=False)


def _without_text(data: Any) -> Any:
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        return data
    wiped = {**message, "text": ERASED} if "text" in message else dict(message)
    if "attachments" in wiped:
        wiped["attachments"] = []
    return {**data, "message": wiped}


# --- the pending request (an audit entry, checked against the clock) ------------------------


async def pending_request(
    db: AsyncSession, *, group_id: str, actor_id: str, now: datetime
) -> AuditEntry | None:
    """The actor's erase request for the group made within CONFIRM_WINDOW and not yet used."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.group_id == group_id,
            col(AuditEntry.action).in_(("customer_erase_requested", "customer_erased")),
        )
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .limit(1)
    )
    last = (await db.exec(query)).first()
    if last is None or last.action != "customer_erase_requested" or last.actor_id != actor_id:
        return None
    return last if now - last.at <= CONFIRM_WINDOW else None


async def last_erased_at(db: AsyncSession, *, group_id: str) -> datetime | None:
    query = select(func.max(AuditEntry.at)).where(
        AuditEntry.group_id == group_id, AuditEntry.action == "customer_erased"
    )
    return (await db.exec(query)).one()
