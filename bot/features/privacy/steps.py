"""An erasure's steps, each in chunks of CHUNK rows, one short transaction per chunk, saving the
step reached and the counts so far: cut short, it resumes and counts each row once."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock
from bot.core.enqueue import enqueue
from bot.core.intents import Intent, SendGroup, SendUser
from bot.core.render import Renderer
from bot.features.privacy.policy import (
    ERASED,
    MASK,
    MIN_IDENTIFIER,
    PERSONAL_KEYS,
    PROFILE_FIELDS,
    clean_body,
    erased_name,
    identifiers,
    is_erased,
    longest_first,
    scrub,
)
from bot.features.privacy.scope import customer_texts, notes_of, scopes
from storage import repo
from storage.db import SessionFactory
from storage.models import (
    AuditEntry,
    Customer,
    Erasure,
    Group,
    InboxEvent,
    Incident,
    Message,
    OutboxMessage,
    Reminder,
    SlaEvent,
    Violation,
)

LEASE = timedelta(minutes=2)  # an erasure's runner renews it at each chunk


class Interrupted(Exception):
    """The erasure stopped between two chunks: the process is shutting down, or another
    process took it over after this one stalled past its lease."""


CHUNK = 2000  # rows per statement and per transaction of an erasure


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


NO_UPDATE_SYNC = {"synchronize_session": False}


# Alerts to staff that quote what the customer wrote.
QUOTING = ("sla_reminder", "sla_breach", "sla_escalation", "incident_detected", "rating_low")


class Steps:
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
        everything = longest_first(idents + notes)
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
            await update_rows(db, Erasure, mine, counts=counts, step=self.step)
            await db.commit()
        self.counts = counts

    async def _hold(self, db: AsyncSession) -> None:
        now = self.clock.now()
        mine = [Erasure.id == self.job.id, Erasure.runner == self.runner]
        if not await update_rows(db, Erasure, mine, lease_until=now + LEASE):
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
            await update_rows(db, Message, [col(Message.msg_id).in_(sent)], text=ERASED)
            added["alerts"] += await update_rows(db, OutboxMessage, these, text=ERASED)

        await self._chunks(OutboxMessage, where, apply)

    async def _messages(self, group_id: str) -> None:
        where = customer_texts(group_id)

        async def apply(db: AsyncSession, ids: list[int], added: Counter[str]) -> None:
            these = [col(Message.id).in_(ids), *where]
            added["messages"] += await update_rows(db, Message, these, text=ERASED, attachments=[])

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
                if (new := clean_body(body, kinds[key] == "customer", idents)) != body
            ]
            added["raw_events"] += await _update_many(db, InboxEvent, "body", changed)

        await self._chunks(Message, [Message.group_id == group_id], apply)

    async def _masked(self, group_id: str, idents: list[str], everything: list[str]) -> None:
        """The identifiers and note texts in the kept text columns, then in the JSON details."""
        wide, narrow = scopes(group_id)
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
            await update_rows(db, Erasure, [Erasure.id == job.id], runner=None, **done)
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
        added["masked"] += await update_rows(db, model, found, **replaced)

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


async def _note_texts(db: AsyncSession, group: Group) -> list[str]:
    """The notes about to be erased: their copies in commands and replies are masked too."""
    found: set[str] = set()
    columns = [*notes_of(group.group_id, group.customer_id)]
    columns.append((Incident, Incident.resolution_note, [Incident.group_id == group.group_id]))
    for _, column, where in columns:
        query = select(column).where(*where, col(column) != ERASED).distinct()
        found |= {str(v).strip() for v in (await db.exec(query)).all() if v}
    return [v for v in found if len(v) >= MIN_IDENTIFIER]


async def _erase_notes(db: AsyncSession, group: Group) -> dict[str, int]:
    counts = {}
    for model, column, where in notes_of(group.group_id, group.customer_id):
        counts[model.__tablename__] = await update_rows(
            db, model, [*where, col(column) != ERASED], **{column.key: ERASED}
        )
    mine = Incident.group_id == group.group_id
    await update_rows(db, Incident, [mine], attachments=[])
    solved = col(Incident.resolution_note).is_not(None)
    await update_rows(db, Incident, [mine, solved], resolution_note=ERASED)
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


async def update_rows(db: AsyncSession, model: Any, where: Iterable[Any], **values: Any) -> int:
    statement = update(model).where(*where).values(**values)
    result = await db.exec(statement.execution_options(**NO_UPDATE_SYNC))
    return int(result.rowcount or 0)


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
