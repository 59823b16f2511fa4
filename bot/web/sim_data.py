"""What the simulator page shows, read from the real tables: the feed, 1:1 messages, panels.

Every feed item is a row of `messages` (the transcript), so one cursor (the row id) serves the
group's messages and the bot's private messages about the group alike. A private message is
"about" a group when an event from the group made the bot tell someone else (a head alerted,
a department called in), or when it is the SLA alert written in the same sweep as one of the
group's SLA events. Such messages never go into the customer's group; the simulator shows
them, marked private, so the demo tells the whole story. What the bot answers privately to
the person who asked (a sign-in link, a report) shows only in that person's 1:1 panel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import String, and_, literal, or_, union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.render import MENTION_MARKER, labels, vnd
from bot.features.payments import queries as payment_gate_queries
from bot.features.sla import requests
from bot.web.core import pick, role_label
from bot.web.queries import staff_by_id
from bot.web.words import words
from storage import repo
from storage.models import Group, InboxEvent, Message, OutboxMessage, SlaClock, SlaEvent, Staff

CUSTOMER_ID = "2000000000000000001"
FEED_LIMIT = 300
WEEKDAYS = {"vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"), "en": ("Mon", "Tue", "Wed", "Thu",
            "Fri", "Sat", "Sun")}  # fmt: skip
STATUS_LABELS = {
    "pending": words("sim_data_pending"),
    "approved": words("sim_data_approved"),
    "rejected": words("sim_data_rejected"),
}
_MARKUP = re.compile(rf"{MENTION_MARKER}|(https?://[^\s<>\"']+)")


def text_parts(text: str | None, names: dict[str, str]) -> list[dict[str, str]]:
    """Split a text into plain pieces, Zalo mentions ('[@id]' -> '@Name') and web links."""
    parts: list[dict[str, str]] = []
    rest = text or ""
    while match := _MARKUP.search(rest):
        if match.start():
            parts.append({"text": rest[: match.start()]})
        if match[1]:
            parts.append({"mention": match[1], "text": "@" + names.get(match[1], match[1])})
            rest = rest[match.end() :]
            continue
        link = match[2].rstrip(".,;:!?)")
        parts.append({"link": link, "text": link})
        rest = rest[match.start() + len(link) :]
    return [*parts, {"text": rest}] if rest else parts


def left_label(delta: timedelta, lang: str) -> str:
    """'còn 12 phút' / 'quá hạn 1 giờ 5 phút' (English: '12 min left' / '1 h 5 min overdue')."""
    minutes = abs(int(delta.total_seconds())) // 60
    hours, mins = divmod(minutes, 60)
    span = (pick(lang, *words("sim_hours", hours=hours)) if hours else "") + pick(
        lang, *words("sim_minutes", minutes=mins)
    )
    return pick(lang, *words("sim_left" if delta >= timedelta(0) else "sim_overdue", span=span))


def offset_label(offset: timedelta, lang: str) -> str:
    """How far the simulated clock is ahead of real time, in days, hours and minutes."""
    minutes = max(int(offset.total_seconds()) // 60, 0)
    if minutes == 0:
        return pick(lang, *words("sim_data_real_time"))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        pick(lang, *words(unit, n=n))
        for n, unit in ((days, "sim_days"), (hours, "sim_hours_short"), (mins, "sim_mins_short"))
        if n
    ]
    return pick(lang, *words("sim_data_ahead_of_real_time_by")) + "+" + " ".join(parts)


def local_time(moment: datetime, tz: tzinfo, lang: str, *, seconds: bool = False) -> str:
    """'T2 23/11/2026 09:00' in the company's time zone."""
    local = moment.astimezone(tz)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{WEEKDAYS[lang][local.weekday()]} {local:%d/%m/%Y} {clock}"


@dataclass(frozen=True)
class People:
    """Display names and role labels of everyone the simulator may show."""

    staff: dict[str, Staff]
    lang: str

    def name(self, user_id: str | None) -> str:
        if user_id in (None, "oa"):
            return pick(self.lang, "Bot CSKH", "Care bot")
        if (staff := self.staff.get(user_id or "")) is not None:
            return staff.name
        customer = pick(self.lang, *words("sim_data_customer"))
        return customer if user_id == CUSTOMER_ID else f"{customer} …{(user_id or '')[-4:]}"

    def role(self, user_id: str | None) -> str:
        if user_id in (None, "oa"):
            return "Bot"
        staff = self.staff.get(user_id or "")
        if staff is None:
            return pick(self.lang, *words("sim_data_customer"))
        return role_label(staff.role, self.lang)

    def names(self) -> dict[str, str]:
        return {user_id: staff.name for user_id, staff in self.staff.items()}


async def people(db: AsyncSession, lang: str) -> People:
    return People(await staff_by_id(db), lang)


def _group_private_ids(group_id: str) -> Any:
    """Zalo message ids of the bot's 1:1 messages about `group_id` (see the module docstring)."""
    caused = (
        select(OutboxMessage.zalo_message_id)
        .join(InboxEvent, col(InboxEvent.id) == col(OutboxMessage.source_event_id))
        .join(Message, col(InboxEvent.dedupe_key) == literal("msg:", String) + col(Message.msg_id))
        .where(OutboxMessage.target_kind == "user", Message.group_id == group_id)
        .where(col(OutboxMessage.target_id) != col(Message.user_id))
    )
    swept = (
        select(OutboxMessage.zalo_message_id)
        .join(
            SlaEvent,
            and_(
                col(SlaEvent.at) == col(OutboxMessage.created_at),
                literal("sla_", String) + col(SlaEvent.kind) == col(OutboxMessage.purpose),
            ),
        )
        .where(OutboxMessage.target_kind == "user", SlaEvent.group_id == group_id)
    )
    return union(caused, swept)


