"""Incidents: customer problems reach the department concerned at once, and never go stale.

Policy (regulation 3.2, 3.3):
- A customer's message in a customer group that clearly raises a problem (wrong, missing or
  damaged goods, late delivery, a payment matter, a complaint) alerts the department concerned
  at once, without waiting for a command: 1:1 to each of its staff, or one message into
  ZALO_ALERT_GROUP_ID when set. The same kind of problem in the same group alerts once per
  QUIET window, so a customer writing five angry lines does not page the warehouse five times.
- An incident recorded with /issue must be answered in the group by its department within
  INCIDENT_FIRST_RESPONSE working time (the first message of one of its staff there), else
  the heads and the department are alerted once;
  and it must be resolved within INCIDENT_RESOLUTION working time:
  past the deadline the heads are alerted once (breach); past twice that, once more, with the
  admins (escalation). Both steps are conditional UPDATEs, so two processes never alert twice.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import audience as common
from bot.core.intents import Intent, SendGroup, SendUser
from bot.core.text import fold
from bot.zalo.events import Kind
from storage import repo
from storage.models import AuditEntry, Group, Incident

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.dispatch import Deps

TYPES = (
    "wrong_item",
    "missing_item",
    "damaged",
    "late_delivery",
    "payment",
    "complaint",
    "other",
)
# Who handles each type of incident (staff roles).
DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "wrong_item": ("warehouse",),
    "missing_item": ("warehouse",),
    "damaged": ("warehouse",),
    "late_delivery": ("shipping",),
    "payment": ("accountant",),
    "complaint": ("sales_head",),
    "other": ("sales_head",),
}
HEAD_ROLES = ("sales_head",)
ESCALATION_ROLES = ("sales_head", "admin")
QUIET = timedelta(minutes=30)
MAX_QUOTE = 500

# Matched on fold()-ed text (no diacritics). Ambiguous folded words (hong = hỏng/hồng,
# vo = vỡ/vợ/vô, loi = lỗi in "xin lỗi") only count with a word that fixes their meaning.
_FOLDED: dict[str, str] = {
    "wrong_item": (
        r"\b(?:giao|gui|ship|dong|xuat|lay) (?:hang )?(?:sai|nham|lon)\b"
        r"|\b(?:sai|nham|lon) (?:hang|mau|loai|ma hang|san pham|size|kich thuoc)\b"
        r"|\bkhong dung (?:hang|loai|mau|san pham)\b"
    ),
    "missing_item": (
        r"\bthieu (?:hang|\d+|mat \d+|so luong|san pham|sp)\b"
        r"|\b(?:giao|gui|ship|dong|nhan) (?:hang )?(?:bi )?thieu\b"
        r"|\bbi thieu\b|\bkhong du (?:hang|so luong|sl)\b"
    ),
    "damaged": (
        r"\b(?:bi|hang) (?:hong|vo|be|mop|meo|rach|moc|loi|hu|dap|chay nuoc)\b"
        r"|\bhu hong\b|(?<!xin )\bloi (?:san pham|sp)\b"
        r"|\bkhong (?:hoat dong|su dung duoc|dung duoc)\b"
    ),
    "late_delivery": (
        r"\bgiao (?:hang )?(?:cham|tre|muon|lau qua)\b|\b(?:cham|tre) (?:giao|hang|hen)\b"
        r"|\bchua (?:nhan|thay|toi|den|ve|co)(?: duoc)? hang\b"
        r"|\bhang (?:van )?chua (?:ve|toi|den|giao|nhan duoc)\b"
        r"|\bchua (?:duoc )?giao\b|\b(?:qua|lo) hen\b"
    ),
    "payment": (
        r"\bchuyen khoan\b|\bcong no\b|\bhoa don\b|\bthanh toan\b|\bxuat hd\b"
        r"|\b(?:da|vua) ck\b|\bck (?:roi|xong)\b|\bso tai khoan\b|\bstk\b"
    ),
    "complaint": (
        r"\bkhieu nai\b|\bphan nan\b|\bkhong hai long\b|\bthat vong\b|\bbuc (?:xuc|minh)\b"
        r"|\blam an (?:kieu|the) (?:gi|nao)\b|\bte qua\b"
    ),
}
# Matched on the text as typed (lower-case, with diacritics), where the word is unambiguous.
_ACCENTED: dict[str, str] = {
    "damaged": r"\b(?:hỏng|vỡ|móp|méo|rách|hư)\b",
}
_PATTERNS = {
    kind: (
        re.compile(_FOLDED[kind]) if kind in _FOLDED else None,
        re.compile(_ACCENTED[kind]) if kind in _ACCENTED else None,
    )
    for kind in TYPES
}


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


@functools.lru_cache(maxsize=1024)
def detect_all(text: str | None) -> tuple[str, ...]:
    """Every incident type a customer's text clearly raises, most specific first."""
    if not text:
        return ()
    typed = _normal(text)
    folded = " ".join(fold(typed).split())
    found = []
    for kind, (on_folded, on_typed) in _PATTERNS.items():
        if (on_folded and on_folded.search(folded)) or (on_typed and on_typed.search(typed)):
            found.append(kind)
    return tuple(found)


