"""Membership and group state read from Zalo (issue #16, section 3).

Lifecycle events may be missing or shaped otherwise, so the bot does not rely on them alone:
when it first sees a group, once a day for every group, and on /sync (/dongbo), it reads the
group's members (listmember, every page) and its info (getgroup) and reconciles. People on
Zalo's list are members; members the bot knew who are not on it any more are marked left; the
group's name is kept. Invites go only to staff who are not members on Zalo (the outbox asks
right before inviting). A group that is disabled, or whose GMF package ends within
EXPIRY_NOTICE, is reported to the admins once.

The reading is queued like a message (a SyncGroup intent, an outbox row of kind "sync"), so a
group's invites after it go out once its members are known, and a Zalo outage only delays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import alert_heads, ids_with_role
from bot.core.intents import Intent
from bot.zalo.events import as_object
from config.settings import Settings
from storage import repo
from storage.models import Group, GroupMember, ScheduledRun

if TYPE_CHECKING:
    from bot.zalo.client import ZaloClient

EXPIRY_NOTICE = timedelta(days=14)


@dataclass(frozen=True)
class GroupState:
    """What Zalo says of a group."""

    members: frozenset[str]
    name: str | None = None
    status: str | None = None  # enabled | disabled
    valid_through: datetime | None = None  # the GMF package's end

    def problem(self, now: datetime) -> str | None:
        """'disabled' or 'expiring' when the admins should hear of it, else None."""
        if (self.status or "").lower() == "disabled":
            return "disabled"
        if self.valid_through is not None and self.valid_through - now <= EXPIRY_NOTICE:
            return "expiring"
        return None


def _moment(value: Any) -> datetime | None:
    """A Zalo time: epoch milliseconds or seconds (number or digits), or an ISO date."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdecimal()):
        number = int(value)
        seconds = number / 1000 if number > 10**11 else number
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def state_from(members: list[dict[str, Any]], info: dict[str, Any]) -> GroupState:
    """A GroupState from listmember's members and getgroup's data (shapes in zalo-api.md)."""
    ids = {str(m.get("user_id") or m.get("oa_id") or m.get("id") or "") for m in members}
    group_info, asset = as_object(info.get("group_info")), as_object(info.get("asset_info"))
    name = group_info.get("name") or group_info.get("group_name")
    return GroupState(
        members=frozenset(ids - {""}),
        name=str(name)[:200] if name else None,
        status=str(group_info.get("status")) if group_info.get("status") else None,
        valid_through=_moment(asset.get("valid_through")),
    )


async def read_state(client: ZaloClient, group_id: str) -> GroupState:
    """The group's members (every page) and info, from Zalo."""
    members = await client.list_members(group_id)
    info = await client.get_group(group_id)
    return state_from(members, info)


async def reconcile(
    db: AsyncSession, group_id: str, state: GroupState, now: datetime
) -> dict[str, int]:
    """Make the bot's membership of the group what Zalo says; keep its name. The counts."""
    group = await db.get(Group, group_id)
    if group is not None and state.name and group.name != state.name:
        group.name, group.updated_at = state.name, now
        db.add(group)
    rows = (await db.exec(select(GroupMember).where(GroupMember.group_id == group_id))).all()
    known = {row.user_id: row for row in rows}
    joined = left = 0
    for user_id in sorted(state.members):
        row = known.get(user_id)
        if row is None or row.left_at is not None:
            joined += 1
            await repo.mark_member(db, group_id=group_id, user_id=user_id, now=now, member=row)
    for user_id, row in known.items():
        if user_id not in state.members and row.left_at is None:
            left += 1
            await repo.mark_member(
                db, group_id=group_id, user_id=user_id, now=now, present=False, member=row
            )
    return {"members": len(state.members), "joined": joined, "left": left}


async def report(
    db: AsyncSession, settings: Settings, group_id: str, state: GroupState, now: datetime
) -> list[Intent]:
    """Tell the admins once that the group is disabled or its package ends soon."""
    problem = state.problem(now)
    if problem is None:
        return []
    period = f"{group_id}:{problem}:{state.valid_through.date() if state.valid_through else ''}"
    if not await repo.insert_once(
        db, ScheduledRun, unique=["job", "period"], job="gmf.report", period=period[:100],
        claimed_at=now,
    ):  # fmt: skip
        return []
    group = await db.get(Group, group_id)
    admins = await ids_with_role(db, "admin") or await ids_with_role(db, "sales_head")
    context = {
        "group_id": group_id,
        "group_name": (group.name if group else None) or state.name or group_id,
        "problem": problem,
        "valid_through": state.valid_through,
    }
    return alert_heads(settings, admins, "group_state", context)