async def _rows(db: AsyncSession, where: Any, after: int) -> list[Message]:
    query = select(Message).where(col(Message.id) > after, where)
    query = query.order_by(col(Message.id).desc()).limit(FEED_LIMIT)
    return list(reversed((await db.exec(query)).all()))


async def _recipients(db: AsyncSession, msg_ids: list[str]) -> dict[str, str]:
    """Who each of the bot's 1:1 messages went to, by Zalo message id."""
    if not msg_ids:
        return {}
    query = select(OutboxMessage.zalo_message_id, OutboxMessage.target_id).where(
        col(OutboxMessage.zalo_message_id).in_(msg_ids), OutboxMessage.target_kind == "user"
    )
    return {str(m): t for m, t in (await db.exec(query)).all()}


async def group_feed(db: AsyncSession, *, group_id: str, after: int) -> list[Message]:
    """The group's messages after row `after`, with the bot's private messages about it."""
    private = and_(
        col(Message.group_id).is_(None), col(Message.msg_id).in_(_group_private_ids(group_id))
    )
    return await _rows(db, or_(col(Message.group_id) == group_id, private), after)


async def direct_feed(db: AsyncSession, *, user_id: str, after: int) -> list[Message]:
    """The 1:1 conversation between the OA and `user_id`, after row `after`."""
    to_user = select(OutboxMessage.zalo_message_id).where(
        OutboxMessage.target_kind == "user", OutboxMessage.target_id == user_id
    )
    mine = or_(col(Message.user_id) == user_id, col(Message.msg_id).in_(to_user))
    return await _rows(db, and_(col(Message.group_id).is_(None), mine), after)


async def message_views(
    db: AsyncSession, rows: list[Message], who: People, tz: tzinfo
) -> list[dict[str, Any]]:
    """The feed items as JSON for the page."""
    to = await _recipients(db, [m.msg_id for m in rows if m.group_id is None])
    return [_view(m, who, tz, to.get(m.msg_id)) for m in rows]


def _view(m: Message, who: People, tz: tzinfo, to: str | None) -> dict[str, Any]:
    sender = "oa" if m.sender_kind == "oa" else m.user_id
    return {
        "id": m.id,
        "msg_id": m.msg_id,
        "sender_id": sender,
        "name": who.name(sender),
        "role": who.role(sender),
        "kind": m.sender_kind,
        "direction": m.direction,
        "private": m.group_id is None,
        "to": to,
        "to_name": who.name(to) if to else None,
        "time": m.sent_at.astimezone(tz).strftime("%H:%M"),
        "text": m.text or "",
        "parts": text_parts(m.text, who.names()),
        "quote_msg_id": m.quote_msg_id,
        "verdict": _verdict(m, who.lang),
    }


def _verdict(m: Message, lang: str) -> dict[str, Any] | None:
    """What the request classifier made of a customer's group message (issue #18): whether
    it starts the reply clock, and why."""
    if m.sender_kind != "customer" or m.direction != "in" or m.group_id is None:
        return None
    kinds = tuple(str(a.get("type", "")) for a in (m.attachments or []) if isinstance(a, dict))
    verdict = requests.classify(m.text, kinds)
    words = labels(lang)["requests"]
    head = words["needs"] if verdict.needs_reply else words["none"]
    reason = words["reasons"].get(verdict.reason, verdict.reason)
    return {
        "needs_reply": verdict.needs_reply,
        "reason": verdict.reason,
        "label": f"{head}: {reason}",
    }


async def sla_panel(
    db: AsyncSession, *, group_id: str, now: datetime, who: People, tz: tzinfo
) -> list[dict[str, Any]]:
    """The group's open reply clocks: who waits, the deadline and the time left."""
    query = select(SlaClock).where(SlaClock.group_id == group_id, col(SlaClock.closed_at).is_(None))
    clocks = (await db.exec(query.order_by(col(SlaClock.opened_at)))).all()
    return [
        {
            "customer_id": c.customer_id,
            "name": who.name(c.customer_id),
            "since": local_time(c.opened_at, tz, who.lang),
            "deadline": local_time(c.deadline, tz, who.lang),
            "left": left_label(c.deadline - now, who.lang),
            "overdue": c.deadline <= now,
            "reminded": c.reminded_at is not None,
        }
        for c in clocks
    ]


async def payments_panel(db: AsyncSession, *, group_id: str, lang: str) -> list[dict[str, Any]]:
    """The group's payment and credit requests with their state."""
    kinds = labels(lang).get("payment_kinds", {})
    return [
        {
            "id": p.id,
            "kind": kinds.get(p.kind, p.kind),
            "amount": vnd(p.amount),
            "status": p.status,
            "status_label": pick(lang, *STATUS_LABELS.get(p.status, (p.status, p.status))),
        }
        for p in await payment_gate_queries.group_payments(db, group_id=group_id)
    ]


async def stage_panel(db: AsyncSession, *, group_id: str, who: People) -> dict[str, Any]:
    """The group's deal stage, its customer and the sales in charge (None: not created yet)."""
    group = await db.get(Group, group_id)
    if group is None:
        return {"exists": False}
    customer = await repo.get_customer(db, customer_id=group.customer_id)
    stages = labels(who.lang).get("stages", {})
    sales = group.assigned_sales_id
    return {
        "exists": True,
        "stage": group.stage,
        "label": stages.get(group.stage, group.stage),
        "customer": customer.name if customer else None,
        "sales": who.name(sales) if sales else None,
    }


async def group_ids(db: AsyncSession, *, limit: int = 50) -> list[str]:
    """Groups the bot knows, most recently changed first."""
    query = select(Group.group_id).order_by(col(Group.updated_at).desc()).limit(limit)
    return list((await db.exec(query)).all())