def detect(text: str | None) -> str | None:
    """The incident type a customer's text raises (goods problems before complaints), or None."""
    found = detect_all(text)
    return found[0] if found else None


def departments_for(types: tuple[str, ...] | list[str]) -> list[str]:
    """The staff roles concerned by these incident types, in order, without repeats."""
    return list(dict.fromkeys(role for t in types for role in DEPARTMENTS[t]))


async def staff_for(db: AsyncSession, roles: list[str] | tuple[str, ...]) -> list[str]:
    """Active staff holding `roles`; the sales heads (then admins) when nobody does."""
    people = await common.ids_with_role(db, *roles)
    people = people or await common.ids_with_role(db, *HEAD_ROLES)
    people = people or await common.ids_with_role(db, "admin")
    return list(dict.fromkeys(people))


# --- on_event: a customer raises a problem -----------------------------------------------


async def on_event(ctx: Context) -> list[Intent]:
    """Alert the departments concerned when a customer's message raises a problem; a
    department's message answers the group's incidents waiting for it."""
    event = ctx.event
    if event.kind is not Kind.GROUP_MESSAGE:
        return []
    if ctx.is_staff:
        await _answered(ctx)
        return []
    if not common.is_customer_group(ctx.settings, event.group_id):
        return []
    types = await _not_alerted_lately(ctx, detect_all(event.text))
    if not types:
        return []
    assert event.group_id is not None
    roles = departments_for(types)
    recipients = await staff_for(ctx.db, roles)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="incident.detected",
        group_id=event.group_id,
        types=list(types),
        departments=roles,
        notified=recipients,
        msg_id=event.msg_id,
        text=(event.text or "")[:MAX_QUOTE],
    )
    context = {
        "types": list(types),
        "departments": roles,
        "recipients": recipients,
        "text": (event.text or "")[:MAX_QUOTE],
        "group_name": await common.group_label(ctx.db, event.group_id),
        "group_id": event.group_id,
    }
    return _to_department(ctx.settings.zalo_alert_group_id, recipients, context)


def _to_department(
    alert_group: str, recipients: list[str], context: dict[str, Any]
) -> list[Intent]:
    if alert_group:
        return [SendGroup(alert_group, "incident_detected", {**context, "in_group": True})]
    return [
        SendUser(user, "incident_detected", {**context, "in_group": False}) for user in recipients
    ]


async def _not_alerted_lately(ctx: Context, types: tuple[str, ...]) -> tuple[str, ...]:
    """Drop the types already alerted for this group within the QUIET window."""
    if not types:
        return ()
    query = select(AuditEntry).where(
        AuditEntry.action == "incident.detected",
        AuditEntry.group_id == ctx.event.group_id,
        col(AuditEntry.at) >= ctx.now - QUIET,
    )
    recent = {t for entry in (await ctx.db.exec(query)).all() for t in entry.detail["types"]}
    return tuple(t for t in types if t not in recent)


async def _answered(ctx: Context) -> None:
    """The sender's department has answered the group's open incidents it was waiting for."""
    types = [t for t, roles in DEPARTMENTS.items() if ctx.role in roles]
    if not types:
        return
    await ctx.db.exec(
        update(Incident)
        .where(
            col(Incident.group_id) == ctx.event.group_id,
            col(Incident.type).in_(types),
            col(Incident.respond_by).is_not(None),
            col(Incident.responded_at).is_(None),
            col(Incident.resolved_at).is_(None),
        )
        .values(responded_at=ctx.now, responded_by=ctx.sender_id)
        .execution_options(synchronize_session=False)
    )


# --- sweep: deadlines ---------------------------------------------------------------------


def _due_incidents(now: datetime) -> tuple[Any, ...]:
    """Unresolved incidents with a step due at `now` (ix_incidents_due)."""
    return (col(Incident.next_due_at) <= now, col(Incident.resolved_at).is_(None))


def _unanswered(now: datetime) -> tuple[Any, ...]:
    """Unresolved incidents whose department has not answered by respond_by, not alerted yet."""
    return (
        col(Incident.respond_by) <= now,
        col(Incident.responded_at).is_(None),
        col(Incident.response_alerted_at).is_(None),
        col(Incident.resolved_at).is_(None),
    )


