"""/issue, /progress, /resolve, /incidents: record a customer's problem and see it through.

/issue records the incident with the photos and files the customer sent before it, starts the
resolution clock (INCIDENT_RESOLUTION working time) and calls the department concerned into the
group at once: members in the group are mentioned, the others get the summary 1:1.
The deadline rules (breach, escalation) live in bot/features/incidents/rule.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import audience as common
from bot.core.audience import group_label
from bot.core.commands import UsageError, command, record_number
from bot.core.context import Context
from bot.core.intents import Intent, SendUser
from bot.core.text import fold
from bot.features.incidents.rule import DEPARTMENTS, staff_for
from storage import repo
from storage.models import Incident, Message

ISSUE_ROLES = frozenset({"sales", "sales_head", "admin", "warehouse", "shipping", "accountant"})
FILES_LOOKBACK = timedelta(hours=24)
MAX_FILES_SCANNED = 500

TYPE_WORDS = {
    **dict.fromkeys(("wrongitem", "wrong", "giaosai", "sai", "saihang", "nham"), "wrong_item"),
    **dict.fromkeys(("missingitem", "missing", "thieuhang", "thieu"), "missing_item"),
    **dict.fromkeys(("damaged", "broken", "hong", "vo", "hu", "hanghong", "loi"), "damaged"),
    **dict.fromkeys(
        ("latedelivery", "late", "giaocham", "cham", "tre", "giaotre"), "late_delivery"
    ),
    **dict.fromkeys(("payment", "thanhtoan", "congno", "hoadon"), "payment"),
    **dict.fromkeys(("complaint", "khieunai", "phannan"), "complaint"),
    **dict.fromkeys(("other", "khac"), "other"),
}


@dataclass(frozen=True)
class IssueArgs:
    type: str
    description: str


@dataclass(frozen=True)
class IncidentNote:
    id: int
    note: str | None


def _word(token: str) -> str:
    return fold(token).replace("_", "").replace("-", "")


def parse_issue(raw: str) -> IssueArgs:
    """'giaosai Giao nhầm màu' -> IssueArgs('wrong_item', 'Giao nhầm màu')."""
    word, _, description = raw.strip().partition(" ")
    if not word:
        raise UsageError("issue_missing")
    kind = TYPE_WORDS.get(_word(word))
    if kind is None:
        raise UsageError("issue_bad_kind", word=word)
    if not description.strip():
        raise UsageError("issue_no_description")
    return IssueArgs(type=kind, description=description.strip())


def _incident_id(token: str) -> int:
    return record_number(token, "issue_bad_number")


def parse_progress(raw: str) -> IncidentNote:
    """'12 đang kiểm kho' -> IncidentNote(12, 'đang kiểm kho')."""
    token, _, note = raw.strip().partition(" ")
    if not token:
        raise UsageError("issue_no_number")
    return IncidentNote(id=_incident_id(token), note=note.strip() or None)


def parse_resolve(raw: str) -> IncidentNote:
    """'12 Đã giao bù 2 thùng' -> IncidentNote(12, 'Đã giao bù 2 thùng'); the note is required."""
    args = parse_progress(raw)
    if not args.note:
        raise UsageError("issue_no_resolution")
    return args


# --- /issue -------------------------------------------------------------------------------


@command("issue", aliases=("suco",), roles=ISSUE_ROLES, parse=parse_issue)
async def issue(ctx: Context, args: IssueArgs) -> list[Intent]:
    """Record the incident, start its clock and call in the department concerned."""
    assert ctx.group is not None
    incident = await _open(ctx, args)
    people = await staff_for(ctx.db, DEPARTMENTS[args.type])
    inside = await common.present(ctx.db, group_id=incident.group_id)
    here = [p for p in people if p in inside]
    away = [p for p in people if p not in inside]
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="incident.opened",
        group_id=incident.group_id,
        incident_id=incident.id,
        type=incident.type,
        attachments=len(incident.attachments),
        mentioned=here,
        told_directly=away,
    )
    names = {s.zalo_user_id: s.name for s in await repo.list_staff(ctx.db)}
    summary = _summary(incident)
    notice = {
        **summary,
        "group_name": await group_label(ctx.db, incident.group_id),
        "opener_name": names.get(ctx.sender_id, ctx.sender_id),
    }
    return [
        ctx.reply("incident_opened", **summary, mentions=here, absent=[names[a] for a in away]),
        *(SendUser(user, "incident_notice", notice) for user in away),
    ]


async def _open(ctx: Context, args: IssueArgs) -> Incident:
    assert ctx.group is not None
    calendar = ctx.calendars.for_group(ctx.group)
    resolution = ctx.settings.duration("incident_resolution")
    deadline = calendar.add(ctx.now, resolution)
    incident = Incident(
        group_id=ctx.group.group_id,
        type=args.type,
        description=args.description,
        attachments=await _customer_files(ctx.db, group_id=ctx.group.group_id, now=ctx.now),
        status="open",
        opened_by=ctx.sender_id,
        opened_at=ctx.now,
        deadline=deadline,
        escalate_at=calendar.add(ctx.now, 2 * resolution),
        next_due_at=deadline,
        respond_by=calendar.add(ctx.now, ctx.settings.duration("incident_first_response")),
    )
    ctx.db.add(incident)
    await ctx.db.flush()
    return incident


async def _customer_files(
    db: AsyncSession, *, group_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Photos and files the customer side sent since the group's last incident (at most 24 h)."""
    last = select(func.max(Incident.opened_at)).where(Incident.group_id == group_id)
    last_opened = (await db.exec(last)).one()
    since = max(now - FILES_LOOKBACK, last_opened or now - FILES_LOOKBACK)
    query = (
        select(Message)
        .where(
            Message.group_id == group_id,
            Message.sender_kind == "customer",
            col(Message.sent_at) > since,
        )
        .order_by(col(Message.sent_at), col(Message.id))
        .limit(MAX_FILES_SCANNED)
    )
    return [
        {**item, "msg_id": m.msg_id, "user_id": m.user_id}
        for m in (await db.exec(query)).all()
        for item in m.attachments or []
    ]


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "type": incident.type,
        "description": incident.description,
        "attachments": len(incident.attachments),
        "departments": list(DEPARTMENTS[incident.type]),
        "deadline": incident.deadline,
    }


