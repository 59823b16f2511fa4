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

Erasure, how it runs. The confirmation only records it (an Erasure row, in the command's
transaction); a worker (Runtime.erase_pending) then runs its STEPS, each in chunks of CHUNK
rows, one short transaction per chunk: a group of 100k messages never holds the database (on
SQLite, its one write lock) for longer than a chunk. The step reached and the counts so far are
saved in each chunk's transaction, and every step only changes what is not erased yet, so an
erasure cut short (a crash, a shutdown) resumes on the next run and counts each row once. The
profile and the notes, whose values the earlier steps mask, are erased by the last step, in the
transaction that also writes the "customer_erased" audit entry and the announcements: both
exactly once. One process runs an erasure at a time (a lease on the row, renewed at each chunk).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock
from bot.core.intents import Intent, SendGroup, SendUser
from bot.core.outbox import enqueue
from bot.core.render import Renderer
from storage import repo
from storage.db import SessionFactory
from storage.models import (
    AuditEntry,
    CareLog,
    CommandRun,
    Customer,
    Erasure,
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

log = logging.getLogger(__name__)

ERASED = "[đã xoá theo yêu cầu khách hàng]"
MASK = "[đã xoá]"
CONFIRM_WINDOW = timedelta(minutes=10)
PAGE = 500
CHUNK = 2000  # rows per statement and per transaction of an erasure
LEASE = timedelta(minutes=2)  # an erasure's runner renews it at each chunk
# An erasure's steps, in order; "final" erases the notes and the profile, whose values the
# steps before it mask, audits the erasure and announces it.
STEPS = ("alerts", "messages", "raw_events", "masked", "final")
# The JSON columns of the group's rows that are scrubbed.
DETAILS = (
    (AuditEntry, "detail"),
    (Violation, "detail"),
    (SlaEvent, "detail"),
    (Reminder, "context"),
)
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


def _zero_counts(group: Group) -> dict[str, int]:
    """Every count an erasure reports, in the order the announcement and the audit show them."""
    notes = [model.__tablename__ for model, _, _ in _notes(group.group_id, group.customer_id)]
    return dict.fromkeys(["profile", "messages", *notes, "alerts", "raw_events", "masked"], 0)


async def start_erasure(
    db: AsyncSession,
    group: Group,
    *,
    request: AuditEntry,
    actor_id: str,
    reply_group_id: str | None,
    reply_msg_id: str | None,
    now: datetime,
) -> bool:
    """Record the confirmed erasure (the caller commits); a worker then runs it (run_erasure).

    False when this request already has one.
    """
    return await repo.insert_once(
        db,
        Erasure,
        unique=["request_id"],
        request_id=request.id,
        group_id=group.group_id,
        actor_id=actor_id,
        reply_group_id=reply_group_id,
        reply_msg_id=reply_msg_id,
        kept=await kept_counts(db, group),
        counts=_zero_counts(group),
        step=STEPS[0],
        confirmed_at=now,
    )


async def erasure_under_way(db: AsyncSession, *, group_id: str) -> bool:
    query = select(Erasure.id).where(
        Erasure.group_id == group_id, col(Erasure.finished_at).is_(None)
    )
    return (await db.exec(query.limit(1))).first() is not None


async def unfinished_erasures(db: AsyncSession) -> list[int]:
    """Erasures confirmed and not finished, oldest first (ix_erasures_finished_at)."""
    query = select(col(Erasure.id)).where(col(Erasure.finished_at).is_(None))
    return [i for i in (await db.exec(query.order_by(col(Erasure.id)))).all() if i is not None]


class Interrupted(Exception):
    """The erasure stopped between two chunks: the process is shutting down, or another
    process took it over after this one stalled past its lease."""


async def run_erasure(
    sessions: SessionFactory,
    erasure_id: int,
    *,
    clock: Clock,
    renderer: Renderer,
    locale: str,
    keep_going: Callable[[], bool] = lambda: True,
) -> bool:
    """Run a confirmed erasure to its end, or on from where it was cut short; True when done.

    False when another process holds it, or it was interrupted (it resumes on the next run).
    """
    runner = secrets.token_hex(8)
    async with sessions() as db:
        now = clock.now()
        claimed = await _update(
            db,
            Erasure,
            [
                Erasure.id == erasure_id,
                col(Erasure.finished_at).is_(None),
                or_(col(Erasure.runner).is_(None), col(Erasure.lease_until) < now),
            ],
            runner=runner,
            lease_until=now + LEASE,
        )
        job = await db.get(Erasure, erasure_id) if claimed else None
        await db.commit()
    if job is None:
        return False
    eraser = _Eraser(sessions, job, runner, clock, keep_going)
    try:
        await eraser.run(renderer, locale)
        return True
    except Interrupted:
        log.info("erasure %s interrupted at step %s; it resumes later", erasure_id, eraser.step)
        return False
    finally:
        if not eraser.finished:
            await _release(sessions, erasure_id, runner)


async def _release(sessions: SessionFactory, erasure_id: int, runner: str) -> None:
    """Give the lease up so the next run need not wait for it to expire (best effort)."""
    try:
        async with sessions() as db:
            mine = [Erasure.id == erasure_id, Erasure.runner == runner]
            await _update(db, Erasure, mine, runner=None, lease_until=None)
            await db.commit()
    except Exception:
        log.warning("erasure %s: lease not released; it expires by itself", erasure_id)


class _Eraser:
    """One run of an erasure: each chunk of each step is a short transaction of its own."""

    def __init__(
        self,
        sessions: SessionFactory,
        job: Erasure,
        runner: str,
        clock: Clock,
        keep_going: Callable[[], bool],
    ) -> None:
        self.sessions, self.job, self.runner, self.clock = sessions, job, runner, clock
        self.keep_going = keep_going
        self.counts: dict[str, int] = dict(job.counts)
        self.step = job.step
        self.finished = False

    async def run(self, renderer: Renderer, locale: str) -> None:
        # What the steps mask: the profile and the notes are erased by the last step only, so a
        # run that resumes an interrupted one reads the same values again.
        async with self.sessions() as db:
            group = await db.get(Group, self.job.group_id)
            assert group is not None
            customer = await repo.get_customer(db, customer_id=group.customer_id)
            idents = identifiers(customer)
            notes = await _note_texts(db, group)
        everything = _longest_first(idents + notes)
        g = group.group_id
        steps = {
            "alerts": lambda: self._alerts(g, idents),  # before the names are masked
            "messages": lambda: self._messages(g),
            "raw_events": lambda: self._raw_events(g, everything),
            "masked": lambda: self._masked(g, idents, everything),
        }
        for step in STEPS[STEPS.index(self.job.step) :]:
            self.step = step
            if step == "final":
                await self._finish(renderer, locale)
            else:
                await steps[step]()

    @contextlib.asynccontextmanager
    async def chunk(self) -> AsyncIterator[tuple[AsyncSession, Counter[str]]]:
        """One writing transaction of the current step, holding the lease; the counts added to
        the Counter it gives are saved with the chunk's changes, in the same commit."""
        if not self.keep_going():
            raise Interrupted
        added: Counter[str] = Counter()
        async with self.sessions() as db:
            await self._hold(db)
            yield db, added
            counts = {key: n + added[key] for key, n in self.counts.items()}
            mine = [Erasure.id == self.job.id]
            await _update(db, Erasure, mine, counts=counts, step=self.step)
            await db.commit()
        self.counts = counts

    async def _hold(self, db: AsyncSession) -> None:
        now = self.clock.now()
        mine = [Erasure.id == self.job.id, Erasure.runner == self.runner]
        if not await _update(db, Erasure, mine, lease_until=now + LEASE):
            raise Interrupted

    async def _chunks(
        self,
        model: Any,
        where: list[Any],
        apply: Callable[[AsyncSession, list[int], Counter[str]], Awaitable[None]],
    ) -> None:
        """`apply` to the ids of `model`'s rows matching `where`, CHUNK ids per transaction."""
        last = 0
        while True:
            async with self.chunk() as (db, added):
                query = select(model.id).where(*where, model.id > last).order_by(model.id)
                ids = list((await db.exec(query.limit(CHUNK))).all())
                if ids:
                    await apply(db, ids, added)
            if len(ids) < CHUNK:
                return
            last = ids[-1]

    async def _alerts(self, group_id: str, idents: list[str]) -> None:
        """Staff alerts that quote the customer's words (sent 1:1 or to the alert group)."""
        text = col(OutboxMessage.text)
        about = or_(*(text.contains(v, autoescape=True) for v in [group_id, *idents]))
        where = [col(OutboxMessage.purpose).in_(QUOTING), about, text != ERASED]

        async def apply(db: AsyncSession, ids: list[int], added: Counter[str]) -> None:
            these = [col(OutboxMessage.id).in_(ids), *where]
            sent = select(OutboxMessage.zalo_message_id).where(
                *these, col(OutboxMessage.zalo_message_id).is_not(None)
            )
            await _update(db, Message, [col(Message.msg_id).in_(sent)], text=ERASED)
            added["alerts"] += await _update(db, OutboxMessage, these, text=ERASED)

        await self._chunks(OutboxMessage, where, apply)

    async def _messages(self, group_id: str) -> None:
        where = _customer_texts(group_id)

        async def apply(db: AsyncSession, ids: list[int], added: Counter[str]) -> None:
            these = [col(Message.id).in_(ids), *where]
            added["messages"] += await _update(db, Message, these, text=ERASED, attachments=[])

        await self._chunks(Message, where, apply)

    async def _raw_events(self, group_id: str, idents: list[str]) -> None:
        """Rewrite the stored webhook bodies of the group's messages: no customer text left."""

        async def apply(db: AsyncSession, ids: list[int], added: Counter[str]) -> None:
            query = select(Message.msg_id, Message.sender_kind).where(col(Message.id).in_(ids))
            kinds = {f"msg:{msg_id}": kind for msg_id, kind in (await db.exec(query)).all()}
            events = select(InboxEvent.id, InboxEvent.dedupe_key, InboxEvent.body).where(
                col(InboxEvent.dedupe_key).in_(list(kinds))
            )
            changed = [
                (i, new)
                for i, key, body in (await db.exec(events)).all()
                if (new := _clean_body(body, kinds[key] == "customer", idents)) != body
            ]
            added["raw_events"] += await _update_many(db, InboxEvent, "body", changed)

        await self._chunks(Message, [Message.group_id == group_id], apply)

    async def _masked(self, group_id: str, idents: list[str], everything: list[str]) -> None:
        """The identifiers and note texts in the kept text columns, then in the JSON details."""
        wide, narrow = _scopes(group_id)
        for value in everything:  # longest first: a note that holds the name goes whole
            for column, where in wide if value in idents else narrow:
                found = [*where, col(column).contains(value, autoescape=True)]
                await self._chunks(column.class_, found, _replacing(column, value))
        for model, field in DETAILS:
            column = getattr(model, field)
            await self._chunks(
                model, [model.group_id == group_id], _scrubbing(model, column, everything)
            )

    async def _finish(self, renderer: Renderer, locale: str) -> None:
        """The notes, the profile, the audit entry and the announcement: one transaction."""
        job = self.job
        async with self.sessions() as db:
            await self._hold(db)
            now = self.clock.now()
            group = await db.get(Group, job.group_id)
            assert group is not None
            customer = await repo.get_customer(db, customer_id=group.customer_id)
            counts = dict(self.counts)
            counts["profile"] = _anonymise(db, customer, group, now)
            for key, n in (await _erase_notes(db, group)).items():
                counts[key] += n
            await repo.audit(
                db,
                at=now,
                actor_id=job.actor_id,
                action="customer_erased",
                group_id=group.group_id,
                customer_id=group.customer_id,
                request_id=job.request_id,
                counts=counts,
                kept=job.kept,
            )
            await enqueue(
                db, _announcements(job, counts), renderer=renderer, locale=locale, now=now
            )
            done = {"counts": counts, "step": "done", "finished_at": now}
            await _update(db, Erasure, [Erasure.id == job.id], runner=None, **done)
            await db.commit()
        self.counts, self.finished = counts, True


def _announcements(job: Erasure, counts: dict[str, int]) -> list[Intent]:
    """In the group, and where the admin confirmed it (quoting the confirmation)."""
    done = {"group_id": job.group_id, "counts": counts, "kept": job.kept}
    intents: list[Intent] = [SendGroup(job.group_id, "privacy_erased", done)]
    if job.reply_group_id == job.group_id:
        return intents
    if job.reply_group_id:
        reply: Intent = SendGroup(
            job.reply_group_id,
            "privacy_erased",
            done,
            quote_msg_id=job.reply_msg_id,
            notify_user_id=job.actor_id,
        )
    else:
        reply = SendUser(job.actor_id, "privacy_erased", done, quote_msg_id=job.reply_msg_id)
    return [*intents, reply]


def _replacing(
    column: Any, value: str
) -> Callable[[AsyncSession, list[int], Counter[str]], Awaitable[None]]:
    async def apply(db: AsyncSession, ids: list[int], added: Counter[str]) -> None:
        model = column.class_
        found = [col(model.id).in_(ids), col(column).contains(value, autoescape=True)]
        replaced = {column.key: func.replace(column, value, MASK)}
        added["masked"] += await _update(db, model, found, **replaced)

    return apply


def _scrubbing(
    model: Any, column: Any, idents: list[str]
) -> Callable[[AsyncSession, list[int], Counter[str]], Awaitable[None]]:
    async def apply(db: AsyncSession, ids: list[int], added: Counter[str]) -> None:
        query = select(model.id, column, *([AuditEntry.action] if model is AuditEntry else []))
        rows = (await db.exec(query.where(col(model.id).in_(ids)))).all()
        cleaned = ((row[0], row[1], scrub(row[1], idents, _blank_keys(model, row))) for row in rows)
        changed = [(i, new) for i, old, new in cleaned if new != old]
        added["masked"] += await _update_many(db, model, column.key, changed)

    return apply


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
    result = await db.exec(statement.execution_options(**NO_UPDATE_SYNC))
    return int(result.rowcount or 0)


def _outbox_about(group_id: str) -> ColumnElement[bool]:
    """Outbox rows to the group, or caused by one of its events (1:1 notices, alerts)."""
    keys = select(literal("msg:") + col(Message.msg_id)).where(Message.group_id == group_id)
    events = select(InboxEvent.id).where(col(InboxEvent.dedupe_key).in_(keys))
    return or_(
        col(OutboxMessage.target_id) == group_id, col(OutboxMessage.source_event_id).in_(events)
    )


def _scopes(group_id: str) -> tuple[list[Any], list[Any]]:
    """(column, conditions) to mask: customer identifiers (wide), note texts (the group's)."""
    about = _outbox_about(group_id)
    sent_about = select(OutboxMessage.zalo_message_id).where(about)
    commands = (CommandRun.text, [CommandRun.group_id == group_id])
    wide = [
        (Message.text, [or_(col(Message.group_id) == group_id, col(Message.group_id).is_(None))]),
        (OutboxMessage.text, []),  # 1:1 alerts about the group carry no group id
        commands,
        (Payment.reject_reason, [Payment.group_id == group_id]),
    ]
    narrow = [
        (
            Message.text,
            [or_(col(Message.group_id) == group_id, col(Message.msg_id).in_(sent_about))],
        ),
        (OutboxMessage.text, [about]),
        commands,
    ]
    return wide, narrow


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


async def _update_many(
    db: AsyncSession, model: Any, field: str, rows: Sequence[tuple[int | None, Any]]
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
