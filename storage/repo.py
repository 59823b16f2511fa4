"""Repository functions: the only place that builds queries. Keyword-only arguments."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    literal_column,
    update,
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
    Group,
    GroupMember,
    Interaction,
    LoginToken,
    Message,
    OutboxMessage,
    SlaClock,
    Staff,
)

# --- groups and members -----------------------------------------------------------------


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
        **{key: bindparam(key, type_=table.c[key].type) for key in _MESSAGE_COLUMNS},
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


# --- staff ------------------------------------------------------------------------------


async def get_staff(db: AsyncSession, *, user_id: str) -> Staff | None:
    return await db.get(Staff, user_id)


async def list_staff(db: AsyncSession, *, role: str | None = None) -> list[Staff]:
    query = select(Staff).where(col(Staff.active).is_(True))
    if role:
        query = query.where(Staff.role == role)
    return list((await db.exec(query.order_by(col(Staff.role), col(Staff.name)))).all())


async def find_staff(
    db: AsyncSession, *, ref: str, fold: Callable[[str], str] = str.casefold
) -> Staff | None:
    """A staff member by Zalo user id, or by a unique name compared through `fold` (the bot
    passes bot.core.text.fold, so "tran thi binh" finds "Trần Thị Bình")."""
    found = await db.get(Staff, ref.lstrip("@"))
    if found:
        return found
    wanted = fold(ref.lstrip("@")).strip()
    matches = [s for s in await list_staff(db) if fold(s.name) == wanted]
    return matches[0] if len(matches) == 1 else None


async def put_staff(
    db: AsyncSession, *, user_id: str, name: str, role: str, source: str, now: datetime
) -> Staff:
    staff = await db.get(Staff, user_id) or Staff(zalo_user_id=user_id, name=name, role=role)
    staff.name, staff.role, staff.active, staff.source, staff.updated_at = (
        name,
        role,
        True,
        source,
        now,
    )
    db.add(staff)
    await db.flush()
    return staff


async def deactivate_staff(db: AsyncSession, *, user_id: str, source: str, now: datetime) -> bool:
    staff = await db.get(Staff, user_id)
    if not staff or not staff.active:
        return False
    staff.active, staff.source, staff.updated_at = False, source, now
    staff.session_version += 1  # their dashboard cookies end now, and stay ended if reactivated
    db.add(staff)
    return True


async def end_sessions(db: AsyncSession, *, user_id: str) -> None:
    """Every dashboard cookie issued to `user_id` so far stops working (signing out)."""
    staff = await db.get(Staff, user_id)
    if staff is not None:
        staff.session_version += 1
        db.add(staff)


async def sync_staff_file(
    db: AsyncSession, *, rows: list[dict[str, str]], now: datetime
) -> dict[str, int]:
    """Apply the staff file: add and update its people, deactivate file people it dropped.

    People changed from the chat (source 'chat') keep their chat values.
    """
    existing = {s.zalo_user_id: s for s in (await db.exec(select(Staff))).all()}
    counts = {"added": 0, "updated": 0, "removed": 0}
    in_file = set()
    for row in rows:
        in_file.add(row["zalo_user_id"])
        current = existing.get(row["zalo_user_id"])
        if current is not None and current.source == "chat":
            continue
        if current is None or (current.name, current.role, current.active) != (
            row["name"],
            row["role"],
            True,
        ):
            counts["added" if current is None else "updated"] += 1
            await put_staff(
                db,
                user_id=row["zalo_user_id"],
                name=row["name"],
                role=row["role"],
                source="file",
                now=now,
            )
    for user_id, staff in existing.items():
        if staff.source == "file" and staff.active and user_id not in in_file:
            await deactivate_staff(db, user_id=user_id, source="file", now=now)
            counts["removed"] += 1
    return counts


# --- transcript, commands, interactions, audit ------------------------------------------


_MESSAGE_COLUMNS = tuple(c.key for c in Message.__table__.columns if c.key != "id")  # type: ignore[attr-defined]


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
    return await insert_message(db, **{key: getattr(message, key) for key in _MESSAGE_COLUMNS})


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


# --- customers --------------------------------------------------------------------------


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


async def dm_receivers(db: AsyncSession, *, roles: tuple[str, ...]) -> list[str]:
    """Active staff holding any of `roles` whom Zalo has not refused 1:1 messages for good."""
    query = select(Staff.zalo_user_id).where(
        col(Staff.active).is_(True),
        col(Staff.role).in_(roles),
        col(Staff.dm_blocked_code).is_(None),
    )
    return list((await db.exec(query.order_by(col(Staff.zalo_user_id)))).all())


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


# --- dashboard sign-in: staff directory, passwords, one-time links ------------------------


async def all_staff(db: AsyncSession) -> list[Staff]:
    """Every staff row, active first, then by role and name (the directory page)."""
    query = select(Staff).order_by(col(Staff.active).desc(), col(Staff.role), col(Staff.name))
    return list((await db.exec(query)).all())


async def find_staff_by_username(db: AsyncSession, *, username: str) -> Staff | None:
    return (await db.exec(select(Staff).where(Staff.username == username))).first()


async def set_staff_password(
    db: AsyncSession,
    *,
    user_id: str,
    username: str | None,
    password_hash: str | None,
    now: datetime,
) -> Staff | None:
    """Set (or with None, remove) a staff member's username and password hash."""
    staff = await db.get(Staff, user_id)
    if staff is None:
        return None
    staff.username, staff.password_hash, staff.updated_at = username, password_hash, now
    db.add(staff)
    await db.flush()
    return staff


async def add_login_token(
    db: AsyncSession, *, user_id: str, token_hash: str, now: datetime, expires_at: datetime
) -> LoginToken:
    token = LoginToken(
        token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
    )
    db.add(token)
    await db.flush()
    return token


async def usable_login_token(
    db: AsyncSession, *, token_hash: str, now: datetime
) -> LoginToken | None:
    """The unused, unexpired token with this hash, without using it (link previews GET it)."""
    query = select(LoginToken).where(
        LoginToken.token_hash == token_hash,
        col(LoginToken.used_at).is_(None),
        col(LoginToken.expires_at) > now,
    )
    return (await db.exec(query)).first()


async def use_login_token(db: AsyncSession, *, token_hash: str, now: datetime) -> str | None:
    """Mark the token used and return its staff id; None if unknown, used or expired.

    One conditional UPDATE: of two clicks or two processes, exactly one gets the row.
    """
    statement = (
        update(LoginToken)
        .where(
            col(LoginToken.token_hash) == token_hash,
            col(LoginToken.used_at).is_(None),
            col(LoginToken.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(LoginToken.user_id))
    )
    connection = await db.connection()
    return (await connection.execute(statement)).scalar_one_or_none()