# --- /progress, /resolve, /incidents -------------------------------------------------------


async def _find(ctx: Context, incident_id: int) -> tuple[Incident | None, list[Intent]]:
    """The group's incident, or the reply saying why it cannot be changed."""
    assert ctx.group is not None
    incident = await ctx.db.get(Incident, incident_id)
    who = {"user_id": ctx.sender_id, "id": incident_id}
    if incident is None or incident.group_id != ctx.group.group_id:
        return None, [ctx.reply("incident_not_found", **who)]
    if incident.resolved_at is not None:
        return None, [
            ctx.reply("incident_already_resolved", **who, resolved_at=incident.resolved_at)
        ]
    return incident, []


@command("progress", aliases=("dangxuly",), parse=parse_progress)
async def progress(ctx: Context, args: IncidentNote) -> list[Intent]:
    """Mark an incident as being handled; its deadline keeps running."""
    incident, refusal = await _find(ctx, args.id)
    if incident is None:
        return refusal
    incident.status = "in_progress"
    ctx.db.add(incident)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="incident.progress",
        group_id=incident.group_id,
        incident_id=incident.id,
        note=args.note,
    )
    return [ctx.reply("incident_progress", id=incident.id, type=incident.type, note=args.note)]


@command("resolve", aliases=("xuly",), parse=parse_resolve)
async def resolve(ctx: Context, args: IncidentNote) -> list[Intent]:
    """Close an incident with what was done; its clock stops."""
    incident, refusal = await _find(ctx, args.id)
    if incident is None:
        return refusal
    incident.status, incident.resolution_note = "resolved", args.note
    incident.resolved_by, incident.resolved_at, incident.next_due_at = ctx.sender_id, ctx.now, None
    ctx.db.add(incident)
    taken = ctx.calendars.for_group(ctx.group).between(incident.opened_at, ctx.now)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="incident.resolved",
        group_id=incident.group_id,
        incident_id=incident.id,
        note=args.note,
        working_seconds=int(taken.total_seconds()),
        late=ctx.now > incident.deadline,
    )
    return [ctx.reply("incident_resolved", id=incident.id, type=incident.type, note=args.note)]


@command("incidents", aliases=("dssuco",))
async def incidents(ctx: Context, _args: None) -> list[Intent]:
    """The group's unresolved incidents, oldest first."""
    assert ctx.group is not None
    query = select(Incident).where(
        Incident.group_id == ctx.group.group_id, col(Incident.resolved_at).is_(None)
    )
    rows = (await ctx.db.exec(query.order_by(col(Incident.id)))).all()
    listed = [
        {
            "id": i.id,
            "type": i.type,
            "status": i.status,
            "description": i.description,
            "opened_at": i.opened_at,
            "deadline": i.deadline,
            "overdue": i.deadline <= ctx.now,
        }
        for i in rows
    ]
    return [ctx.reply("incident_list", incidents=listed)]