async def due(db: AsyncSession, now: datetime, deps: Deps) -> bool:
    """Whether `sweep` has an alert to send at `now` (read-only: runtime's probe)."""
    return await common.any_row(
        db, select(Incident.id).where(*_due_incidents(now))
    ) or await common.any_row(db, select(Incident.id).where(*_unanswered(now)))


async def sweep(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Unanswered, breach and escalation alerts for unresolved incidents whose times have
    come."""
    intents: list[Intent] = []
    late = select(Incident).where(*_unanswered(now)).order_by(col(Incident.id)).limit(200)
    for incident in (await db.exec(late)).all():
        alerted = {"response_alerted_at": now}
        if await repo.claim_step(
            db, Incident, incident.id, alerted, *_unanswered(now), synchronize=False
        ):
            intents += await _unanswered_alert(db, incident, now, deps)
    query = select(Incident).where(*_due_incidents(now))
    for incident in (await db.exec(query.order_by(col(Incident.id)))).all():
        if incident.deadline <= now and await _step(db, incident, "breached_at", now):
            intents += await _alert(db, incident, "breach", now, deps)
        if incident.escalate_at <= now and await _step(db, incident, "escalated_at", now):
            intents += await _alert(db, incident, "escalation", now, deps)
    return intents


async def _step(db: AsyncSession, incident: Incident, column: str, now: datetime) -> bool:
    """Mark one step done unless another process did it first; True when this call did."""
    next_due = incident.escalate_at if column == "breached_at" else None
    still = (col(getattr(Incident, column)).is_(None), col(Incident.resolved_at).is_(None))
    values = {column: now, "next_due_at": next_due}
    return await repo.claim_step(db, Incident, incident.id, values, *still, synchronize=False)


async def _alert(
    db: AsyncSession, incident: Incident, step: str, now: datetime, deps: Deps
) -> list[Intent]:
    roles = HEAD_ROLES if step == "breach" else ESCALATION_ROLES
    heads = list(dict.fromkeys(await common.ids_with_role(db, *roles)))
    heads = heads or await common.ids_with_role(db, "admin")
    await repo.audit(
        db,
        at=now,
        actor_id="bot",
        action=f"incident.{'breached' if step == 'breach' else 'escalated'}",
        group_id=incident.group_id,
        incident_id=incident.id,
        type=incident.type,
        alerted=heads,
    )
    context = {
        "id": incident.id,
        "type": incident.type,
        "status": incident.status,
        "description": incident.description,
        "departments": list(DEPARTMENTS.get(incident.type, HEAD_ROLES)),
        "group_name": await common.group_label(db, incident.group_id),
        "opened_at": incident.opened_at,
        "deadline": incident.deadline,
        "in_group": bool(deps.settings.zalo_alert_group_id),
    }
    return common.alert_heads(deps.settings, heads, f"incident_{step}", context)


async def _unanswered_alert(
    db: AsyncSession, incident: Incident, now: datetime, deps: Deps
) -> list[Intent]:
    departments = list(DEPARTMENTS.get(incident.type, HEAD_ROLES))
    people = list(dict.fromkeys(await common.ids_with_role(db, *HEAD_ROLES, *departments)))
    people = people or await common.ids_with_role(db, "admin")
    await repo.audit(
        db, at=now, actor_id="bot", action="incident.unanswered", group_id=incident.group_id,
        incident_id=incident.id, type=incident.type, alerted=people,
    )  # fmt: skip
    context = {
        "id": incident.id,
        "type": incident.type,
        "description": incident.description,
        "departments": departments,
        "group_name": await common.group_label(db, incident.group_id),
        "opened_at": incident.opened_at,
        "respond_by": incident.respond_by,
        "in_group": bool(deps.settings.zalo_alert_group_id),
    }
    return common.alert_heads(deps.settings, people, "incident_unanswered", context)


# --- the integration API --------------------------------------------------------------------


async def api_section(db: AsyncSession, group: Group) -> dict[str, Any]:
    """The group's incidents for GET /api/groups/{group_id}, oldest first."""
    query = select(Incident).where(Incident.group_id == group.group_id)
    rows = (await db.exec(query.order_by(col(Incident.opened_at), col(Incident.id)))).all()
    return {
        "incidents": [
            {
                "id": i.id,
                "type": i.type,
                "status": i.status,
                "opened_at": i.opened_at.isoformat(),
                "deadline": i.deadline.isoformat(),
                "respond_by": i.respond_by.isoformat() if i.respond_by else None,
                "responded_at": i.responded_at.isoformat() if i.responded_at else None,
                "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
            }
            for i in rows
        ]
    }
