"""Groups and their members: the one query a group message needs (sender_in_group), membership
marks, roles present in a group."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    exists,
    insert,
    literal,
    literal_column,
)
from sqlalchemy.dialects import postgresql
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast import hot
from storage.fast.hot import dialect_of
from storage.models import (
    Group,
    GroupMember,
    Message,
    SlaClock,
    Staff,
)
from storage.repo.messages import MESSAGE_COLUMNS


async def get_group(db: AsyncSession, *, group_id: str) -> Group | None:
    return await db.get(Group, group_id)


async def ensure_group(db: AsyncSession, *, group_id: str, now: datetime) -> tuple[Group, bool]:
    """The group row, created on first sight; the flag says whether it is new."""
    group = await db.get(Group, group_id)
    if group:
        return group, False
    return await add_group(db, group_id=group_id, now=now), True


UNREAD: Any = object()  # mark_member's `member` when the caller has not read the row


_INSERT_MEMBER = insert(GroupMember.__table__)  # type: ignore[attr-defined]


async def mark_member(
    db: AsyncSession,
    *,
    group_id: str,
    user_id: str,
    now: datetime,
    present: bool = True,
    member: GroupMember | None = UNREAD,
) -> None:
    """Record that `user_id` is (or no longer is) in the group.

    `member`: the row as the caller just read it in this session (None: there is none), which
    spares reading it again.
    """
    if member is UNREAD:
        member = await db.get(GroupMember, (group_id, user_id))
    if member is None:
        if present:  # a Core INSERT: no ORM object, no unit-of-work flush
            row = {"group_id": group_id, "user_id": user_id, "joined_at": now, "left_at": None}
            await hot.execute(db, _INSERT_MEMBER, row)
        return
    if present and member.left_at is not None:
        member.joined_at, member.left_at = now, None
    elif not present and member.left_at is None:
        member.left_at = now
    else:
        return  # nothing changes (the row is in the session already)
    db.add(member)


class SenderInGroup(NamedTuple):
    group: Group | None
    member: GroupMember | None  # the sender's membership row
    staff: Staff | None  # the sender's staff row
    open_clock: SlaClock | None  # the group's open SLA clock


@functools.cache
def _sender_in_group() -> Any:
    """Each row of SenderInGroup or NULLs: one SELECT, LEFT JOINs to a one-row derived table,
    each on a primary key or unique index, so it always returns exactly one row."""
    one = select(literal_column("1").label("one")).subquery("one")
    group_id, user_id = bindparam("group_id", type_=String()), bindparam("user_id", type_=String())
    return (
        select(Group, GroupMember, Staff, SlaClock)
        .select_from(one)
        .outerjoin(Group, col(Group.group_id) == group_id)
        .outerjoin(
            GroupMember,
            and_(col(GroupMember.group_id) == group_id, col(GroupMember.user_id) == user_id),
        )
        .outerjoin(Staff, col(Staff.zalo_user_id) == user_id)
        .outerjoin(  # ux_sla_clocks_open_group: at most one
            SlaClock, and_(col(SlaClock.group_id) == group_id, col(SlaClock.closed_at).is_(None))
        )
    )


@functools.cache
def _sender_in_group_recording() -> Any:
    """PostgreSQL: _sender_in_group() that also stores the incoming message's transcript row
    (`insert_message`'s INSERT … ON CONFLICT DO NOTHING) in the same round trip, as a
    data-modifying CTE. Its SELECT reads the tables as they were before the INSERT, which
    touches none of them. sender_kind is what Context.is_staff says: an active staff row."""
    table = Message.__table__  # type: ignore[attr-defined]
    user_id = bindparam("user_id", type_=String())
    is_staff = exists().where(col(Staff.zalo_user_id) == user_id, col(Staff.active).is_(True))
    values = {
        **{key: bindparam(key, type_=table.c[key].type) for key in MESSAGE_COLUMNS},
        "user_id": user_id,
        "direction": literal("in", type_=table.c.direction.type),
        "sender_kind": case((is_staff, "staff"), else_="customer"),
    }
    transcript = (
        postgresql.insert(table)
        .from_select(list(values), select(*values.values()))
        .on_conflict_do_nothing(index_elements=["msg_id"])
    )
    return _sender_in_group().add_cte(transcript.cte("transcript"))


async def sender_in_group(
    db: AsyncSession,
    *,
    group_id: str,
    user_id: str,
    transcript: dict[str, Any] | None = None,
) -> tuple[SenderInGroup, bool]:
    """What `db.get` of the Group, the sender's GroupMember and Staff row, and the query for
    the group's open SLA clock would return, in one round trip instead of four: an ordinary
    group message needs them all.

    `transcript`: the incoming message's column values for `insert_message` (without
    direction and sender_kind, which are "in" and what the staff row says). On PostgreSQL it
    is stored by the same statement, and the flag returned says so; elsewhere the caller
    stores it.
    """
    params = {"group_id": group_id, "user_id": user_id}
    if transcript is None or dialect_of(db) != "postgresql":
        result = await db.exec(_sender_in_group(), params=params)
        return SenderInGroup(*result.one()), False
    await db.flush()  # as insert_message does: pending ORM changes go first
    transcript = {"attachments": [], **transcript, **params}
    result = await db.exec(_sender_in_group_recording(), params=transcript)
    return SenderInGroup(*result.one()), True


async def add_group(db: AsyncSession, *, group_id: str, now: datetime) -> Group:
    """Create the group row (the caller knows there is none)."""
    group = Group(group_id=group_id, created_at=now, updated_at=now)
    db.add(group)
    await db.flush()
    return group


async def role_in_group(db: AsyncSession, *, role: str, group_id: str) -> list[tuple[str, bool]]:
    """(Zalo id, in the group now) of each active staff member with `role`, in list_staff's
    order: list_staff(role=…) and group_members in one query."""
    present = and_(
        col(GroupMember.group_id) == group_id,
        col(GroupMember.user_id) == col(Staff.zalo_user_id),
        col(GroupMember.left_at).is_(None),
    )
    query = (
        select(Staff.zalo_user_id, GroupMember.user_id)
        .outerjoin(GroupMember, present)
        .where(col(Staff.active).is_(True), Staff.role == role)
        .order_by(col(Staff.role), col(Staff.name))
    )
    return [(user_id, member is not None) for user_id, member in (await db.exec(query)).all()]


async def group_members(db: AsyncSession, *, group_id: str) -> list[GroupMember]:
    query = select(GroupMember).where(
        GroupMember.group_id == group_id, col(GroupMember.left_at).is_(None)
    )
    return list((await db.exec(query.order_by(col(GroupMember.joined_at)))).all())
